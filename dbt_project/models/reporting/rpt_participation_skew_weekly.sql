{#-
    The selection bias of explicit feedback in one week (the week of macros/report_week.sql): the
    outcome mix of the sessions that carry explicit feedback against all of the week's
    sessions. Edit rate: share of the sessions' generations edited beyond whitespace. One row
    per week, incremental like `rpt_participation_weekly` (a build replaces its week's row).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='week_start',
        on_schema_change='fail',
        full_refresh=false,
        alias='participation_skew_weekly',
    )
}}

with sessions as (

    select * from {{ ref('fct_sessions') }}

),

generations as (

    select * from {{ ref('fct_generations') }}

),

week_sessions as (

    select
        session_id,
        has_explicit_feedback,
        outcome = 'completed' as is_completed
    from sessions
    where started_at >= {{ report_week_start() }}
        and started_at < {{ report_week_end() }}

),

week_generations as (

    select
        week_sessions.has_explicit_feedback,
        generations.is_edited
    from generations
    inner join week_sessions on generations.session_id = week_sessions.session_id

),

session_mix as (

    select
        count(*) as sessions,
        count(case when has_explicit_feedback then 1 end) as sessions_with_explicit_feedback,
        avg(cast(is_completed as integer)) as completed_share_all,
        avg(case when has_explicit_feedback then cast(is_completed as integer) end)
            as completed_share_explicit
    from week_sessions

),

edit_mix as (

    select
        avg(cast(is_edited as integer)) as edit_rate_all,
        avg(case when has_explicit_feedback then cast(is_edited as integer) end)
            as edit_rate_explicit
    from week_generations

),

final as (

    select
        cast({{ report_week_start() }} as date) as week_start,
        cast(session_mix.sessions as {{ dbt.type_bigint() }}) as sessions,
        cast(session_mix.sessions_with_explicit_feedback as {{ dbt.type_bigint() }})
            as sessions_with_explicit_feedback,
        cast(session_mix.completed_share_all as double) as completed_share_all,
        cast(session_mix.completed_share_explicit as double) as completed_share_explicit,
        cast(
            100 * (session_mix.completed_share_explicit - session_mix.completed_share_all)
            as double
        ) as completed_share_diff_pp,
        cast(edit_mix.edit_rate_all as double) as edit_rate_all,
        cast(edit_mix.edit_rate_explicit as double) as edit_rate_explicit,
        cast(100 * (edit_mix.edit_rate_explicit - edit_mix.edit_rate_all) as double)
            as edit_rate_diff_pp
    from session_mix
    cross join edit_mix

)

select * from final
