{#-
    One row per week with sessions: when the newest of the marts' rows its weekly participation
    report reads was ingested (the marts stamp every row they rebuild with its batch). The
    report reads the sessions that started in the week and in the weeks before it that its
    chart shows (the week over week change reads the previous one, and a generation's segment
    its session), and the generations shown in the week or the next (the skew reads the
    generations of the week's sessions, shown by then unless a session lasts over a week),
    and the review decisions held against the implicit signals of the outputs shown in the week
    (a label batch ingested later makes the week's agreement lines stale).
    A report is stale once this moves past the stamp it recorded
    (`reports.participation_report_inputs`). A view: it is read right after each build of the
    marts, and costs two scans of two columns.
-#}
{{ config(materialized='view') }}

with sessions as (

    select * from {{ ref('fct_sessions') }}

),

generations as (

    select * from {{ ref('fct_generations') }}

),

implicit_human_comparisons as (

    select * from {{ ref('implicit_human_comparisons') }}

),

session_weeks as (

    select
        {{ week_of('started_at') }} as week_start,
        max(batch_ingested_at) as newest_ingested_at
    from sessions
    group by {{ week_of('started_at') }}

),

generation_weeks as (

    select
        {{ week_of('generated_at') }} as week_start,
        max(batch_ingested_at) as newest_ingested_at
    from generations
    group by {{ week_of('generated_at') }}

),

comparison_weeks as (

    select
        week_start,
        max(batch_ingested_at) as newest_ingested_at
    from implicit_human_comparisons
    group by week_start

),

-- the session weeks a week's report reads: its chart's weeks, up to and including its own
session_inputs as (

    select
        report_weeks.week_start,
        shown.newest_ingested_at
    from session_weeks as report_weeks
    inner join session_weeks as shown
        on shown.week_start >= {{ dbt.dateadd(
            'week', '(1 - ' ~ var('report_chart_weeks') ~ ')', 'report_weeks.week_start'
        ) }}
            and report_weeks.week_start >= shown.week_start

),

-- the generation weeks a week's report reads: its own and the next
generation_inputs as (

    select
        report_weeks.week_start,
        shown.newest_ingested_at
    from session_weeks as report_weeks
    inner join generation_weeks as shown
        on report_weeks.week_start <= shown.week_start
            and shown.week_start <= {{ dbt.dateadd('week', 1, 'report_weeks.week_start') }}

),

-- the review decisions a week's report reads: those about its own outputs
comparison_inputs as (

    select
        report_weeks.week_start,
        compared.newest_ingested_at
    from session_weeks as report_weeks
    inner join comparison_weeks as compared on report_weeks.week_start = compared.week_start

),

inputs as (

    select * from session_inputs
    union all
    select * from generation_inputs
    union all
    select * from comparison_inputs

),

final as (

    select
        week_start,
        max(newest_ingested_at) as newest_input_ingested_at
    from inputs
    group by week_start

)

select * from final
