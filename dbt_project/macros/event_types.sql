{#-
    The event types of the taxonomy seed `event_types` that meet a condition on its columns, as
    a subquery for `event_type in ...`: the models ask the seed for their lists of event types
    instead of writing them out. Read when the query runs, so a new row of the seed needs no
    change here.
-#}
{% macro event_types_where(condition) -%}
    (select event_type from {{ ref('event_types') }} where {{ condition }})
{%- endmacro %}

{#-
    The event types that require any of `fields` (the seed's space-separated `required_fields`),
    as a subquery for `event_type in ...`.
-#}
{% macro event_types_requiring(fields) -%}
    {%- set padded = dbt.concat(["' '", "coalesce(required_fields, '')", "' '"]) -%}
    {%- set conditions = [] -%}
    {%- for field in fields -%}
        {%- do conditions.append(padded ~ " like '% " ~ field ~ " %'") -%}
    {%- endfor -%}
    {{ event_types_where(conditions | join(' or ')) }}
{%- endmacro %}

{#-
    Whether an event type of the taxonomy seed counts as explicit feedback, or as an implicit
    signal (class `implicit` or `session`, task completion), from its `signal_class` column:
    the staged events and the weekly report's list of types both ask here.
-#}
{% macro is_explicit_feedback_class(signal_class) -%}
    coalesce({{ signal_class }} = 'explicit', false)
{%- endmacro %}

{% macro is_implicit_signal_class(signal_class) -%}
    coalesce({{ signal_class }} in ('implicit', 'session'), false)
{%- endmacro %}
