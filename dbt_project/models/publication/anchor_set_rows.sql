{#-
    The rows of the next anchor-set version: examples whose label a person decided, held out of
    every training split (rules: the `anchor_set_rules` doc block). The `anchor_set` asset
    publishes them as a version (unless the latest has the same content) and keeps them as
    `training.anchor_set`; `preference_pair_rows` and `kto_signal_rows` leave their prompts out.
-#}
with preference_candidates as (

    select * from {{ ref('fct_preference_candidates') }}

),

review_pairs as (

    select * from {{ ref('review_pairs') }}

),

curated_examples as (

    select * from {{ source('raw_anchors', 'anchor_examples') }}

),

opted_out as (

    select * from {{ ref('int_training_opt_outs') }}

),

human_sources as (

    select * from {{ human_chosen_sources() }}

),

-- confident pairs whose chosen side a person wrote or chose (edits, corrections, prefer)
event_decisions as (

    select
        preference_candidates.pair_id as anchor_id,
        preference_candidates.source,
        preference_candidates.prompt,
        preference_candidates.chosen,
        preference_candidates.rejected,
        preference_candidates.model_version,
        coalesce(preference_candidates.user_segment, 'unknown') as user_segment,
        preference_candidates.user_key,
        preference_candidates.source_event_ids,
        preference_candidates.occurred_at
    from preference_candidates
    inner join human_sources on preference_candidates.source = human_sources.source
    where not preference_candidates.is_low_confidence

),

-- the clear majorities of review batches that passed the agreement gate
review_decisions as (

    select
        pair_id as anchor_id,
        source,
        prompt,
        chosen,
        rejected,
        model_version,
        coalesce(user_segment, 'unknown') as user_segment,
        user_key,
        source_event_ids,
        occurred_at
    from review_pairs

),

decisions as (

    select * from event_decisions
    union all
    select * from review_decisions

),

-- a user out of training data (opted out, or being erased) is in no anchor either
consented_decisions as (

    select decisions.*
    from decisions
    left join opted_out on decisions.user_key = opted_out.user_key
    where opted_out.user_key is null

),

-- each segment's prompts, in the order of their key's hash: a stable draw that does not depend
-- on when rows arrived
segment_prompts as (

    select
        user_segment,
        {{ prompt_key('prompt') }} as prompt_key,
        {{ dbt.hash(prompt_key('prompt')) }} as prompt_hash
    from consented_decisions
    group by user_segment, {{ prompt_key('prompt') }}

),

ranked_prompts as (

    select
        *,
        row_number() over (partition by user_segment order by prompt_hash, prompt_key) as draw_rank,
        count(*) over (partition by user_segment) as segment_prompts
    from segment_prompts

),

-- at most anchors_per_segment prompts, and never more than anchor_max_segment_share of a
-- segment's human-decided prompts, so the anchors never take a segment's human data from
-- training
drawn_prompts as (

    select distinct prompt_key
    from ranked_prompts
    where draw_rank <= {{ var('anchors_per_segment') }}
        and draw_rank <= floor(segment_prompts * {{ var('anchor_max_segment_share') }})

),

drawn_decisions as (

    select
        consented_decisions.*,
        drawn_prompts.prompt_key
    from consented_decisions
    inner join drawn_prompts
        on {{ prompt_key('consented_decisions.prompt') }} = drawn_prompts.prompt_key

),

-- every curated example is an anchor: a curator chose it to be one
curated_anchors as (

    select
        {{ dbt.hash(dbt.concat(["'curated:'", prompt_key('prompt')])) }} as anchor_id,
        'curated' as source,
        prompt,
        chosen,
        rejected,
        cast(null as {{ dbt.type_string() }}) as model_version,
        'curated' as user_segment,
        cast(null as {{ dbt.type_string() }}) as user_key,
        {{ dbt.array_construct([], dbt.type_string()) }} as source_event_ids,
        ingested_at as occurred_at,
        {{ prompt_key('prompt') }} as prompt_key
    from curated_examples
    where {{ has_text('prompt') }}
        and {{ has_text('chosen') }}
        and {{ has_text('rejected') }}
        and not {{ same_text('chosen', 'rejected') }}

),

-- both in the columns of `decisions`, then the prompt key
anchors as (

    select * from drawn_decisions
    union all
    select * from curated_anchors

),

final as (

    select
        *,
        'anchor' as split
    from anchors

)

select * from final
