{#-
    Per segment of the next preference pairs (and `curated`): how many anchors the anchor set
    holds for it, and whether that is below the floor `min_anchors_per_segment`, so a segment
    trained on without enough human-decided examples to measure it is named. The `anchor_set`
    asset's check warns on the segments below the floor.
-#}
with anchors as (

    select * from {{ ref('anchor_set_rows') }}

),

pair_rows as (

    select * from {{ ref('preference_pair_rows') }}

),

segments as (

    select user_segment from pair_rows
    union
    select user_segment from anchors

),

anchor_counts as (

    select user_segment, count(*) as anchors
    from anchors
    group by user_segment

),

final as (

    select
        segments.user_segment,
        cast(coalesce(anchor_counts.anchors, 0) as {{ dbt.type_bigint() }}) as anchors,
        cast({{ var('min_anchors_per_segment') }} as {{ dbt.type_bigint() }}) as floor_anchors,
        coalesce(anchor_counts.anchors, 0) < {{ var('min_anchors_per_segment') }}
            as is_below_floor
    from segments
    left join anchor_counts on segments.user_segment = anchor_counts.user_segment

)

select * from final
