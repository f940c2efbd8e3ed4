{#-
    What people should judge instead of the model being trained on it: one row per item (rules:
    the `review_item_rules` doc block). The `review_queue` asset samples the open queue from
    these, per segment, and leaves out items already labeled.
-#}
with generations as (

    select * from {{ ref('fct_generations') }}

),

pair_candidates as (

    select * from {{ ref('fct_preference_candidates') }}

),

high_retry_generations as (

    select * from generations
    where chain_retry_count >= {{ var('high_retry_regenerations') }}

),

chain_roots as (

    select * from high_retry_generations
    where chain_position = 0

),

chain_last_attempts as (

    {{ first_per(
        'high_retry_generations',
        'chain_id',
        'chain_position desc, generated_at desc, generation_id desc',
        '*',
    ) }}

),

-- a chain the user regenerated again and again: was the first output really that bad?
high_retry_items as (

    select
        {{ dbt.concat(["'high_retry:'", 'roots.chain_id']) }} as item_key,
        'high_retry' as reason,
        3 as priority,
        roots.user_key,
        roots.user_segment,
        roots.model_version,
        roots.prompt,
        roots.output as response_a,
        last_attempts.output as response_b,
        cast(null as {{ dbt.type_string() }}) as user_comment,
        {{ array_of(['roots.generation_id', 'last_attempts.generation_id']) }} as generation_ids,
        {{ array_of(['roots.generation_event_id', 'last_attempts.generation_event_id']) }}
            as source_event_ids,
        last_attempts.generated_at as occurred_at,
        cast(null as {{ dbt.type_string() }}) as pair_key,
        cast(null as {{ dbt.type_string() }}) as generation_id
    from chain_roots as roots
    inner join chain_last_attempts as last_attempts on roots.chain_id = last_attempts.chain_id

),

-- a pair the signals support only weakly: which of the two is better?
pair_items as (

    select
        {{ dbt.concat(["'pair:'", 'pair_key']) }} as item_key,
        case
            when low_confidence_reason = 'conflicting_signals' then 'conflicting_signals'
            else 'low_confidence_pair'
        end as reason,
        case when low_confidence_reason = 'conflicting_signals' then 2 else 1 end as priority,
        user_key,
        user_segment,
        model_version,
        prompt,
        rejected as response_a,
        chosen as response_b,
        cast(null as {{ dbt.type_string() }}) as user_comment,
        generation_ids,
        source_event_ids,
        occurred_at,
        pair_key,
        cast(null as {{ dbt.type_string() }}) as generation_id
    from pair_candidates
    where is_low_confidence

),

clean_generations as (

    select * from generations
    where chain_retry_count < {{ var('high_retry_regenerations') }}

),

-- one output to judge: accepted and rejected at once (unedited, else its pair is the item), or
-- rejected with a comment saying why (a reviewer can write the answer the user wanted)
judged_generations as (

    select
        *,
        case
            when has_conflicting_signals and not is_edited then 'conflicting_signals'
            when has_negative_signal and has_comment and not has_conflicting_signals
                then 'negative_with_comment'
        end as reason
    from clean_generations

),

single_output_items as (

    select
        {{ dbt.concat(['reason', "':'", 'generation_id']) }} as item_key,
        reason,
        2 as priority,
        user_key,
        user_segment,
        model_version,
        prompt,
        output as response_a,
        cast(null as {{ dbt.type_string() }}) as response_b,
        comment as user_comment,
        {{ array_of(['generation_id']) }} as generation_ids,
        {{ array_of(['generation_event_id']) }} as source_event_ids,
        generated_at as occurred_at,
        cast(null as {{ dbt.type_string() }}) as pair_key,
        generation_id
    from judged_generations
    where reason is not null

),

items as (

    select * from high_retry_items
    union all
    select * from pair_items
    union all
    select * from single_output_items

),

final as (

    select
        {{ dbt.hash('item_key') }} as item_id,
        item_key,
        reason,
        priority,
        user_key,
        coalesce(user_segment, 'unknown') as user_segment,
        model_version,
        prompt,
        response_a,
        response_b,
        user_comment,
        generation_ids,
        source_event_ids,
        occurred_at,
        pair_key,
        generation_id
    from items

)

select * from final
