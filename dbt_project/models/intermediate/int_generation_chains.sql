{#-
    Regeneration chains: a generation that replaced a regenerated one names it as its parent, so
    the chain is the tree hanging off a root generation (a recursive walk over generation ids, as
    deep as the longest chain).

    Incremental: a run rebuilds only the chains the newest sessionized batch touches. A batch's
    generation and regenerate events touch their generation, its parent, and the stored chains
    of both; a new generation also touches the children that named it before it arrived (they
    were roots and now hang under it). Those chains are walked again from their roots and their
    rows replaced (delete+insert on generation_id), so a generation that moved to another chain
    leaves its old one. Parent links that form a cycle have no root and are left out, as in a
    full build; a cycle broken later by a re-sent generation event needs a full refresh (it cannot
    happen when a parent is generated before its children).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='generation_id',
        on_schema_change='fail',
    )
}}

with recursive generation_events as (

    select event_id, generation_id, parent_generation_id, occurred_at, batch_ingested_at
    from {{ ref('int_events_sessionized') }}
    where event_type = 'generation'

),

regenerate_events as (

    select generation_id, batch_ingested_at from {{ ref('int_events_sessionized') }}
    where event_type = 'regenerate'

),

latest_batch as (

    select max(batch_ingested_at) as batch_ingested_at from {{ ref('int_events_sessionized') }}

),

{% if is_incremental() %}

-- the newest batch's events of the two types chains are made of (a generation names its
-- parent, a regenerate discards one)
changed_events as (

    select generation_id, parent_generation_id from generation_events
    where batch_ingested_at > {{ high_watermark("batch_ingested_at") }}
    union all
    select generation_id, null as parent_generation_id from regenerate_events
    where batch_ingested_at > {{ high_watermark("batch_ingested_at") }}

),

touched_ids as (

    select generation_id from changed_events
    where generation_id is not null
    union
    select parent_generation_id from changed_events
    where parent_generation_id is not null

),

-- generations that named a touched one as their parent: a root until that parent arrived
children_of_touched as (

    select generation_id from generation_events
    where parent_generation_id in (select generation_id from touched_ids)

),

stored_chains as (

    select generation_id, chain_id from {{ this }}

),

touched_chains as (

    select distinct chain_id from stored_chains
    where generation_id in (select generation_id from touched_ids)
        or generation_id in (select generation_id from children_of_touched)

),

scope_ids as (

    select generation_id from stored_chains
    where chain_id in (select chain_id from touched_chains)
    union
    select generation_id from touched_ids
    union
    select generation_id from children_of_touched

),

generation_events_in_scope as (

    select * from generation_events
    where generation_id in (select generation_id from scope_ids)

),

{% else %}

generation_events_in_scope as (

    select * from generation_events

),

{% endif %}

-- a generation id sent twice keeps its first event
generations as (

    {{ first_per(
        'generation_events_in_scope',
        'generation_id',
        'occurred_at, event_id',
        'generation_id, parent_generation_id, occurred_at',
    ) }}

),

-- parents that exist anywhere (outside the scope too): a generation whose parent is unknown is
-- a root
known_parents as (

    select distinct generation_id from generation_events
    where generation_id in (select parent_generation_id from generations)

),

roots as (

    select generation_id from generations
    where parent_generation_id is null
        or parent_generation_id not in (select generation_id from known_parents)

),

-- parent links followed down from each root; a cycle of parents has no root and is left out
chain_walk as (

    select
        generation_id,
        generation_id as chain_id,
        0 as chain_position
    from roots

    union all

    select
        generations.generation_id,
        chain_walk.chain_id,
        chain_walk.chain_position + 1 as chain_position
    from generations
    inner join chain_walk
        on generations.parent_generation_id = chain_walk.generation_id

),

replacements as (

    {{ first_per(
        '(select * from generations where parent_generation_id is not null)',
        'parent_generation_id',
        'occurred_at, generation_id',
        'parent_generation_id as generation_id, generation_id as replaced_by_generation_id',
    ) }}

),

regenerated as (

    select generation_id from regenerate_events
    where generation_id in (select generation_id from generations)
    union
    select generation_id from replacements

),

with_regeneration as (

    select
        chain_walk.generation_id,
        chain_walk.chain_id,
        chain_walk.chain_position,
        replacements.replaced_by_generation_id,
        regenerated.generation_id is not null as is_regenerated
    from chain_walk
    left join replacements on chain_walk.generation_id = replacements.generation_id
    left join regenerated on chain_walk.generation_id = regenerated.generation_id

),

chain_totals as (

    select
        chain_id,
        count(*) as chain_length,
        {{ count_of('is_regenerated') }} as chain_retry_count
    from with_regeneration
    group by chain_id

),

final as (

    select
        with_regeneration.generation_id,
        with_regeneration.chain_id,
        with_regeneration.chain_position,
        chain_totals.chain_length,
        chain_totals.chain_retry_count,
        with_regeneration.is_regenerated,
        with_regeneration.replaced_by_generation_id,
        latest_batch.batch_ingested_at
    from with_regeneration
    inner join chain_totals on with_regeneration.chain_id = chain_totals.chain_id
    cross join latest_batch

)

select * from final
