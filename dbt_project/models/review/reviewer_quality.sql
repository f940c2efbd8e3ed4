{#-
    Per label batch and reviewer: how many gold items (anchors with a known answer,
    `review.gold_answers`) they labeled, how many they got right, and whether their labels of
    the batch are left out (rules: the `gold_item_rules` doc block). `batch_labels` drops the
    labels of the reviewers left out; the `review_agreement` asset's check names them.
-#}
with labels as (

    select * from {{ source('raw_review', 'review_labels') }}

),

gold_answers as (

    select * from {{ source('review', 'gold_answers') }}

),

judged as (

    select
        labels.source_file as batch,
        labels.reviewer_id,
        gold_answers.item_id is not null as is_gold,
        coalesce(labels.label = gold_answers.answer, false) as is_correct
    from labels
    left join gold_answers on labels.item_id = gold_answers.item_id

),

counted as (

    select
        batch,
        reviewer_id,
        count(*) as labels,
        count(case when is_gold then 1 end) as gold_seen,
        count(case when is_gold and is_correct then 1 end) as gold_correct
    from judged
    group by batch, reviewer_id

),

scored as (

    select
        batch,
        reviewer_id,
        cast(labels as {{ dbt.type_bigint() }}) as labels,
        cast(gold_seen as {{ dbt.type_bigint() }}) as gold_seen,
        cast(gold_correct as {{ dbt.type_bigint() }}) as gold_correct,
        case when gold_seen > 0 then cast(gold_correct as double) / gold_seen end
            as gold_accuracy
    from counted

),

final as (

    select
        *,
        cast({{ var('min_gold_accuracy') }} as double) as min_gold_accuracy,
        coalesce(
            gold_seen >= {{ var('min_gold_seen') }}
            and gold_accuracy < {{ var('min_gold_accuracy') }},
            false
        ) as is_excluded
    from scored

)

select * from final
