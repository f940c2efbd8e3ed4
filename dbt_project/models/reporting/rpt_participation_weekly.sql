{#-
    The weekly participation figures of one week (the week of macros/report_week.sql, which Dagster
    passes for the partition), one row per dimension and value. A session counts in the week
    it started, under its segment and the model of its first generation; a generation in the
    week it was shown, under its own model and segment (its session's segment when the
    generation event did not carry one). Incremental: a build replaces that week's rows and
    leaves every other week alone. Full refresh is off, since a build sees one week only: to
    rebuild every week, backfill the partitions.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='week_start',
        on_schema_change='fail',
        full_refresh=false,
        alias='participation_weekly',
    )
}}

with sessions as (

    select * from {{ ref('fct_sessions') }}

),

generations as (

    select * from {{ ref('fct_generations') }}

),

-- the week's sessions and the previous week's, which the week over week change compares with
recent_sessions as (

    select
        started_at >= {{ report_week_start() }} as is_in_week,
        user_key,
        coalesce(user_segment, 'unknown') as user_segment,
        coalesce(model_version, 'unknown') as model_version,
        has_explicit_feedback
    from sessions
    where started_at >= {{ dbt.dateadd('week', -1, report_week_start()) }}
        and started_at < {{ report_week_end() }}

),

-- each session once per dimension it is reported under: the total, its segment, its model
session_dimensions as (

    select is_in_week, 'all' as dimension, 'all' as dimension_value, user_key, has_explicit_feedback
    from recent_sessions
    union all
    select
        is_in_week,
        'user_segment' as dimension,
        user_segment as dimension_value,
        user_key,
        has_explicit_feedback
    from recent_sessions
    union all
    select
        is_in_week,
        'model_version' as dimension,
        model_version as dimension_value,
        user_key,
        has_explicit_feedback
    from recent_sessions

),

session_stats as (

    select
        is_in_week,
        dimension,
        dimension_value,
        count(*) as sessions,
        count(case when has_explicit_feedback then 1 end) as sessions_with_explicit_feedback,
        count(distinct user_key) as users,
        count(distinct case when has_explicit_feedback then user_key end)
            as users_with_explicit_feedback
    from session_dimensions
    group by is_in_week, dimension, dimension_value

),

week_generations as (

    select
        coalesce(generations.user_segment, sessions.user_segment, 'unknown') as user_segment,
        coalesce(generations.model_version, 'unknown') as model_version,
        generations.has_implicit_signal
    from generations
    left join sessions on generations.session_id = sessions.session_id
    where generations.generated_at >= {{ report_week_start() }}
        and generations.generated_at < {{ report_week_end() }}

),

generation_dimensions as (

    select 'all' as dimension, 'all' as dimension_value, has_implicit_signal
    from week_generations
    union all
    select 'user_segment' as dimension, user_segment as dimension_value, has_implicit_signal
    from week_generations
    union all
    select 'model_version' as dimension, model_version as dimension_value, has_implicit_signal
    from week_generations

),

generation_stats as (

    select
        dimension,
        dimension_value,
        count(*) as generations,
        count(case when has_implicit_signal then 1 end) as generations_with_implicit_signal
    from generation_dimensions
    group by dimension, dimension_value

),

current_week as (

    select * from session_stats
    where is_in_week

),

previous_week as (

    select * from session_stats
    where not is_in_week

),

-- every value the week has sessions or generations for; an empty week still has its total
report_keys as (

    select 'all' as dimension, 'all' as dimension_value
    union
    select dimension, dimension_value from current_week
    union
    select dimension, dimension_value from generation_stats

),

rates as (

    select
        report_keys.dimension,
        report_keys.dimension_value,
        coalesce(current_week.sessions, 0) as sessions,
        coalesce(current_week.sessions_with_explicit_feedback, 0)
            as sessions_with_explicit_feedback,
        cast(current_week.sessions_with_explicit_feedback as double)
        / nullif(current_week.sessions, 0) as explicit_participation_rate,
        coalesce(current_week.users, 0) as users,
        coalesce(current_week.users_with_explicit_feedback, 0) as users_with_explicit_feedback,
        coalesce(generation_stats.generations, 0) as generations,
        cast(generation_stats.generations_with_implicit_signal as double)
        / nullif(generation_stats.generations, 0) as implicit_coverage,
        cast(previous_week.sessions_with_explicit_feedback as double)
        / nullif(previous_week.sessions, 0) as previous_rate
    from report_keys
    left join current_week
        on report_keys.dimension = current_week.dimension
            and report_keys.dimension_value = current_week.dimension_value
    left join previous_week
        on report_keys.dimension = previous_week.dimension
            and report_keys.dimension_value = previous_week.dimension_value
    left join generation_stats
        on report_keys.dimension = generation_stats.dimension
            and report_keys.dimension_value = generation_stats.dimension_value

),

final as (

    select
        cast({{ report_week_start() }} as date) as week_start,
        dimension,
        dimension_value,
        cast(sessions as {{ dbt.type_bigint() }}) as sessions,
        cast(sessions_with_explicit_feedback as {{ dbt.type_bigint() }})
            as sessions_with_explicit_feedback,
        explicit_participation_rate,
        cast(users as {{ dbt.type_bigint() }}) as users,
        cast(users_with_explicit_feedback as {{ dbt.type_bigint() }})
            as users_with_explicit_feedback,
        cast(generations as {{ dbt.type_bigint() }}) as generations,
        implicit_coverage,
        explicit_participation_rate - previous_rate as explicit_participation_rate_change
    from rates

)

select * from final
