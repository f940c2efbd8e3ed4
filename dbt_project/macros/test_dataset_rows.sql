{#- Generic tests for the rows of the published datasets (models/publication). -#}

{#- No pair with a missing or empty text, and no pair whose chosen side equals its rejected side
    once whitespace is normalized (the same text rules as the candidates' filter). -#}
{% test no_degenerate_pairs(model, prompt='prompt', chosen='chosen', rejected='rejected') %}
select *
from {{ model }}
where {{ prompt }} is null or {{ chosen }} is null or {{ rejected }} is null
    or not {{ has_text(prompt) }}
    or not {{ has_text(chosen) }}
    or not {{ has_text(rejected) }}
    or {{ same_text(chosen, rejected) }}
{% endtest %}

{#- No text of `column_name` (once its whitespace is removed, as the split's hash sees it) in more
    than one value of `split_column`. -#}
{% test one_split_per_text(model, column_name, split_column='split') %}
select {{ without_whitespace(column_name) }} as text_key, count(distinct {{ split_column }}) as splits
from {{ model }}
group by {{ without_whitespace(column_name) }}
having count(distinct {{ split_column }}) > 1
{% endtest %}

{#- Every value in (0, 1] and none missing: a recency weight. -#}
{% test recency_weight(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is null or {{ column_name }} <= 0 or {{ column_name }} > 1
{% endtest %}

{#- No text of `column_name` (whitespace removed: the prompt key) is a prompt of the anchor set:
    the anchors must stay outside every training split. -#}
{% test not_in_anchor_set(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ prompt_key(column_name) }} in (select prompt_key from {{ ref('anchor_set_rows') }})
{% endtest %}
