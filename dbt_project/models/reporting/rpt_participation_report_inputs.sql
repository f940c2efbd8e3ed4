{#-
    When the newest row one week's report read was ingested (the week of macros/report_week.sql),
    as `int_weekly_report_inputs` says at the time of the build: a week is reported again only
    once that moves on. Built after the week's figures, chart and agreement lines (the
    `depends_on` below), so a failed build of those leaves the week stale. No row for a week
    without sessions (none is ever stale); a build replaces its week's row.
-#}
-- depends_on: {{ ref('rpt_participation_weekly') }}
-- depends_on: {{ ref('rpt_participation_skew_weekly') }}
-- depends_on: {{ ref('rpt_participation_chart_weekly') }}
-- depends_on: {{ ref('rpt_implicit_human_agreement_weekly') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='week_start',
        on_schema_change='fail',
        full_refresh=false,
        alias='participation_report_inputs',
    )
}}

with weekly_report_inputs as (

    select * from {{ ref('int_weekly_report_inputs') }}

),

final as (

    select
        week_start,
        newest_input_ingested_at
    from weekly_report_inputs
    where week_start = cast({{ report_week_start() }} as date)

)

select * from final
