{#-
    Every event with the session it belongs to (rules: the `session_rules` doc block).

    Incremental and late-data safe: a run only re-sessionizes, per user with new events, the span
    from the start of the session holding that user's last stored event before the earliest new
    one. Everything before that span is settled: its boundaries involve no new event. The span is
    replaced as a whole (delete+insert on event_id), so a late event that bridges two sessions
    merges them, and the downstream facts drop the session that disappeared.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_id',
        on_schema_change='fail',
    )
}}

with events as (

    select * from {{ ref('stg_feedback_events') }}

),

{% if is_incremental() %}

new_events as (

    select * from events
    where ingested_at > {{ high_watermark("ingested_at") }}

),

stored_events as (

    select user_key, occurred_at, event_id, session_id from {{ this }}

),

earliest_new_event as (

    {{ first_per(
        'new_events', 'user_key', 'occurred_at, event_id', 'user_key, occurred_at, event_id'
    ) }}

),

stored_before_earliest_new as (

    select stored.user_key, stored.session_id, stored.occurred_at, stored.event_id
    from stored_events as stored
    inner join earliest_new_event as earliest
        on stored.user_key = earliest.user_key
        and (
            stored.occurred_at < earliest.occurred_at
            or (stored.occurred_at = earliest.occurred_at and stored.event_id < earliest.event_id)
        )

),

-- the user's last stored event that sorts before the earliest new one: its session may grow
last_stored_before as (

    {{ first_per(
        'stored_before_earliest_new',
        'user_key',
        'occurred_at desc, event_id desc',
        'user_key, session_id',
    ) }}

),

reopened_session_events as (

    select stored.user_key, stored.occurred_at, stored.event_id
    from stored_events as stored
    inner join last_stored_before as last_before
        on stored.session_id = last_before.session_id

),

reopened_session_start as (

    {{ first_per(
        'reopened_session_events',
        'user_key',
        'occurred_at, event_id',
        'user_key, occurred_at, event_id',
    ) }}

),

recompute_from as (

    select
        earliest.user_key,
        coalesce(reopened.occurred_at, earliest.occurred_at) as from_occurred_at,
        coalesce(reopened.event_id, earliest.event_id) as from_event_id
    from earliest_new_event as earliest
    left join reopened_session_start as reopened
        on earliest.user_key = reopened.user_key

),

events_to_sessionize as (

    select events.*
    from events
    inner join recompute_from
        on events.user_key = recompute_from.user_key
        and (
            events.occurred_at > recompute_from.from_occurred_at
            or (
                events.occurred_at = recompute_from.from_occurred_at
                and events.event_id >= recompute_from.from_event_id
            )
        )

),

{% else %}

events_to_sessionize as (

    select * from events

),

{% endif %}

-- the windows sort only the ordering keys; the wide columns (texts) join back at the end
event_keys as (

    select event_id, user_key, occurred_at, client_session_id, ingested_at
    from events_to_sessionize

),

with_previous as (

    select
        *,
        lag(occurred_at) over (
            partition by user_key order by occurred_at, event_id
        ) as previous_occurred_at,
        lag(client_session_id) over (
            partition by user_key order by occurred_at, event_id
        ) as previous_client_session_id,
        row_number() over (
            partition by user_key order by occurred_at, event_id
        ) as user_event_position
    from event_keys

),

session_starts_flagged as (

    select
        *,
        case
            when user_event_position = 1 then true
            when occurred_at > {{ dbt.dateadd(
                'minute', var('session_inactivity_minutes'), 'previous_occurred_at'
            ) }} then true
            when client_session_id is null and previous_client_session_id is null then false
            when client_session_id is null or previous_client_session_id is null then true
            when client_session_id <> previous_client_session_id then true
            else false
        end as is_session_start
    from with_previous

),

session_numbered as (

    select
        *,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by user_key
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as user_session_number
    from session_starts_flagged

),

session_assigned as (

    select
        *,
        first_value(event_id) over (
            partition by user_key, user_session_number
            order by occurred_at, event_id
            rows between unbounded preceding and unbounded following
        ) as session_start_event_id,
        min(occurred_at) over (partition by user_key, user_session_number) as session_started_at,
        max(ingested_at) over () as batch_ingested_at
    from session_numbered

),

final as (

    select
        {{ dbt.hash(dbt.concat(['sessions.user_key', "'|'", 'sessions.session_start_event_id'])) }}
            as session_id,
        sessions.session_started_at,
        sessions.is_session_start,
        events.event_id,
        events.event_type,
        events.occurred_at,
        events.user_key,
        events.client_session_id,
        events.user_segment,
        events.app,
        events.locale,
        events.generation_id,
        events.parent_generation_id,
        events.other_generation_id,
        events.model_version,
        events.prompt,
        events.output,
        events.edited_text,
        events.comment,
        events.rating,
        events.dwell_ms,
        events.is_explicit_feedback,
        events.is_implicit_signal,
        events.source_file,
        events.line_number,
        events.ingested_at,
        sessions.batch_ingested_at
    from session_assigned as sessions
    inner join events_to_sessionize as events on sessions.event_id = events.event_id

)

select * from final
