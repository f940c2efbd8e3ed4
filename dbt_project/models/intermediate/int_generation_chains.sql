{#-
    Regeneration chains: a generation that replaced a regenerated one names it as its parent, so
    the chain is the tree hanging off a root generation. Rebuilt every run (a recursive walk over
    generation ids only, as deep as the longest chain); fct_generations reads it incrementally.
-#}
with recursive generation_events as (

    select * from {{ ref('int_events_sessionized') }}
    where event_type = 'generation'

),

regenerate_events as (

    select * from {{ ref('int_events_sessionized') }}
    where event_type = 'regenerate'

),

-- a generation id sent twice keeps its first event
generations as (

    {{ first_per(
        'generation_events',
        'generation_id',
        'occurred_at, event_id',
        'generation_id, parent_generation_id, occurred_at',
    ) }}

),

roots as (

    select generations.generation_id
    from generations
    left join generations as parents
        on generations.parent_generation_id = parents.generation_id
    where parents.generation_id is null

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

    select distinct generation_id from regenerate_events
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
        with_regeneration.replaced_by_generation_id
    from with_regeneration
    inner join chain_totals on with_regeneration.chain_id = chain_totals.chain_id

)

select * from final
