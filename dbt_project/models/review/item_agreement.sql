{#-
    Per batch and item: how many reviews, the most common label and its share, and whether that
    is a clear majority (rules: the `review_agreement_rules` doc block).
-#}
with batch_labels as (

    select * from {{ ref('batch_labels') }}

),

label_votes as (

    select batch, item_id, reason, label, count(*) as votes
    from batch_labels
    group by batch, item_id, reason, label

),

item_reviews as (

    select
        *,
        sum(votes) over (partition by batch, item_id) as reviews
    from label_votes

),

-- the label with the most votes; of labels with as many votes, the first in alphabetical order
-- (then it has no more than half of the reviews, so no clear majority either way)
top_labels as (

    {{ first_per('item_reviews', 'batch, item_id', 'votes desc, label', '*') }}

),

final as (

    select
        batch,
        item_id,
        reason,
        cast(reviews as {{ dbt.type_int() }}) as reviews,
        label as majority_label,
        cast(votes as double) / reviews as majority_share,
        reviews >= 2 and cast(votes as double) / reviews > 0.5 as has_clear_majority
    from top_labels

)

select * from final
