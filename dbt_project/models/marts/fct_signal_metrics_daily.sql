{#-
    Signal metrics by day x model_version x user_segment. Generations, chains and dwell count on
    the day of the generation (a chain on the day of its first generation); sessions on the day
    they started, under the model of their first generation. Rebuilt from the two facts each run:
    it is an aggregate over them, far cheaper than the incremental work upstream.
-#}
with generations as (

    select * from {{ ref('fct_generations') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

generation_metrics as (

    select
        cast(generated_at as date) as metric_date,
        coalesce(model_version, 'unknown') as model_version,
        coalesce(user_segment, 'unknown') as user_segment,
        count(*) as generations,
        {{ share_of('is_edited') }} as edit_rate,
        avg(case when is_edited then edit_ratio end) as mean_edit_ratio,
        {{ share_of('is_regenerated') }} as retry_rate,
        {{ count_of('chain_position = 0') }} as chains,
        -- over the chains' roots only: avg skips the null of every other generation
        {{ share_of(
            'chain_retry_count >= ' ~ var('high_retry_regenerations'), among='chain_position = 0'
        ) }} as high_retry_chain_share,
        {{ median('dwell_ms') }} as median_dwell_ms,
        {{ share_of('is_copied') }} as copy_rate,
        {{ share_of('is_shared') }} as share_rate,
        {{ share_of('has_thumbs_up') }} as thumbs_up_rate,
        {{ share_of('has_thumbs_down') }} as thumbs_down_rate
    from generations
    group by 1, 2, 3

),

session_metrics as (

    select
        cast(started_at as date) as metric_date,
        coalesce(model_version, 'unknown') as model_version,
        coalesce(user_segment, 'unknown') as user_segment,
        count(*) as sessions,
        {{ share_of("outcome = 'abandoned'") }} as abandonment_rate,
        {{ share_of('has_explicit_feedback') }} as explicit_participation_rate
    from sessions
    group by 1, 2, 3

),

final as (

    select
        coalesce(generation_metrics.metric_date, session_metrics.metric_date) as metric_date,
        coalesce(generation_metrics.model_version, session_metrics.model_version)
            as model_version,
        coalesce(generation_metrics.user_segment, session_metrics.user_segment) as user_segment,
        coalesce(generation_metrics.generations, 0) as generations,
        coalesce(session_metrics.sessions, 0) as sessions,
        generation_metrics.edit_rate,
        generation_metrics.mean_edit_ratio,
        generation_metrics.retry_rate,
        coalesce(generation_metrics.chains, 0) as chains,
        generation_metrics.high_retry_chain_share,
        session_metrics.abandonment_rate,
        generation_metrics.median_dwell_ms,
        generation_metrics.copy_rate,
        generation_metrics.share_rate,
        generation_metrics.thumbs_up_rate,
        generation_metrics.thumbs_down_rate,
        session_metrics.explicit_participation_rate
    from generation_metrics
    full outer join session_metrics
        on generation_metrics.metric_date = session_metrics.metric_date
            and generation_metrics.model_version = session_metrics.model_version
            and generation_metrics.user_segment = session_metrics.user_segment

)

select * from final
