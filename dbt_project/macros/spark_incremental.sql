{#- The incremental models replace rows by their unique key (`delete+insert`) and delete rows
    that no longer hold (hooks, `delete_from_this`). dbt-spark has neither on plain Parquet
    tables, which have no DELETE and no MERGE: there a table's new contents are written beside it
    and swapped in. On Delta, Iceberg or Hudi (`FEEDBACK_PLATFORM_SPARK_FILE_FORMAT`) Spark has
    both, and they are used. -#}

{% macro _spark_is_transactional() -%}
    {{ return(config.get('file_format', 'parquet') in ['delta', 'iceberg', 'hudi']) }}
{%- endmacro %}

{#- Deletes the rows of the model's table that meet `condition`. -#}
{% macro delete_from_this(condition) -%}
    {{ return(adapter.dispatch('delete_from_this')(condition)) }}
{%- endmacro %}

{% macro default__delete_from_this(condition) -%}
    delete from {{ this }} where {{ condition }}
{%- endmacro %}

{#- Parquet: the table rewritten without those rows (a row stays where the condition is false or
    null, as DELETE keeps it). -#}
{% macro spark__delete_from_this(condition) -%}
    {%- if _spark_is_transactional() -%}
        delete from {{ this }} where {{ condition }}
    {%- else -%}
        {%- set kept_rows -%}
            select * from {{ this }} where not coalesce({{ condition }}, false)
        {%- endset -%}
        {{ return(_spark_replace_contents(this, kept_rows)) }}
    {%- endif -%}
{%- endmacro %}

{#- Writes `rows` (a query, which may read `relation`) to a new table beside `relation`: Parquet
    files cannot be overwritten while they are read, and a table written in place would be
    half-written if the run were killed. Returns the new table. -#}
{% macro _spark_write_replacement(relation, rows) -%}
    {%- set replacement = relation.incorporate(
        path={'identifier': relation.identifier ~ '__dbt_replacement'}
    ) -%}
    {%- do run_query('drop table if exists ' ~ replacement) -%}
    {%- do run_query(
        'create table ' ~ replacement ~ ' using ' ~ config.get('file_format', 'parquet')
        ~ ' as ' ~ rows
    ) -%}
    {{ return(replacement) }}
{%- endmacro %}

{#- Drops `relation` and returns the statement that renames `replacement` to it, the last one,
    for the caller to run. Killed between the drop and the rename, the table is missing: dbt's
    next run builds it from scratch, the same rows. -#}
{% macro _spark_swap_in(relation, replacement) -%}
    {%- do run_query('drop table ' ~ relation) -%}
    {{ return('alter table ' ~ replacement ~ ' rename to ' ~ relation) }}
{%- endmacro %}

{% macro _spark_replace_contents(relation, rows) -%}
    {{ return(_spark_swap_in(relation, _spark_write_replacement(relation, rows))) }}
{%- endmacro %}

{#- dbt-spark's check of the strategy, which knows no `delete+insert`: on Parquet it is the
    rewrite below; on a transactional format it is a merge on the unique key, which with a
    unique key is the same (every matched row replaced, every new one inserted). The
    other strategies keep dbt-spark's own rules. -#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy == 'delete+insert' -%}
        {{ return('merge' if file_format in ['delta', 'iceberg', 'hudi'] else raw_strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{%- endmacro %}

{#- dbt-spark's incremental step, with `delete+insert` on Parquet: the stored rows whose key is
    not among the new rows', then the new rows, written as the table's new contents. -#}
{% macro dbt_spark_get_incremental_sql(
    strategy, source, target, existing, unique_key, incremental_predicates
) -%}
    {%- if strategy != 'delete+insert' -%}
        {{ return(dbt.dbt_spark_get_incremental_sql(
            strategy, source, target, existing, unique_key, incremental_predicates
        )) }}
    {%- endif -%}
    {%- set batch = _spark_write_batch(source, target) -%}
    {%- set columns = adapter.get_columns_in_relation(target)
        | map(attribute='quoted') | join(', ') -%}
    {%- set new_contents -%}
        select {{ columns }} from {{ target }} as stored
        where not exists (
            select 1 from {{ batch }} as batch where batch.{{ unique_key }} = stored.{{ unique_key }}
        )
        union all
        select {{ columns }} from {{ batch }}
    {%- endset -%}
    {%- set replacement = _spark_write_replacement(target, new_contents) -%}
    {%- do run_query('drop table ' ~ batch) -%}
    {{ return(_spark_swap_in(target, replacement)) }}
{%- endmacro %}

{#- The new rows (dbt-spark's temporary view of the model's query) written to a table of their
    own. The view is analyzed again at every read, which for the incremental models' queries
    costs about a minute each on a local Spark (a view read twice, or cached, ran for minutes);
    the table is read twice cheaply, and released before the table the view reads is dropped. -#}
{% macro _spark_write_batch(source, target) -%}
    {%- set batch = target.incorporate(path={'identifier': target.identifier ~ '__dbt_batch'}) -%}
    {%- do run_query('drop table if exists ' ~ batch) -%}
    {%- do run_query(
        'create table ' ~ batch ~ ' using ' ~ config.get('file_format', 'parquet')
        ~ ' as select * from ' ~ source
    ) -%}
    {{ return(batch) }}
{%- endmacro %}
