{#-
    Every preference pair the events support, before publication: one row per candidate with its
    confidence. Rules: the `preference_pair_rules` doc block. The `preference_pairs` asset
    publishes the confident ones; the rest go to the review queue.

    Incremental: a run redoes the pairs of the generations fct_generations rebuilt since this
    model's newest batch (whole regeneration chains, so a regeneration pair's two sides are
    rebuilt together) and of the prefer events that name one of them. The pre-hook first deletes
    every pair with a rebuilt generation on either side, so a pair that no longer holds (its chain
    went high-retry, its edit was undone) disappears.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='pair_key',
        on_schema_change='fail',
        pre_hook=[
            "{% if is_incremental() %}{% set rebuilt %}chosen_generation_id in ("
            " select generation_id from {{ ref('fct_generations') }}"
            " where batch_ingested_at > {{ high_watermark('batch_ingested_at') }})"
            " or rejected_generation_id in ("
            " select generation_id from {{ ref('fct_generations') }}"
            " where batch_ingested_at > {{ high_watermark('batch_ingested_at') }})"
            "{% endset %}{{ delete_from_this(rebuilt) }}{% endif %}"
        ],
    )
}}

with generations as (

    select * from {{ ref('fct_generations') }}

),

text_changes as (

    select event_id, occurred_at, user_key from {{ ref('int_events_sessionized') }}
    where event_type in {{ event_types_requiring(['edited_text']) }}

),

prefer_events as (

    select event_id, occurred_at, user_key, user_segment, generation_id, other_generation_id
    from {{ ref('int_events_sessionized') }}
    where event_type = 'prefer'

),

{% if is_incremental() %}

rebuilt_generations as (

    select generation_id from {{ ref('fct_generations') }}
    where batch_ingested_at > {{ high_watermark('batch_ingested_at') }}

),

prefer_events_in_scope as (

    select * from prefer_events
    where generation_id in (select generation_id from rebuilt_generations)
        or other_generation_id in (select generation_id from rebuilt_generations)

),

-- the rebuilt generations, and the other side of each prefer event that names one of them
generation_ids_in_scope as (

    select generation_id from rebuilt_generations
    union
    select generation_id from prefer_events_in_scope
    union
    select other_generation_id from prefer_events_in_scope

),

-- chains with many regenerations are not clean training data
clean_generations as (

    select * from generations
    where chain_retry_count < {{ var('high_retry_regenerations') }}
        and generation_id in (select generation_id from generation_ids_in_scope)

),

{% else %}

prefer_events_in_scope as (

    select * from prefer_events

),

-- chains with many regenerations are not clean training data
clean_generations as (

    select * from generations
    where chain_retry_count < {{ var('high_retry_regenerations') }}

),

{% endif %}

edit_pairs as (

    select
        {{ dbt.concat(["'edit:'", 'generations.generation_id']) }} as pair_key,
        case when generations.is_corrected then 'correction' else 'edit' end as source,
        generations.prompt,
        generations.final_text as chosen,
        generations.output as rejected,
        {{ array_of(['generations.generation_id']) }} as generation_ids,
        generations.generation_id as chosen_generation_id,
        generations.generation_id as rejected_generation_id,
        {{ array_of(['generations.generation_event_id', 'generations.last_text_change_event_id']) }}
            as source_event_ids,
        generations.model_version,
        generations.user_segment,
        text_changes.user_key,
        text_changes.occurred_at,
        case
            when generations.has_conflicting_signals then 'conflicting_signals'
            when not generations.is_corrected
                and generations.edit_ratio < {{ var('min_edit_ratio') }} then 'tiny_edit'
        end as low_confidence_reason,
        case
            when generations.is_corrected then {{ var('correction_pair_confidence') }}
            else {{ var('edit_pair_confidence') }}
        end as base_confidence
    from clean_generations as generations
    inner join text_changes on generations.last_text_change_event_id = text_changes.event_id
    where generations.is_edited
        {% if is_incremental() -%}
        and generations.generation_id in (select generation_id from rebuilt_generations)
        {%- endif %}

),

