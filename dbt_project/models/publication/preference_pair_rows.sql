{#-
    The rows of the next preference-pairs version: the confident candidates of
    fct_preference_candidates (the others go to the review queue) and the reviewed pairs that
    passed the agreement gate, each with its recency weight and its split; none of a user out
    of training data (int_training_opt_outs), and none of a prompt in the anchor set
    (anchor_set_rows), which anchors every training run from outside its splits. The
    `preference_pairs` asset publishes these rows as a version (unless the latest has the same
    content) and keeps them as `training.preference_pairs`.
-#}
with preference_candidates as (

    select * from {{ ref('fct_preference_candidates') }}

),

review_pairs as (

    select * from {{ ref('review_pairs') }}

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

event_pairs as (

    select
        pair_id,
        source,
        prompt,
        chosen,
        rejected,
        generation_ids,
        source_event_ids,
        model_version,
        user_segment,
        user_key,
        occurred_at,
        confidence,
        prompt_bucket
    from preference_candidates
    where not is_low_confidence

),

-- a pair the events already give confidently needs no reviewed twin
reviewed_pairs as (

    select
        pair_id,
        source,
        prompt,
        chosen,
        rejected,
        generation_ids,
        source_event_ids,
        model_version,
        user_segment,
        user_key,
        occurred_at,
        confidence,
        {{ prompt_bucket('prompt') }} as prompt_bucket
    from review_pairs
    where generation_ids not in (select generation_ids from event_pairs)

),

pairs as (

    select * from event_pairs
    union all
    select * from reviewed_pairs

),

-- a user out of training data (opted out, or being erased) is in no new version
consented_pairs as (

    select pairs.*
    from pairs
    left join opted_out on pairs.user_key = opted_out.user_key
    where opted_out.user_key is null

),

-- a prompt of the anchor set is in no split: the anchors measure every run from outside
unanchored_pairs as (

    select consented_pairs.*
    from consented_pairs
    left join anchors on {{ prompt_key('consented_pairs.prompt') }} = anchors.prompt_key
    where anchors.prompt_key is null

),

final as (

    select
        pairs.pair_id,
        pairs.source,
        pairs.prompt,
        pairs.chosen,
        pairs.rejected,
        pairs.generation_ids,
        pairs.source_event_ids,
        pairs.model_version,
        coalesce(pairs.user_segment, 'unknown') as user_segment,
        pairs.user_key,
        pairs.occurred_at,
        cast(pairs.confidence as double) as confidence,
        {{ recency_weight('pairs.occurred_at') }} as weight,
        {{ holdout_split('pairs.prompt_bucket') }} as split
    from unanchored_pairs as pairs
    cross join parameters

)

select * from final
