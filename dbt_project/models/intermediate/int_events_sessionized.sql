{#-
    Every event with the session it belongs to (rules: the `session_rules` doc block).

    Incremental and late-data safe: a run only re-sessionizes, per user with new events, the span
    from the start of the session holding that user's last stored event before the earliest new
    one. Everything before that span is settled: its boundaries involve no new event. The span is
    replaced as a whole (delete+insert on event_id), so a late event that bridges two sessions
    merges them, and the downstream facts drop the session that disappeared.

    The free texts (prompt, output, edited text, comment) stay out: copying them here cost more
    than sessionizing (31 s against 12 s at 10M events). `int_event_texts` has them by event_id.
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

-- the same rows, read a second time rather than shared: sharing one import between two readers
-- makes the engine copy every event first
event_details as (

    select * from {{ ref('stg_feedback_events') }}

),

latest_ingestion as (

    select max(ingested_at) as batch_ingested_at from {{ ref('stg_feedback_events') }}

),

{% if is_incremental() %}

new_events as (

    select user_key, occurred_at, event_id from event_details
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
                or (
                    stored.occurred_at = earliest.occurred_at
                    and stored.event_id < earliest.event_id
                )
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

-- few rows: shared by the windows and the join back at the end
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

sessionized_event_details as (

    select * from events_to_sessionize

),

{% else %}

events_to_sessionize as (

    select * from events

),

sessionized_event_details as (

    select * from event_details

),

{% endif %}

-- the windows sort only the ordering keys; the other columns join back at the end
event_keys as (

    select event_id, user_key, occurred_at, client_session_id
    from events_to_sessionize

),

with_previous as (

    select
        *,
        lag(occurred_at) over user_events as previous_occurred_at,
        lag(client_session_id) over user_events as previous_client_session_id,
        row_number() over user_events as user_event_position
    from event_keys
    window user_events as (partition by user_key order by occurred_at, event_id)

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

-- a session runs from its start to the next one: each event takes the latest start before it
session_assigned as (

    select
        event_id,
        user_key,
        is_session_start,
        {{ last_value_ignoring_nulls('case when is_session_start then event_id end') }}
            over user_events_so_far as session_start_event_id,
        {{ last_value_ignoring_nulls('case when is_session_start then occurred_at end') }}
            over user_events_so_far as session_started_at
    from session_starts_flagged
    window user_events_so_far as (
        partition by user_key
        order by occurred_at, event_id
        rows between unbounded preceding and current row
    )

),

final as (

    select
        {{ dbt.hash(dbt.concat(['sessions.user_key', "'|'", 'sessions.session_start_event_id'])) }}
            as session_id,
        sessions.session_started_at,
        sessions.is_session_start,
        details.event_id,
        details.event_type,
        details.occurred_at,
        details.user_key,
        details.client_session_id,
        details.user_segment,
        details.app,
        details.locale,
        details.generation_id,
        details.parent_generation_id,
        details.other_generation_id,
        details.model_version,
        details.rating,
        details.dwell_ms,
        details.is_explicit_feedback,
        details.is_implicit_signal,
        details.source_file,
        details.line_number,
        details.ingested_at,
        latest_ingestion.batch_ingested_at
    from session_assigned as sessions
    inner join sessionized_event_details as details on sessions.event_id = details.event_id
    cross join latest_ingestion

)

select * from final
