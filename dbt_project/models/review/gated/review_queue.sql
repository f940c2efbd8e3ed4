{#-
    The open human review queue: the first `review_queue_max_items` places of
    `review_item_status`, with what a reviewer needs, and the gold items (`gold_items`) placed
    among them by a hash of their ids, so neither their columns nor their places tell them
    apart. The `review_queue` asset writes it as `review/queue.jsonl` and keeps its new items in
    `review.review_items`.
-#}
with candidates as (

    select * from {{ ref('fct_review_candidates') }}

),

item_status as (

    select * from {{ ref('review_item_status') }}

),

gold_items as (

    select * from {{ ref('gold_items') }}

),

queued as (

    select * from item_status
    where queue_position <= {{ var('review_queue_max_items') }}

),

real_items as (

    select
        cast(queued.queue_position as double) as place,
        candidates.item_id,
        candidates.reason,
        candidates.priority,
        candidates.user_segment,
        candidates.model_version,
        candidates.prompt,
        candidates.response_a,
        candidates.response_b,
        candidates.user_comment,
        candidates.generation_ids,
        candidates.source_event_ids,
        candidates.occurred_at
    from queued
    inner join candidates on queued.item_id = candidates.item_id

),

-- a gold item goes between two real places, spread over the queue by its id's hash
placed_gold_items as (

    select
        floor({{ prompt_bucket('item_id') }} * real_items / 100.0) + 0.5 as place,
        item_id,
        reason,
        priority,
        user_segment,
        model_version,
        prompt,
        response_a,
        response_b,
        user_comment,
        generation_ids,
        source_event_ids,
        occurred_at
    from gold_items

),

items as (

    select * from real_items
    union all
    select * from placed_gold_items

),

final as (

    select
        row_number() over (order by place, item_id) as queue_position,
        item_id,
        reason,
        priority,
        user_segment,
        model_version,
        prompt,
        response_a,
        response_b,
        user_comment,
        generation_ids,
        source_event_ids,
        occurred_at
    from items

)

select * from final
