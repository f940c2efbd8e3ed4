{#- Share of rows meeting a condition, as a fraction in [0, 1] (null over no rows). -#}
{% macro share_of(condition) -%}
    avg(case when {{ condition }} then 1.0 else 0.0 end)
{%- endmacro %}

{#- True when any row of the group meets the condition; portable where bool_or is not. -#}
{% macro any_of(condition) -%}
    (max(case when {{ condition }} then 1 else 0 end) = 1)
{%- endmacro %}

{#- Rows of the group meeting the condition. -#}
{% macro count_of(condition) -%}
    sum(case when {{ condition }} then 1 else 0 end)
{%- endmacro %}
