{#-
    Per hashed user and month: how many of their edits, corrections and choices (prefer events)
    are among the rows of the next preference-pairs version, and the sentence the product shows
    them ("Your corrections helped improve 12 answers this month"). Regenerations and reviewed
    pairs are nobody's own contribution. "this month" is the month of the dataset's as-of time,
    so the sentence does not change with the wall clock. The `contributor_impact` asset keeps
    these rows as `training.contributor_impact`, with the pairs version they count.
-#}
with pair_rows as (

    select * from {{ ref('preference_pair_rows') }}

),

parameters as (

    select * from {{ ref('dataset_parameters') }}

),

contributions as (

    select
        user_key,
        cast({{ dbt.date_trunc('month', 'occurred_at') }} as date) as month,
        source,
        -- the answer the user's text or choice improved: the pair's first generation
        {{ first_element('generation_ids') }} as generation_id
    from pair_rows
    -- a pair is the user's own contribution when its source event carried their text (an edit
    -- or a correction) or their choice (prefer): the event types that require one of those
    where source in {{ event_types_requiring(['edited_text', 'other_generation_id']) }}
        and user_key is not null

),

per_month as (

    select
        user_key,
        month,
        count(case when source = 'edit' then 1 end) as edits,
        count(case when source = 'correction' then 1 end) as corrections,
        count(case when source = 'prefer' then 1 end) as choices,
        count(distinct generation_id) as answers_improved
    from contributions
    group by user_key, month

),

-- the kinds of contribution the user made, as a list in words
worded as (

    select
        per_month.*,
        case
            when edits > 0 and corrections > 0 and choices > 0
                then 'edits, corrections and choices'
            when edits > 0 and corrections > 0 then 'edits and corrections'
            when edits > 0 and choices > 0 then 'edits and choices'
            when corrections > 0 and choices > 0 then 'corrections and choices'
            when edits > 0 then 'edits'
            when corrections > 0 then 'corrections'
            else 'choices'
        end as contribution_kinds,
        case
            when per_month.month = cast({{ dbt.date_trunc('month', 'parameters.as_of') }} as date)
                then 'this month'
            else {{ dbt.concat(["'in '", month_and_year('per_month.month')]) }}
        end as period
    from per_month
    cross join parameters

),

final as (

    select
        user_key,
        month,
        edits,
        corrections,
        choices,
        answers_improved,
        {{ dbt.concat([
            "'Your '",
            'contribution_kinds',
            "' helped improve '",
            'cast(answers_improved as ' ~ dbt.type_string() ~ ')',
            "case when answers_improved = 1 then ' answer ' else ' answers ' end",
            'period',
        ]) }} as message
    from worded

)

select * from final
