{#-
    The bounds of the one week a weekly reporting model builds (models/reporting), from the
    environment variables FEEDBACK_PLATFORM_REPORT_WEEK_START and _WEEK_END (ISO dates, the end
    exclusive) that the Dagster asset sets for its partition. Not vars: dbt parses the whole
    project again whenever the vars change (6.2 s against 3.8 s a week's build). Read only
    when a model runs (`execute`), never while dbt parses, so dbt does not record them as the
    files' inputs and the next week's build parses nothing again (0.6-0.9 s of CPU a week).
    Without them a build of these models stops with a message, rather than guess a week;
    parsing and the docs, which run no model, need none.
-#}
{% macro report_week_bound(name) -%}
    {%- set value = env_var('FEEDBACK_PLATFORM_REPORT_' ~ name | upper, '') if execute else '' -%}
    {%- if value == '' and execute and flags.WHICH in ('build', 'run') -%}
        {{ exceptions.raise_compiler_error(
            "The weekly reporting models build one week: set FEEDBACK_PLATFORM_REPORT_WEEK_START"
            ~ " and _WEEK_END (ISO dates; Dagster sets the partition's).") }}
    {%- endif -%}
    cast('{{ value }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- Monday 00:00 UTC of the week being built. -#}
{% macro report_week_start() -%}
    {{ report_week_bound('week_start') }}
{%- endmacro %}

{#- The next Monday 00:00 UTC: the week's end, exclusive. -#}
{% macro report_week_end() -%}
    {{ report_week_bound('week_end') }}
{%- endmacro %}

{#- The Monday (a date) of the week `timestamp` falls in. -#}
{% macro week_of(timestamp) -%}
    cast({{ dbt.date_trunc('week', timestamp) }} as date)
{%- endmacro %}
