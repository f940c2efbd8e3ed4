{#-
    Every item `fct_review_candidates` raises, whether it is reviewed, and its place in the open
    queue (rules: the `review_queue_rules` doc block). `review_queue` keeps the first
    `review_queue_max_items` places; the `review_queue` asset counts raised and reviewed items here.
-#}
with candidates as (

    select * from {{ ref('fct_review_candidates') }}

),

item_agreement as (

    select * from {{ ref('item_agreement') }}

),

agreement as (

    select * from {{ source('review', 'agreement') }}

),

opted_out as (

    select * from {{ ref('int_training_opt_outs') }}

),

usable_batches as (

    select batch from agreement
    where reason = 'all' and is_usable

),

-- one review decides nothing, and a batch that failed the agreement gate reviews nothing
reviewed_items as (

    select distinct item_agreement.item_id
    from item_agreement
    inner join usable_batches on item_agreement.batch = usable_batches.batch
    where item_agreement.reviews >= 2

),

flagged as (

    select
        candidates.item_id,
        candidates.user_segment,
        candidates.priority,
        candidates.occurred_at,
        reviewed_items.item_id is not null as is_reviewed,
        opted_out.user_key is not null as is_opted_out
    from candidates
    left join reviewed_items on candidates.item_id = reviewed_items.item_id
    left join opted_out on candidates.user_key = opted_out.user_key

),

open_items as (

    -- a user out of training data (opted out, or being erased) is not shown to reviewers
    select * from flagged
    where not is_reviewed and not is_opted_out

),

-- every segment's best items first, so small segments stay visible
quota_ranked as (

    select
        *,
        row_number() over (
            partition by user_segment order by priority desc, occurred_at desc, item_id asc
        ) <= {{ var('review_queue_per_segment_quota') }} as is_within_segment_quota
    from open_items

),

queue_ranked as (

    select
        item_id,
        is_within_segment_quota,
        row_number() over (
            order by is_within_segment_quota desc, priority desc, occurred_at desc, item_id asc
        ) as queue_position
    from quota_ranked

),

final as (

    select
        flagged.item_id,
        flagged.is_reviewed,
        queue_ranked.is_within_segment_quota,
        queue_ranked.queue_position
    from flagged
    left join queue_ranked on flagged.item_id = queue_ranked.item_id

)

select * from final
