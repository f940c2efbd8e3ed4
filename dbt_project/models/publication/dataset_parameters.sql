{#-
    The settings every published dataset's rows are computed with, one row: the as-of time
    their recency weights count from, and the vars half_life_days and holdout_percent. The
    dataset assets write the same values into each version's manifest.

    The as-of time is the newest event or review decision, not the wall clock, so re-running on
    the same input gives the same weights. Events and decisions dated after their own ingestion
    are left out: a client whose clock runs ahead would otherwise age every other row.
-#}
with feedback_events as (

    select occurred_at, ingested_at from {{ ref('stg_feedback_events') }}

),

review_labels as (

    select labeled_at, ingested_at from {{ source('raw_review', 'review_labels') }}

),

newest_event as (

    select max(occurred_at) as occurred_at
    from feedback_events
    where occurred_at <= ingested_at

),

newest_decision as (

    select max(labeled_at) as labeled_at
    from review_labels
    where labeled_at <= ingested_at

),

final as (

    select
        greatest(newest_event.occurred_at, newest_decision.labeled_at) as as_of,
        cast({{ var('half_life_days') }} as double) as half_life_days,
        cast({{ var('holdout_percent') }} as {{ dbt.type_int() }}) as holdout_percent
    from newest_event
    cross join newest_decision

)

select * from final
