{#-
    The open human review queue: the first `review_queue_max_items` places of
    `review_item_status`, with what a reviewer needs. The `review_queue` asset writes it as
    `review/queue.jsonl` and keeps its new items in `review.review_items`.
-#}
with candidates as (

    select * from {{ ref('fct_review_candidates') }}

),

item_status as (

    select * from {{ ref('review_item_status') }}

),

queued as (

    select * from item_status
    where queue_position <= {{ var('review_queue_max_items') }}

),

final as (

    select
        queued.queue_position,
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

)

select * from final
