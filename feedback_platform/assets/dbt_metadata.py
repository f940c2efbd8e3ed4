"""Row counts and column types of the dbt tables on their materializations, read by this
process once dbt has exited.

dagster-dbt's ``fetch_row_counts()`` / ``fetch_column_metadata()`` query through a dbt adapter
inside the Dagster process while dbt is still building: DuckDB lets one process hold the file,
so those queries race dbt's own, and the adapter's connection stays open afterwards with
another configuration, which makes every later DuckDB step of an in-process run fail. Here the
step keeps dbt's events until dbt has exited, reads the figures through the warehouse resource
(the same configuration, closed at once), and then emits the events with them. The UI shows
the materializations at the end of the build instead of during it; dbt's log still streams.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

#: dbt materializations that are tables in the warehouse (a view's count would run its query).
_TABLE_MATERIALIZATIONS = {"table", "incremental"}


def with_table_metadata(
    context: dg.AssetExecutionContext,
    warehouse: DuckDBResource,
    events: Iterable,
    manifest_path: Path,
) -> Iterator:
    """``events`` of a dbt build, each model's with its table's row count and column types.
    When the build fails, the events it emitted still go out, then its error."""
    received, failure = [], None
    try:
        received.extend(events)
    except Exception as error:  # the build failed: report what it built, then fail
        failure = error
    tables = _dbt_tables(context, manifest_path)
    keys = {_asset_key(context, event) for event in received} & tables.keys()
    with warehouse.get_connection() as con:
        metadata = {
            key: _table_metadata(con, *tables[key], _documented_columns(context, key))
            for key in keys
        }
    for event in received:
        key = _asset_key(context, event)
        yield event.with_metadata({**event.metadata, **metadata[key]}) if key in metadata else event
    if failure is not None:
        raise failure


def _asset_key(context: dg.AssetExecutionContext, event: object) -> dg.AssetKey | None:
    if isinstance(event, dg.Output):
        return context.asset_key_for_output(event.output_name)
    if isinstance(event, dg.AssetMaterialization):
        return event.asset_key
    return None


def _dbt_tables(context: dg.AssetExecutionContext, manifest_path: Path) -> dict:
    """(schema, table) of every dbt model built as a table, by its asset key."""
    nodes = json.loads(manifest_path.read_text(encoding="utf-8"))["nodes"].values()
    by_name = {
        node["name"]: (node["schema"], node["alias"])
        for node in nodes
        if node["resource_type"] == "model"
        and node["config"]["materialized"] in _TABLE_MATERIALIZATIONS
    }
    return {
        key: by_name[key.path[-1]]
        for key in context.assets_def.keys
        if key.path and key.path[-1] in by_name
    }


def _documented_columns(context: dg.AssetExecutionContext, key: dg.AssetKey) -> dict[str, str]:
    """Column descriptions from the model's yml, as dagster-dbt put them on the asset."""
    schema = context.assets_def.specs_by_key[key].metadata.get("dagster/column_schema")
    return {column.name: column.description for column in schema.columns} if schema else {}


def _table_metadata(con, schema: str, table: str, descriptions: dict[str, str]) -> dict:
    [(rows,)] = con.execute(f'select count(*) from "{schema}"."{table}"').fetchall()
    columns = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return {
        "dagster/row_count": rows,
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name, data_type.lower(), description=descriptions.get(name))
                for name, data_type in columns
            ]
        ),
    }
