{#-
    One row: the figures that say whether the next preference-pairs version is drifting towards
    the model's own outputs (rules: the `collapse_watch_rules` doc block), from
    `pair_human_share`. The `preference_pairs` asset writes them into the manifest and warns
    (check `human_share_is_healthy`) when a flag is set.
-#}
with human_share as (

    select * from {{ ref('pair_human_share') }}

),

totals as (

    select
        sum(pairs) as pairs,
        sum(human_pairs) as human_pairs,
        count(distinct model_version) as model_versions
    from human_share

),

by_model_version as (

    select model_version, sum(pairs) as pairs
    from human_share
    group by model_version

),

-- the model version with the most pairs (of as many, the first by name)
top_model_version as (

    {{ first_per(
        '(select 1 as one, by_model_version.* from by_model_version)',
        'one',
        'pairs desc, model_version',
        'model_version, pairs',
    ) }}

),

figures as (

    select
        cast(totals.pairs as {{ dbt.type_bigint() }}) as pairs,
        cast(totals.human_pairs as {{ dbt.type_bigint() }}) as human_pairs,
        case when totals.pairs > 0 then cast(totals.human_pairs as double) / totals.pairs end
            as human_share,
        cast(totals.model_versions as {{ dbt.type_bigint() }}) as model_versions,
        top_model_version.model_version as top_model_version,
        case when totals.pairs > 0 then cast(top_model_version.pairs as double) / totals.pairs end
            as top_model_version_share,
        cast({{ var('min_human_share') }} as double) as min_human_share,
        cast({{ var('max_model_version_share') }} as double) as max_model_version_share
    from totals
    left join top_model_version on 1 = 1

),

final as (

    select
        *,
        coalesce(human_share < min_human_share, false) as is_human_share_low,
        coalesce(model_versions > 1 and top_model_version_share > max_model_version_share, false)
            as is_one_model_version_dominant
    from figures

)

select * from final
