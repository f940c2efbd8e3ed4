{{ config(materialized="view") }}

{#-
    One review label per row, with its batch (the drop it came in) and its item's reason: what
    the agreement gate (the Python asset `review_agreement`) measures and `item_agreement` counts.
    Labels of gold items (their answer is known: they only measure the reviewer) and every label
    of a reviewer `reviewer_quality` leaves out of the batch are not here, so neither becomes
    agreement, a review pair or a training row.
-#}
with labels as (

    select * from {{ source('raw_review', 'review_labels') }}

),

items as (

    select item_id, reason from {{ source('review', 'review_items') }}

),

gold_answers as (

    select item_id from {{ source('review', 'gold_answers') }}

),

reviewer_quality as (

    select * from {{ ref('reviewer_quality') }}

),

excluded_reviewers as (

    select batch, reviewer_id from reviewer_quality
    where is_excluded

),

kept_labels as (

    select labels.*
    from labels
    left join gold_answers on labels.item_id = gold_answers.item_id
    left join excluded_reviewers
        on labels.source_file = excluded_reviewers.batch
            and labels.reviewer_id = excluded_reviewers.reviewer_id
    where gold_answers.item_id is null and excluded_reviewers.reviewer_id is null

),

final as (

    select
        labels.source_file as batch,
        labels.item_id,
        items.reason,
        labels.reviewer_id,
        labels.label,
        labels.corrected_text,
        labels.labeled_at,
        labels.ingested_at
    from kept_labels as labels
    inner join items on labels.item_id = items.item_id

)

select * from final
