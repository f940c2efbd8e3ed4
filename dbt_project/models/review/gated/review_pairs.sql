{#-
    Clear majorities of the batches that passed the agreement gate, as `review` preference
    pairs (rules: the `review_agreement_rules` doc block). The published preference pairs read
    these; their columns are the datasets' pair columns plus the item and batch.
-#}
with batch_labels as (

    select * from {{ ref('batch_labels') }}

),

item_agreement as (

    select * from {{ ref('item_agreement') }}

),

agreement as (

    select * from {{ source('review', 'agreement') }}

),

items as (

    select * from {{ source('review', 'review_items') }}

),

usable_batches as (

    select batch from agreement
    where reason = 'all' and is_usable

),

batches as (

    select batch, max(ingested_at) as batch_ingested_at
    from batch_labels
    group by batch

),

decisions as (

    select
        item_agreement.*,
        batches.batch_ingested_at
    from item_agreement
    inner join usable_batches on item_agreement.batch = usable_batches.batch
    inner join batches on item_agreement.batch = batches.batch
    where item_agreement.has_clear_majority

),

-- an item decided in several usable batches: the latest batch wins
latest_decisions as (

    {{ first_per(
        'decisions',
        'item_id',
        'batch_ingested_at desc, batch desc',
        'batch, item_id, majority_label, majority_share',
    ) }}

),

decision_times as (

    select batch, item_id, max(labeled_at) as decided_at
    from batch_labels
    group by batch, item_id

),

-- `neither` takes the batch's latest corrected text of the item
corrections as (

    {{ first_per(
        "(select * from batch_labels where label = 'neither' and " ~ has_text('corrected_text') ~ ")",
        'batch, item_id',
        'labeled_at desc, reviewer_id desc',
        'batch, item_id, corrected_text',
    ) }}

),

judged as (

    select
        items.*,
        decisions.batch,
        decisions.majority_share,
        decision_times.decided_at,
        case decisions.majority_label
            when 'a' then items.response_a
            when 'b' then items.response_b
            when 'neither' then corrections.corrected_text
        end as chosen,
        case decisions.majority_label
            when 'a' then items.response_b
            when 'b' then items.response_a
            when 'neither' then items.response_a
        end as rejected
    from latest_decisions as decisions
    inner join items on decisions.item_id = items.item_id
    inner join decision_times
        on decisions.batch = decision_times.batch and decisions.item_id = decision_times.item_id
    left join corrections
        on decisions.batch = corrections.batch and decisions.item_id = corrections.item_id

),

final as (

    select
        {{ dbt.hash(dbt.concat(["'review:'", 'item_id'])) }} as pair_id,
        'review' as source,
        prompt,
        chosen,
        rejected,
        generation_ids,
        source_event_ids,
        model_version,
        user_segment,
        cast(null as {{ dbt.type_string() }}) as user_key,
        decided_at as occurred_at,
        cast(majority_share as double) as confidence,
        item_id,
        batch
    from judged
    where {{ has_text('prompt') }}
        and {{ has_text('chosen') }}
        and {{ has_text('rejected') }}
        and not {{ same_text('chosen', 'rejected') }}

)

select * from final
