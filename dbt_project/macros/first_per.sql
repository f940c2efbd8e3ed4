{#- The first row of `relation` (a CTE name or a parenthesized subquery) per `partition_by` in
    `order_by` order, keeping `columns`. Portable where `qualify` is not. -#}
{% macro first_per(relation, partition_by, order_by, columns) -%}
    select {{ columns }}
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by }} order by {{ order_by }}
            ) as first_per_position
        from {{ relation }}
    ) as ranked
    where first_per_position = 1
{%- endmacro %}