-- the discarded output against the replacement the user then accepted
regeneration_pairs as (

    select
        {{ dbt.concat(["'regeneration:'", 'discarded.generation_id']) }} as pair_key,
        'regeneration' as source,
        discarded.prompt,
        replacement.output as chosen,
        discarded.output as rejected,
        {{ array_of(['discarded.generation_id', 'replacement.generation_id']) }}
            as generation_ids,
        replacement.generation_id as chosen_generation_id,
        discarded.generation_id as rejected_generation_id,
        {{ array_of(['discarded.generation_event_id', 'replacement.generation_event_id']) }}
            as source_event_ids,
        replacement.model_version,
        coalesce(replacement.user_segment, discarded.user_segment) as user_segment,
        replacement.user_key,
        replacement.generated_at as occurred_at,
        case when replacement.has_conflicting_signals then 'conflicting_signals' end
            as low_confidence_reason,
        {{ var('regeneration_pair_confidence') }} as base_confidence
    from clean_generations as discarded
    inner join clean_generations as replacement
        on discarded.replaced_by_generation_id = replacement.generation_id
    where replacement.is_accepted

),

-- the same two outputs chosen both ways round
reversed_choices as (

    select distinct first_choice.event_id
    from prefer_events_in_scope as first_choice
    inner join prefer_events as second_choice
        on first_choice.generation_id = second_choice.other_generation_id
            and first_choice.other_generation_id = second_choice.generation_id

),

prefer_pairs as (

    select
        {{ dbt.concat(["'prefer:'", 'prefer_events.event_id']) }} as pair_key,
        'prefer' as source,
        chosen.prompt,
        chosen.output as chosen,
        rejected.output as rejected,
        {{ array_of(['chosen.generation_id', 'rejected.generation_id']) }} as generation_ids,
        chosen.generation_id as chosen_generation_id,
        rejected.generation_id as rejected_generation_id,
        {{ array_of([
            'prefer_events.event_id',
            'chosen.generation_event_id',
            'rejected.generation_event_id',
        ]) }} as source_event_ids,
        chosen.model_version,
        coalesce(prefer_events.user_segment, chosen.user_segment) as user_segment,
        prefer_events.user_key,
        prefer_events.occurred_at,
        case
            when reversed_choices.event_id is not null then 'conflicting_signals'
            when not {{ same_text('chosen.prompt', 'rejected.prompt') }}
                then 'different_prompts'
        end as low_confidence_reason,
        {{ var('prefer_pair_confidence') }} as base_confidence
    from prefer_events_in_scope as prefer_events
    inner join clean_generations as chosen on prefer_events.generation_id = chosen.generation_id
    inner join clean_generations as rejected
        on prefer_events.other_generation_id = rejected.generation_id
    left join reversed_choices on prefer_events.event_id = reversed_choices.event_id

),

candidates as (

    select * from edit_pairs
    union all
    select * from regeneration_pairs
    union all
    select * from prefer_pairs

),

-- empty texts, or chosen equal to rejected after whitespace normalization, are never pairs
non_degenerate as (

    select *
    from candidates
    where {{ has_text('prompt') }}
        and {{ has_text('chosen') }}
        and {{ has_text('rejected') }}
        and not {{ same_text('chosen', 'rejected') }}

),

scored as (

    select
        *,
        case low_confidence_reason
            when 'conflicting_signals' then {{ var('conflicting_signals_pair_confidence') }}
            when 'different_prompts' then {{ var('different_prompts_pair_confidence') }}
            when 'tiny_edit' then {{ var('tiny_edit_pair_confidence') }}
            else base_confidence
        end as confidence
    from non_degenerate

),

final as (

    select
        {{ dbt.hash('pair_key') }} as pair_id,
        pair_key,
        source,
        prompt,
        {{ prompt_bucket('prompt') }} as prompt_bucket,
        chosen,
        rejected,
        generation_ids,
        chosen_generation_id,
        rejected_generation_id,
        source_event_ids,
        model_version,
        user_segment,
        user_key,
        occurred_at,
        confidence,
        low_confidence_reason,
        confidence < {{ var('min_pair_confidence') }} as is_low_confidence,
        (select max(batch_ingested_at) from {{ ref('fct_generations') }}) as batch_ingested_at
    from scored

)

select * from final
