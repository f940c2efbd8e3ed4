{#- The key gold items' ids are hashed with (`FEEDBACK_PLATFORM_GOLD_ITEM_KEY`, which the
    Dagster dbt steps derive from the platform's secret salt), as a string literal. Without it a
    build stops rather than make ids anyone could compute; parsing and the docs need none. -#}
{% macro gold_item_key() -%}
    {%- set value = env_var('FEEDBACK_PLATFORM_GOLD_ITEM_KEY', '') -%}
    {%- if value == '' and execute and flags.WHICH in ('build', 'run') -%}
        {{ exceptions.raise_compiler_error(
            "Gold review items need FEEDBACK_PLATFORM_GOLD_ITEM_KEY (the Dagster dbt steps set"
            ~ " it from the platform's salt).") }}
    {%- endif -%}
    '{{ value }}'
{%- endmacro %}
