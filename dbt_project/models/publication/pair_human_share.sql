{#-
    Per model version and segment of the next preference-pairs version: how many pairs have a
    chosen side a person wrote or chose (edits, corrections, prefer choices, reviews) and how
    many a model wrote (regenerations), and the human share. The `preference_pairs` asset
    writes these figures into the version's manifest, with the change from its parent.
-#}
with pair_rows as (

    select * from {{ ref('preference_pair_rows') }}

),

human_sources as (

    select * from {{ human_chosen_sources() }}

),

marked as (

    select
        pair_rows.model_version,
        pair_rows.user_segment,
        human_sources.source is not null as is_human_chosen
    from pair_rows
    left join human_sources on pair_rows.source = human_sources.source

),

counted as (

    select
        coalesce(model_version, 'unknown') as model_version,
        user_segment,
        count(*) as pairs,
        count(case when is_human_chosen then 1 end) as human_pairs,
        count(case when not is_human_chosen then 1 end) as model_pairs
    from marked
    group by coalesce(model_version, 'unknown'), user_segment

),

final as (

    select
        model_version,
        user_segment,
        cast(pairs as {{ dbt.type_bigint() }}) as pairs,
        cast(human_pairs as {{ dbt.type_bigint() }}) as human_pairs,
        cast(model_pairs as {{ dbt.type_bigint() }}) as model_pairs,
        cast(human_pairs as double) / pairs as human_share
    from counted

)

select * from final
