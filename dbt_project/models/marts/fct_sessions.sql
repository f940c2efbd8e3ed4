{#-
    One row per session (rules: the `session_rules` doc block). Incremental: a run rebuilds every
    session with an event in the newest sessionized batch; the post-hook drops sessions that no
    longer exist because a late event merged them into an earlier one.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='session_id',
        on_schema_change='fail',
        post_hook=[
            "{% set merged_away %}session_id not in"
            " (select session_id from {{ ref('int_events_sessionized') }}){% endset %}"
            "{{ delete_from_this(merged_away) }}"
        ],
    )
}}

with events as (

    select * from {{ ref('int_events_sessionized') }}

),

{% if is_incremental() %}

-- the batch is found by a read of its own: a second reader of `events` would make the engine
-- copy every event to share them
events_in_scope as (

    select * from events
    where
        session_id in (
            select session_id from {{ ref('int_events_sessionized') }}
            where batch_ingested_at > {{ high_watermark("batch_ingested_at") }}
        )

),

{% else %}

events_in_scope as (

    select * from events

),

{% endif %}

first_segment as (

    {{ first_per(
        "(select * from events_in_scope where user_segment is not null)",
        'session_id',
        'occurred_at, event_id',
        'session_id, user_segment',
    ) }}

),

first_model_version as (

    {{ first_per(
        "(select * from events_in_scope where event_type = 'generation')",
        'session_id',
        'occurred_at, event_id',
        'session_id, model_version',
    ) }}

),

-- whether the event's type completes the session, from the taxonomy seed
typed_events_in_scope as (

    select
        events_in_scope.*,
        coalesce(event_types.completes_session, false) as completes_session
    from events_in_scope
    left join {{ ref('event_types') }} as event_types
        on events_in_scope.event_type = event_types.event_type

),

aggregated as (

    select
        session_id,
        min(user_key) as user_key,
        min(client_session_id) as client_session_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        {{ count_of("event_type = 'generation'") }} as generation_count,
        {{ count_of("event_type = 'regenerate'") }} as regeneration_count,
        {{ count_of("event_type = 'edit'") }} as edit_count,
        {{ count_of("event_type = 'correction'") }} as correction_count,
        {{ count_of("event_type = 'copy'") }} as copy_count,
        {{ count_of("event_type = 'share'") }} as share_count,
        {{ count_of('is_explicit_feedback') }} as explicit_feedback_count,
        {{ count_of('is_implicit_signal') }} as implicit_signal_count,
        {{ any_of("event_type = 'task_complete'") }} as has_task_complete,
        {{ any_of('completes_session') }} as has_completing_event,
        max(batch_ingested_at) as batch_ingested_at
    from typed_events_in_scope
    group by session_id

),

final as (

    select
        aggregated.session_id,
        aggregated.user_key,
        aggregated.client_session_id,
        first_segment.user_segment,
        first_model_version.model_version,
        aggregated.started_at,
        aggregated.ended_at,
        {{ dbt.datediff('aggregated.started_at', 'aggregated.ended_at', 'second') }}
            as duration_seconds,
        aggregated.event_count,
        aggregated.generation_count,
        aggregated.regeneration_count,
        aggregated.edit_count,
        aggregated.correction_count,
        aggregated.copy_count,
        aggregated.share_count,
        aggregated.explicit_feedback_count,
        aggregated.implicit_signal_count,
        aggregated.explicit_feedback_count > 0 as has_explicit_feedback,
        aggregated.has_task_complete,
        -- an event whose type completes the session (`completes_session` in the seed)
        case when aggregated.has_completing_event then 'completed' else 'abandoned' end
            as outcome,
        aggregated.batch_ingested_at
    from aggregated
    left join first_segment on aggregated.session_id = first_segment.session_id
    left join first_model_version on aggregated.session_id = first_model_version.session_id

)

select * from final
