{#- The newest `column` an incremental model already holds, or a time before any event when it
    holds nothing yet (a first build over an empty warehouse must not stall later runs). -#}
{% macro high_watermark(column) -%}
    (
        select coalesce(max(watermarked.{{ column }}), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
        from {{ this }} as watermarked
    )
{%- endmacro %}
