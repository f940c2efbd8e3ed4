{{ config(materialized='view') }}

{#-
    One row per reviewed item whose human decision can be held against the implicit-signal
    label of the same output (rules: the `implicit_human_agreement_rules` doc block): the
    weekly report's agreement between implicit signals and people
    (`rpt_implicit_human_agreement_weekly`) counts these. A view: the reports read it one week
    at a time, and it holds no text and no user.
-#}
with item_agreement as (

    select * from {{ ref('item_agreement') }}

),

batch_labels as (

    select * from {{ ref('batch_labels') }}

),

review_candidates as (

    select * from {{ ref('fct_review_candidates') }}

),

preference_candidates as (

    select * from {{ ref('fct_preference_candidates') }}

),

kto_candidates as (

    select * from {{ ref('fct_kto_candidates') }}

),

generations as (

    select generation_id, generated_at from {{ ref('fct_generations') }}

),

batches as (

    select batch, max(ingested_at) as batch_ingested_at
    from batch_labels
    group by batch

),

clear_majorities as (

    select
        item_agreement.batch,
        item_agreement.item_id,
        item_agreement.majority_label,
        batches.batch_ingested_at
    from item_agreement
    inner join batches on item_agreement.batch = batches.batch
    where item_agreement.has_clear_majority

),

-- an item decided in several batches: the latest batch wins, as for the review pairs
latest_majorities as (

    {{ first_per(
        'clear_majorities',
        'item_id',
        'batch_ingested_at desc, batch desc',
        'batch, item_id, majority_label, batch_ingested_at',
    ) }}

),

-- a pair item shows the pair's rejected side as A and its chosen side as B: the signals said b
pair_labels as (

    select
        review_candidates.item_id,
        'pair_direction' as implicit_label_source,
        'b' as implicit_label,
        preference_candidates.chosen_generation_id as generation_id,
        preference_candidates.model_version
    from review_candidates
    inner join preference_candidates
        on review_candidates.pair_key = preference_candidates.pair_key

),

-- a single output: desirable is `a` (acceptable alone), undesirable is `neither`
kto_labels as (

    select
        review_candidates.item_id,
        'kto_label' as implicit_label_source,
        case when kto_candidates.label then 'a' else 'neither' end as implicit_label,
        kto_candidates.generation_id,
        kto_candidates.model_version
    from review_candidates
    inner join kto_candidates on review_candidates.generation_id = kto_candidates.generation_id

),

implicit_labels as (

    select * from pair_labels
    union all
    select * from kto_labels

),

-- only the answers that say the same kind of thing as the signal: a direction for a pair (a,
-- b), a verdict on one output (a, neither); tie, and the other answers, compare with nothing
compared as (

    select
        implicit_labels.item_id,
        latest_majorities.batch,
        latest_majorities.batch_ingested_at,
        implicit_labels.implicit_label_source,
        implicit_labels.implicit_label,
        latest_majorities.majority_label as human_label,
        implicit_labels.generation_id,
        coalesce(implicit_labels.model_version, 'unknown') as model_version,
        generations.generated_at
    from implicit_labels
    inner join latest_majorities on implicit_labels.item_id = latest_majorities.item_id
    inner join generations on implicit_labels.generation_id = generations.generation_id
    where
        (
            implicit_labels.implicit_label_source = 'pair_direction'
            and latest_majorities.majority_label in ('a', 'b')
        )
        or (
            implicit_labels.implicit_label_source = 'kto_label'
            and latest_majorities.majority_label in ('a', 'neither')
        )

),

final as (

    select
        item_id,
        batch,
        batch_ingested_at,
        implicit_label_source,
        implicit_label,
        human_label,
        implicit_label = human_label as is_agreeing,
        generation_id,
        model_version,
        generated_at,
        {{ week_of('generated_at') }} as week_start
    from compared

)

select * from final
