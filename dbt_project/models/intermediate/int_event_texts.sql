{#-
    The free texts of the events that carry one, by event_id: the types whose required fields
    (the `event_types` seed) include a free text. A view: the texts stay where
    ingestion wrote them, and the models that need them join them on last, for the few rows that
    need them (the sessionized events and the per-generation steps carry ids only).
-#}
{{ config(materialized='view') }}

with events as (

    select * from {{ ref('stg_feedback_events') }}

),

final as (

    select
        event_id,
        event_type,
        prompt,
        output,
        edited_text,
        comment
    from events
    where event_type in {{ event_types_requiring(['prompt', 'output', 'edited_text', 'comment']) }}

)

select * from final
