{#-
    The event's class and flags come from the taxonomy seed `event_types` (joined, not listed
    here): a type the seed does not know has none of them (ingestion quarantines such events).
-#}
with source as (

    select * from {{ source('raw', 'feedback_events') }}

),

event_types as (

    select * from {{ ref('event_types') }}

),

renamed as (

    select
        source.event_id,
        source.event_type,
        cast(source.occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        source.user_id as user_key,
        source.session_id as client_session_id,
        source.user_segment,
        source.app,
        source.locale,
        source.schema_version,
        source.generation_id,
        source.parent_generation_id,
        source.other_generation_id,
        source.model_version,
        source.prompt,
        source.output,
        source.edited_text,
        source.comment,
        source.rating,
        source.dwell_ms,
        source.properties,
        {{ is_explicit_feedback_class('event_types.signal_class') }} as is_explicit_feedback,
        {{ is_implicit_signal_class('event_types.signal_class') }} as is_implicit_signal,
        event_types.signal_class,
        coalesce(event_types.accepts_output, false) as accepts_output,
        coalesce(event_types.completes_session, false) as completes_session,
        source.source_file,
        source.line_number,
        source.ingested_at

    from source
    left join event_types on source.event_type = event_types.event_type

),

final as (

    select * from renamed

)

select * from final
