{#-
    The bounds of the one week a weekly reporting model builds (models/reporting), from the vars
    `week_start` and `week_end` (ISO dates, the end exclusive) that the Dagster asset passes for
    its partition, as dagster-open-platform drives its partitioned models. Without them a build
    of these models stops with a message, rather than guess a week; parsing and the docs, which
    run no model, need none.
-#}
{% macro report_week_bound(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none and execute and flags.WHICH in ('build', 'run') -%}
        {{ exceptions.raise_compiler_error(
            "The weekly reporting models build one week: pass --vars "
            ~ "'{week_start: 2026-10-05, week_end: 2026-10-12}' (Dagster passes the partition's).") }}
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
