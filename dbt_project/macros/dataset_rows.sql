{#- The two rules every published dataset applies to its rows (models/publication), one home for
    the preference pairs and the KTO signals alike. `parameters` is the `dataset_parameters`
    model (its as-of time and the vars), joined to the rows. -#}

{#- Recency weight in (0, 1]: 0.5 ^ (age in days / half_life_days), the age counted from the
    dataset's as-of time, not the wall clock, so the same input always gives the same weights.
    A row dated after the as-of time (a client clock running ahead) is not aged below zero.
    Seconds per day as a double: Spark reads `86400.0` as a decimal and rounds the quotient to
    its scale (weights off by 1e-9); DuckDB divides in doubles either way. -#}
{% macro recency_weight(occurred_at, parameters='parameters') -%}
    power(
        0.5,
        greatest({{ dbt.datediff(occurred_at, parameters ~ '.as_of', 'second') }}, 0)
            / cast(86400 as double)
            / {{ parameters }}.half_life_days
    )
{%- endmacro %}

{#- `holdout` for the prompts whose bucket (`prompt_bucket`, a hash of the whitespace-free prompt,
    0-99) is below holdout_percent, `train` for the others: one prompt is never in both. -#}
{% macro holdout_split(prompt_bucket, parameters='parameters') -%}
    case when {{ prompt_bucket }} < {{ parameters }}.holdout_percent then 'holdout' else 'train' end
{%- endmacro %}

{#- The key a prompt is held out or anchored by: the prompt with its whitespace removed, the text
    the holdout bucket hashes, so prompts that differ only in whitespace are one prompt. -#}
{% macro prompt_key(prompt) -%}
    {{ without_whitespace(prompt) }}
{%- endmacro %}

{#- The pair sources whose chosen side a person wrote or chose, as a relation with one column
    `source`: the event types of the taxonomy seed that carry the person's own text
    (`edited_text`: edits, corrections) or their choice between two outputs
    (`other_generation_id`: prefer), and the reviewers' decisions (`review`). A regeneration's
    chosen side is the model's own replacement. Joined (`left join ... as human using (source)`)
    rather than an `in` subquery, so it can also mark rows in a select list. -#}
{% macro human_chosen_sources() -%}
    (
        select event_type as source
        from {{ ref('event_types') }}
        where event_type in {{ event_types_requiring(['edited_text', 'other_generation_id']) }}
        union all
        select 'review' as source
    )
{%- endmacro %}
