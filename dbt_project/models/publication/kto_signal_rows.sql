{#-
    The rows of the next KTO-signals version: every example of fct_kto_candidates but those of
    users out of training data and those of a prompt in the anchor set, with its recency weight
    and its split. The `kto_signals` asset publishes these rows as a version (unless the latest
    has the same content) and keeps them as `training.kto_signals`.
-#}
with kto_candidates as (

    select * from {{ ref('fct_kto_candidates') }}

),

parameters as (

    select * from {{ ref('dataset_parameters') }}

),

opted_out as (

    select * from {{ ref('int_training_opt_outs') }}

),

anchors as (

    select * from {{ ref('anchor_set_rows') }}

),

-- a user out of training data (opted out, or being erased) is in no new version
consented_candidates as (

    select kto_candidates.*
    from kto_candidates
    left join opted_out on kto_candidates.user_key = opted_out.user_key
    where opted_out.user_key is null

),

-- a prompt of the anchor set is in no split: the anchors measure every run from outside
unanchored_candidates as (

    select consented_candidates.*
    from consented_candidates
    left join anchors
        on {{ prompt_key('consented_candidates.prompt') }} = anchors.prompt_key
    where anchors.prompt_key is null

),

final as (

    select
        kto_candidates.prompt,
        kto_candidates.completion,
        kto_candidates.label,
        kto_candidates.example_id,
        kto_candidates.signal,
        kto_candidates.generation_id,
        {{ array_of(['kto_candidates.generation_event_id']) }} as source_event_ids,
        kto_candidates.model_version,
        coalesce(kto_candidates.user_segment, 'unknown') as user_segment,
        kto_candidates.occurred_at,
        {{ recency_weight('kto_candidates.occurred_at') }} as weight,
        {{ holdout_split('kto_candidates.prompt_bucket') }} as split
    from unanchored_candidates as kto_candidates
    cross join parameters

)

select * from final
