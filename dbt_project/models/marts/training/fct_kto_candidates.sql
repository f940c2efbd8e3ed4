{#-
    Unpaired desirable / undesirable examples for KTO-style training: one row per generation
    whose signals say clearly whether the output was wanted (rules: the `kto_rules` doc block).

    Incremental: a run re-decides the generations fct_generations rebuilt since this model's
    newest batch (that covers every generation of a session the batch touched, as sessions are
    re-sessionized whole). The pre-hook first deletes their rows, so an example whose label no
    longer holds disappears; the rows computed here then go in.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='generation_id',
        on_schema_change='fail',
        pre_hook=[
            "{% if is_incremental() %}{% set rebuilt %}generation_id in ("
            " select generation_id from {{ ref('fct_generations') }}"
            " where batch_ingested_at > {{ high_watermark('batch_ingested_at') }})"
            "{% endset %}{{ delete_from_this(rebuilt) }}{% endif %}"
        ],
    )
}}

with generations as (

    select * from {{ ref('fct_generations') }}

),

-- read apart from the full rows above, which carry the texts
generation_sessions as (

    select session_id, generation_id, generated_at from {{ ref('fct_generations') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

{% if is_incremental() %}

generations_in_scope as (

    select * from generations
    where batch_ingested_at > {{ high_watermark('batch_ingested_at') }}

),

-- every generation of their sessions, to tell which one the user left on
session_generations_in_scope as (

    select * from generation_sessions
    where session_id in (select session_id from generations_in_scope)

),

{% else %}

generations_in_scope as (

    select * from generations

),

session_generations_in_scope as (

    select * from generation_sessions

),

{% endif %}

-- the output a user left on: the last one shown in a session that ended without success
last_generation_per_session as (

    {{ first_per(
        'session_generations_in_scope',
        'session_id',
        'generated_at desc, generation_id desc',
        'session_id, generation_id',
    ) }}

),

abandoned_last_generations as (

    select last_generation_per_session.generation_id
    from last_generation_per_session
    inner join sessions on last_generation_per_session.session_id = sessions.session_id
    where sessions.outcome = 'abandoned'

),

signals as (

    select
        generations.*,
        generations.has_thumbs_up or generations.is_copied or generations.is_shared
            as has_positive_signal,
        generations.has_thumbs_down or abandoned.generation_id is not null
            as has_undesirable_signal,
        abandoned.generation_id is not null as is_abandoned
    from generations_in_scope as generations
    left join abandoned_last_generations as abandoned
        on generations.generation_id = abandoned.generation_id
    where generations.chain_retry_count < {{ var('high_retry_regenerations') }}

),

-- both at once is a conflict for the review queue, not a label
labeled as (

    select
        *,
        case
            when has_thumbs_up then 'thumbs_up'
            when is_copied then 'copy'
            when is_shared then 'share'
            when has_thumbs_down then 'thumbs_down'
            else 'abandonment'
        end as signal
    from signals
    where has_positive_signal <> has_undesirable_signal

),

final as (

    select
        {{ dbt.hash(dbt.concat(["'kto:'", 'generation_id'])) }} as example_id,
        prompt,
        {{ prompt_bucket('prompt') }} as prompt_bucket,
        output as completion,
        has_positive_signal as label,
        signal,
        generation_id,
        generation_event_id,
        model_version,
        user_segment,
        user_key,
        generated_at as occurred_at,
        batch_ingested_at
    from labeled
    where {{ has_text('prompt') }} and {{ has_text('output') }}

)

select * from final
