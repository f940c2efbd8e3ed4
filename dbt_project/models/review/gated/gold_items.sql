{#-
    Gold items: anchors with a known answer, shaped exactly like the other items of the open
    queue (rules: the `gold_item_rules` doc block). `review_queue` places them among the real
    items; the `review_queue` asset keeps their answers in `review.gold_answers`.
-#}
with anchors as (

    select * from {{ ref('anchor_set_rows') }}

),

preference_candidates as (

    select * from {{ ref('fct_preference_candidates') }}

),

review_pairs as (

    select * from {{ ref('review_pairs') }}

),

item_status as (

    select * from {{ ref('review_item_status') }}

),

-- the generations an anchor rests on: a curated example has none, so it would be told apart
-- by its empty lists, and is not shown as a gold item (the anchor's own source_event_ids are
-- its pair's: selecting both is an ambiguous column on Spark)
anchor_sources as (

    select pair_id, generation_ids, occurred_at from preference_candidates
    union all
    select pair_id, generation_ids, occurred_at from review_pairs

),

keyed as (

    select
        anchors.*,
        anchor_sources.generation_ids,
        anchor_sources.occurred_at as source_occurred_at,
        {{ dbt.hash(dbt.concat([gold_item_key(), "':gold:'", 'anchors.anchor_id'])) }}
            as item_id,
        {{ dbt.hash(dbt.concat([gold_item_key(), "':side:'", 'anchors.anchor_id'])) }}
            as side_hash
    from anchors
    inner join anchor_sources on anchors.anchor_id = anchor_sources.pair_id

),

queued_real_items as (

    select count(*) as items
    from item_status
    where queue_position <= {{ var('review_queue_max_items') }}

),

-- the share of the real queue, rounded up, taken in the order of the (keyed) item ids
ranked as (

    select
        keyed.*,
        row_number() over (order by keyed.item_id) as gold_rank,
        queued_real_items.items as real_items
    from keyed
    cross join queued_real_items

),

final as (

    select
        item_id,
        -- a pair of two answers to choose from, as a low-confidence pair item is
        'low_confidence_pair' as reason,
        1 as priority,
        user_segment,
        model_version,
        prompt,
        -- which side holds the chosen text, from the keyed hash: half a, half b
        case when side_hash < '8' then chosen else rejected end as response_a,
        case when side_hash < '8' then rejected else chosen end as response_b,
        cast(null as {{ dbt.type_string() }}) as user_comment,
        generation_ids,
        source_event_ids,
        source_occurred_at as occurred_at,
        case when side_hash < '8' then 'a' else 'b' end as answer,
        anchor_id,
        real_items
    from ranked
    where gold_rank <= ceiling(real_items * {{ var('gold_item_share') }})

)

select * from final
