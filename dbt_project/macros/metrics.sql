{#- Share of rows meeting a condition, as a fraction in [0, 1] (null over no rows); with `among`,
    the share of the rows meeting `among` (null over none of them). A double on every engine. -#}
{% macro share_of(condition, among=none) -%}
    {%- if among is none -%}
        avg(case when {{ condition }} then {{ share_term(1) }} else {{ share_term(0) }} end)
    {%- else -%}
        avg(
            case
                when {{ among }} and {{ condition }} then {{ share_term(1) }}
                when {{ among }} then {{ share_term(0) }}
            end
        )
    {%- endif -%}
{%- endmacro %}

{#- One row's term of a share, 1 or 0. Spark averages a decimal literal into a DECIMAL(6,5),
    rounded off by up to 5e-6: a double there. DuckDB averages its decimal into a double
    already (kept as it was, so its results do not move by an ulp). -#}
{% macro share_term(value) -%}
    {{ return(adapter.dispatch('share_term')(value)) }}
{%- endmacro %}

{% macro default__share_term(value) -%}
    cast({{ value }} as double)
{%- endmacro %}

{% macro duckdb__share_term(value) -%}
    {{ value }}.0
{%- endmacro %}

{#- True when any row of the group meets the condition; portable where bool_or is not. -#}
{% macro any_of(condition) -%}
    (max(case when {{ condition }} then 1 else 0 end) = 1)
{%- endmacro %}

{#- Rows of the group meeting the condition. A count, not a sum of ones: a count is a bigint on
    every engine, where DuckDB sums integers into a HUGEINT (int128) that Spark has no type for. -#}
{% macro count_of(condition) -%}
    count(case when {{ condition }} then 1 end)
{%- endmacro %}
