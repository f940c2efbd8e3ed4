{{ config(materialized="view") }}

{#-
    One review label per row, with its batch (the drop it came in) and its item's reason: what
    the agreement gate (the Python asset `review_agreement`) measures and `item_agreement` counts.
-#}
with labels as (

    select * from {{ source('raw_review', 'review_labels') }}

),

items as (

    select item_id, reason from {{ source('review', 'review_items') }}

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
    from labels
    inner join items on labels.item_id = items.item_id

)

select * from final
