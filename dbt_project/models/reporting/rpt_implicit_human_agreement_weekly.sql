{#-
    How often implicit signals agree with reviewers in one week (the week of
    macros/report_week.sql), per model version: the reviewed items of `implicit_human_comparisons`
    whose output was shown in the week (rules: the `implicit_human_agreement_rules` doc block).
    No row for a model version without compared items, none at all for a week without any.
    A build replaces its week's rows: the pre-hook deletes them first, so a week whose
    comparisons are gone (erased, re-decided) loses its old rows too, which a delete+insert by
    the new rows' weeks would keep. Full refresh is off, since a build sees one week only.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        full_refresh=false,
        alias='implicit_human_agreement_weekly',
        pre_hook=[
            "{% if is_incremental() %}{{ delete_from_this("
            "'week_start = cast(' ~ report_week_start() ~ ' as date)') }}{% endif %}"
        ],
    )
}}

with comparisons as (

    select * from {{ ref('implicit_human_comparisons') }}

),

week_comparisons as (

    select * from comparisons
    where generated_at >= {{ report_week_start() }}
        and generated_at < {{ report_week_end() }}

),

counted as (

    select
        model_version,
        count(*) as compared_items,
        {{ count_of('is_agreeing') }} as agreeing_items,
        {{ share_of('is_agreeing') }} as agreement_rate
    from week_comparisons
    group by model_version

),

final as (

    select
        cast({{ report_week_start() }} as date) as week_start,
        model_version,
        cast(compared_items as {{ dbt.type_bigint() }}) as compared_items,
        cast(agreeing_items as {{ dbt.type_bigint() }}) as agreeing_items,
        cast(agreement_rate as double) as agreement_rate,
        cast({{ var('min_implicit_human_agreement') }} as double) as min_agreement,
        cast({{ var('min_implicit_human_compared_items') }} as {{ dbt.type_bigint() }})
            as min_compared_items,
        compared_items >= {{ var('min_implicit_human_compared_items') }}
        and agreement_rate < {{ var('min_implicit_human_agreement') }} as is_agreement_low
    from counted

)

select * from final
