{#-
    What one week's report chart shows (the week of macros/report_week.sql): sessions and those with
    explicit feedback per week and series (`all`, then each segment), over the weeks of the
    chart (var `report_chart_weeks`, this week included) that had sessions. From the marts, not
    from earlier weeks of `rpt_participation_weekly`, so a week's chart never depends on the
    order weeks were built in. Incremental like the figures (a build replaces its week's rows).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='week_start',
        on_schema_change='fail',
        full_refresh=false,
        alias='participation_chart_weekly',
    )
}}

with sessions as (

    select * from {{ ref('fct_sessions') }}

),

chart_sessions as (

    select
        {{ week_of('started_at') }} as chart_week_start,
        coalesce(user_segment, 'unknown') as user_segment,
        has_explicit_feedback
    from sessions
    where started_at
        >= {{ dbt.dateadd('week', '(1 - ' ~ var('report_chart_weeks') ~ ')', report_week_start()) }}
        and started_at < {{ report_week_end() }}

),

all_sessions_by_week as (

    select
        chart_week_start,
        'all' as series,
        count(*) as sessions,
        count(case when has_explicit_feedback then 1 end) as sessions_with_explicit_feedback
    from chart_sessions
    group by chart_week_start

),

segment_sessions_by_week as (

    select
        chart_week_start,
        user_segment as series,
        count(*) as sessions,
        count(case when has_explicit_feedback then 1 end) as sessions_with_explicit_feedback
    from chart_sessions
    group by chart_week_start, user_segment

),

by_week as (

    select * from all_sessions_by_week
    union all
    select * from segment_sessions_by_week

),

final as (

    select
        cast({{ report_week_start() }} as date) as week_start,
        chart_week_start,
        series,
        cast(sessions as {{ dbt.type_bigint() }}) as sessions,
        cast(sessions_with_explicit_feedback as {{ dbt.type_bigint() }})
            as sessions_with_explicit_feedback
    from by_week

)

select * from final
