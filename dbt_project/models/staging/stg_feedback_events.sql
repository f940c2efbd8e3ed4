with source as (

    select * from {{ source('raw', 'feedback_events') }}

),

renamed as (

    select
        event_id,
        event_type,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        user_id as user_key,
        session_id as client_session_id,
        user_segment,
        app,
        locale,
        schema_version,
        generation_id,
        parent_generation_id,
        other_generation_id,
        model_version,
        prompt,
        output,
        edited_text,
        comment,
        rating,
        dwell_ms,
        properties,
        event_type in ('thumbs_up', 'thumbs_down', 'rating', 'comment', 'correction', 'prefer')
            as is_explicit_feedback,
        event_type in ('edit', 'regenerate', 'copy', 'share', 'view', 'task_complete')
            as is_implicit_signal,
        source_file,
        line_number,
        ingested_at

    from source

),

final as (

    select * from renamed

)

select * from final
