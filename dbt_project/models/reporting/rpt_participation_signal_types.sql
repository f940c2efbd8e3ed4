{#-
    The event types the weekly report counts as explicit feedback or as implicit signals, from
    the taxonomy seed by the rules the staged events use: the report's prose names them from
    here, so a new row of the seed shows in the next report. A view: always the seed's rows.
-#}
{{ config(materialized='view', alias='participation_signal_types') }}

with event_types as (

    select * from {{ ref('event_types') }}

),

final as (

    select
        event_type,
        {{ is_explicit_feedback_class('signal_class') }} as is_explicit_feedback,
        {{ is_implicit_signal_class('signal_class') }} as is_implicit_signal
    from event_types

)

select * from final
