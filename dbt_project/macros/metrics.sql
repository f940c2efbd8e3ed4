{#- Share of rows meeting a condition, as a fraction in [0, 1] (null over no rows). -#}
{% macro share_of(condition) -%}
    avg(case when {{ condition }} then 1.0 else 0.0 end)
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
