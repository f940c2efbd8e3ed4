{#-
    What users did with each generation: one row per generation id that received any signal,
    from the sessionized events in `events` (rules: the `generation_outcome_rules` doc block).
    Text changes (the event types requiring `edited_text` in the `event_types` seed: edit,
    correction): the last one (by time) wins and gives the final text. A session-class event
    (task_complete) without a generation_id credits the session's latest generation before it.
    Which signals are explicit, implicit or accepting comes from the seed too (the events'
    `is_explicit_feedback` / `is_implicit_signal` flags and `accepts_output`), never from a list
    here. `event_texts` is `int_event_texts` (or a relation with its columns): the texts join on
    last.

    A macro rather than a model so that fct_generations can hand it only the events of the
    generations a run touches: a view would aggregate every event of every generation first.
-#}
{% macro generation_signals(events, event_texts) -%}
    with events as (

        select * from {{ events }}

    ),

    edited_texts as (

        select event_id, edited_text from {{ event_texts }}
        where event_type in {{ event_types_requiring(['edited_text']) }}

    ),

    comment_texts as (

        select event_id, comment from {{ event_texts }}
        where event_type = 'comment'

    ),

    generation_events as (

        select generation_id, session_id, occurred_at, event_id
        from events
        where event_type = 'generation'

    ),

    unlinked_completions as (

        select
            event_id, event_type, session_id, occurred_at, is_explicit_feedback, is_implicit_signal
        from events
        where event_type in {{ event_types_where("signal_class = 'session'") }}
            and generation_id is null

    ),

    -- every generation of the session at or before the completion
    completion_candidates as (

        select
            completions.event_id,
            completions.event_type,
            completions.occurred_at,
            completions.is_explicit_feedback,
            completions.is_implicit_signal,
            generations.generation_id,
            generations.occurred_at as generated_at,
            generations.event_id as generation_event_id
        from unlinked_completions as completions
        inner join generation_events as generations
            on completions.session_id = generations.session_id
            and generations.occurred_at <= completions.occurred_at

    ),

    -- the latest of them gets the credit
    credited_completions as (

        {{ first_per(
            'completion_candidates',
            'event_id',
            'generated_at desc, generation_event_id desc',
            'event_id, event_type, occurred_at, generation_id, is_explicit_feedback,'
                ~ ' is_implicit_signal',
        ) }}

    ),

    linked_signals as (

        select
            event_id,
            event_type,
            occurred_at,
            generation_id,
            is_explicit_feedback,
            is_implicit_signal,
            rating,
            dwell_ms
        from events
        where event_type <> 'generation' and generation_id is not null

    ),

    -- the generation a prefer event passed over, as its own signal: explicit like the prefer
    -- event, and never accepting (`prefer_rejected` is no type of the seed)
    rejected_in_preference as (

        select
            event_id,
            'prefer_rejected' as event_type,
            occurred_at,
            other_generation_id as generation_id,
            is_explicit_feedback,
            is_implicit_signal
        from events
        where event_type = 'prefer' and other_generation_id is not null

    ),

    signals as (

        select * from linked_signals

        union all

        -- signals without text or values of their own
        select
            event_id,
            event_type,
            occurred_at,
            generation_id,
            is_explicit_feedback,
            is_implicit_signal,
            cast(null as {{ dbt.type_int() }}) as rating,
            cast(null as {{ dbt.type_bigint() }}) as dwell_ms
        from (
            select * from credited_completions
            union all
            select * from rejected_in_preference
        ) as derived_signals

    ),

    -- whether the signal's type accepts the output, from the taxonomy seed (joined, since an
    -- `in (subquery)` outside a where clause is not portable)
    typed_signals as (

        select
            signals.*,
            coalesce(event_types.accepts_output, false) as accepts_output
        from signals
        left join {{ ref('event_types') }} as event_types
            on signals.event_type = event_types.event_type

    ),

    latest_text_change as (

        {{ first_per(
            "(select * from signals where event_type in "
                ~ event_types_requiring(['edited_text']) ~ ")",
            'generation_id',
            'occurred_at desc, event_id desc',
            'generation_id, event_id, event_type',
        ) }}

    ),

    latest_rating as (

        {{ first_per(
            "(select * from signals where event_type = 'rating')",
            'generation_id',
            'occurred_at desc, event_id desc',
            'generation_id, rating',
        ) }}

    ),

    latest_comment as (

        {{ first_per(
            "(select * from signals where event_type = 'comment')",
            'generation_id',
            'occurred_at desc, event_id desc',
            'generation_id, event_id',
        ) }}

    ),

    aggregated as (

        select
            generation_id,
            {{ count_of("event_type = 'edit'") }} as edit_event_count,
            {{ count_of("event_type = 'correction'") }} as correction_event_count,
            {{ any_of("event_type = 'copy'") }} as is_copied,
            {{ any_of("event_type = 'share'") }} as is_shared,
            {{ any_of("event_type = 'task_complete'") }} as has_task_complete,
            {{ any_of("event_type = 'thumbs_up'") }} as has_thumbs_up,
            {{ any_of("event_type = 'thumbs_down'") }} as has_thumbs_down,
            {{ any_of("event_type = 'comment'") }} as has_comment,
            {{ count_of("event_type = 'prefer'") }} as preferred_count,
            {{ count_of("event_type = 'prefer_rejected'") }} as passed_over_count,
            {{ count_of("event_type = 'view'") }} as view_count,
            -- a bigint like the events' dwell_ms (DuckDB sums bigints into a HUGEINT)
            cast(sum(dwell_ms) as {{ dbt.type_bigint() }}) as dwell_ms,
            {{ any_of('accepts_output') }} as has_accepting_signal,
            {{ any_of('is_explicit_feedback') }} as has_explicit_feedback,
            {{ any_of('is_implicit_signal') }} as has_implicit_signal
        from typed_signals
        group by generation_id

    ),

    final as (

        select
            aggregated.*,
            edited_texts.edited_text as last_edited_text,
            latest_text_change.event_type as last_text_change_type,
            latest_text_change.event_id as last_text_change_event_id,
            latest_rating.rating,
            comment_texts.comment
        from aggregated
        left join latest_text_change on aggregated.generation_id = latest_text_change.generation_id
        left join edited_texts on latest_text_change.event_id = edited_texts.event_id
        left join latest_rating on aggregated.generation_id = latest_rating.generation_id
        left join latest_comment on aggregated.generation_id = latest_comment.generation_id
        left join comment_texts on latest_comment.event_id = comment_texts.event_id

    )

    select * from final
{%- endmacro %}
