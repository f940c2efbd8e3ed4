{#-
    One row per generation with what became of it (rules: the `generation_outcome_rules` doc
    block). Incremental: a run recomputes the whole regeneration chain of every generation that an
    event of the newest sessionized batch touches (a new signal, a new child, a re-sessionized
    generation event), and replaces those rows.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='generation_id',
        on_schema_change='fail',
    )
}}

{#- the narrow columns are windowed and joined; the texts join on once per generation -#}
{%- set generation_event_columns -%}
    event_id, generation_id, session_id, user_key, user_segment, model_version, occurred_at,
    parent_generation_id
{%- endset %}

{#-
    The sessionized events are imported once per step that reads them: one import shared by
    several steps makes the engine buffer every event for the slowest of them.
-#}
with events as (

    select * from {{ ref('int_events_sessionized') }}

),

signal_events as (

    select * from {{ ref('int_events_sessionized') }}

),

latest_batch as (

    select max(batch_ingested_at) as batch_ingested_at from {{ ref('int_events_sessionized') }}

),

event_texts as (

    select * from {{ ref('int_event_texts') }}

),

chains as (

    select * from {{ ref('int_generation_chains') }}

),

{% if is_incremental() %}

changed_events as (

    select generation_id, parent_generation_id, other_generation_id
    from {{ ref('int_events_sessionized') }}
    where batch_ingested_at > {{ high_watermark("batch_ingested_at") }}

),

touched_generation_ids as (

    select generation_id from changed_events
    where generation_id is not null
    union
    select parent_generation_id from changed_events
    where parent_generation_id is not null
    union
    select other_generation_id from changed_events
    where other_generation_id is not null

),

touched_chains as (

    select distinct chains.chain_id
    from chains
    inner join touched_generation_ids on chains.generation_id = touched_generation_ids.generation_id

),

-- every generation of a touched chain, and touched generations outside any chain
scope_ids as (

    select chains.generation_id
    from chains
    inner join touched_chains on chains.chain_id = touched_chains.chain_id
    union
    select generation_id from touched_generation_ids

),

-- filtered before the per-generation work, so a run costs what the batch touches
generation_events_in_scope as (

    select {{ generation_event_columns }} from events
    where event_type = 'generation' and generation_id in (select generation_id from scope_ids)

),

-- every event that can signal something about a generation in scope: its own events, prefer
-- events that passed it over, and its session's generations and session-class events (one
-- without a generation id credits the session's latest generation before it)
scope_sessions as (

    select distinct session_id from generation_events_in_scope

),

signal_events_in_scope as (

    select * from signal_events
    where generation_id in (select generation_id from scope_ids)
        or other_generation_id in (select generation_id from scope_ids)
        or (
            (
                event_type = 'generation'
                or event_type in {{ event_types_where("signal_class = 'session'") }}
            )
            and session_id in (select session_id from scope_sessions)
        )

),

{% else %}

generation_events_in_scope as (

    select {{ generation_event_columns }} from events
    where event_type = 'generation'

),

signal_events_in_scope as (

    select * from signal_events

),

{% endif %}

signals_in_scope as (

    {{ generation_signals('signal_events_in_scope', ref('int_event_texts')) }}

),

-- a generation id sent twice keeps its first event
generations_in_scope as (

    {{ first_per(
        'generation_events_in_scope',
        'generation_id',
        'occurred_at, event_id',
        '*',
    ) }}

),

joined as (

    select
        generations.generation_id,
        generations.event_id as generation_event_id,
        generations.session_id,
        generations.user_key,
        generations.user_segment,
        generations.model_version,
        generations.occurred_at as generated_at,
        generations.parent_generation_id,
        coalesce(chains.chain_id, generations.generation_id) as chain_id,
        coalesce(chains.chain_position, 0) as chain_position,
        coalesce(chains.chain_retry_count, 0) as chain_retry_count,
        coalesce(chains.is_regenerated, false) as is_regenerated,
        chains.replaced_by_generation_id,
        coalesce(signals.edit_event_count, 0) as edit_event_count,
        coalesce(signals.correction_event_count, 0) as correction_event_count,
        signals.last_edited_text,
        signals.last_text_change_type,
        signals.last_text_change_event_id,
        coalesce(signals.is_copied, false) as is_copied,
        coalesce(signals.is_shared, false) as is_shared,
        coalesce(signals.has_task_complete, false) as has_task_complete,
        coalesce(signals.has_thumbs_up, false) as has_thumbs_up,
        coalesce(signals.has_thumbs_down, false) as has_thumbs_down,
        signals.rating,
        coalesce(signals.has_comment, false) as has_comment,
        signals.comment,
        coalesce(signals.preferred_count, 0) as preferred_count,
        coalesce(signals.passed_over_count, 0) as passed_over_count,
        signals.dwell_ms,
        coalesce(signals.has_accepting_signal, false) as has_accepting_signal,
        coalesce(signals.has_explicit_feedback, false) as has_explicit_feedback,
        coalesce(signals.has_implicit_signal, false) or coalesce(chains.is_regenerated, false)
            as has_implicit_signal,
        latest_batch.batch_ingested_at
    from generations_in_scope as generations
    left join chains on generations.generation_id = chains.generation_id
    left join signals_in_scope as signals on generations.generation_id = signals.generation_id
    cross join latest_batch

),

-- the texts join on last, to one row per generation: as an outer join, so that the planner keeps
-- it last instead of dragging the texts through the joins above (every generation event has them)
with_texts as (

    select
        joined.*,
        event_texts.prompt,
        event_texts.output
    from joined
    left join event_texts on joined.generation_event_id = event_texts.event_id

),

-- last edit wins; an edit that only changes whitespace is not an edit
text_changes as (

    select
        *,
        coalesce(last_edited_text, output) as final_text,
        -- a case, not an and: the text comparison runs only where there is an edit
        case
            when last_edited_text is null then false
            else not {{ same_text('last_edited_text', 'output') }}
        end as is_edited
    from with_texts

),

edit_measured as (

    select
        *,
        is_edited and last_text_change_type = 'correction' as is_corrected,
        case
            when not is_edited then 0.0
            else cast({{ edit_distance('output', 'final_text') }} as double)
                / greatest(length(output), length(final_text))
        end as edit_ratio
    from text_changes

),

judged as (

    select
        *,
        -- a signal whose type accepts the output (`accepts_output` in the `event_types` seed)
        (
            has_accepting_signal
            or coalesce(rating >= {{ var('accepting_rating') }}, false)
        ) and not is_regenerated as is_accepted,
        (
            has_thumbs_down
            or coalesce(rating <= {{ var('rejecting_rating') }}, false)
            or passed_over_count > 0
        ) as has_negative_signal
    from edit_measured

),

final as (

    select
        generation_id,
        generation_event_id,
        session_id,
        user_key,
        user_segment,
        model_version,
        generated_at,
        parent_generation_id,
        chain_id,
        chain_position,
        chain_retry_count,
        is_regenerated,
        replaced_by_generation_id,
        prompt,
        output,
        final_text,
        is_edited,
        is_corrected,
        edit_ratio,
        edit_event_count,
        correction_event_count,
        last_text_change_event_id,
        is_copied,
        is_shared,
        has_task_complete,
        has_thumbs_up,
        has_thumbs_down,
        rating,
        has_comment,
        comment,
        preferred_count,
        passed_over_count,
        dwell_ms,
        has_explicit_feedback,
        has_implicit_signal,
        is_accepted,
        has_negative_signal,
        is_accepted and has_negative_signal as has_conflicting_signals,
        case
            when is_regenerated then 'regenerated'
            when is_edited then 'edited'
            when has_negative_signal and not is_accepted then 'rejected'
            when is_accepted then 'accepted'
            else 'no_signal'
        end as outcome,
        batch_ingested_at
    from judged

)

select * from final
