{{ config(schema='intermediate') }}

{#- The users whose feedback must not reach training data: the review queue, the datasets and
    contributor impact leave out their rows; analytics (sessions, metrics, reports) keep them.
    A user is out after an erase request (for good: their rows are being removed) or when their
    latest consent request, by requested_at, opted out. -#}

with requests as (

    select * from {{ source('privacy', 'privacy_requests') }}

),

with_user_key as (

    -- an erased user's key is cleared once their rows are gone: nothing of theirs is left
    select * from requests
    where user_key is not null

),

ranked_consent as (

    select
        user_key,
        kind,
        requested_at,
        row_number() over (
            partition by user_key
            order by requested_at desc, ingested_at desc, request_id desc
        ) as recency_rank
    from with_user_key
    where kind in ('opt_out_training', 'opt_in_training')

),

opted_out as (

    select
        user_key,
        requested_at as out_since,
        'opt_out_training' as reason
    from ranked_consent
    where recency_rank = 1 and kind = 'opt_out_training'

),

erased as (

    select
        user_key,
        min(requested_at) as out_since,
        'erase' as reason
    from with_user_key
    where kind = 'erase'
    group by user_key

),

final as (

    select * from erased
    union all
    select * from opted_out
    where user_key not in (select user_key from erased)

)

select * from final
