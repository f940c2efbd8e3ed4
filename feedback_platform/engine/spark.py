"""The Spark engine: dbt builds the models on the platform's Spark Thrift server
(spark/thrift_server.py, dbt target ``spark_thrift``); rows cross between the DuckDB warehouse
and Spark as Parquet files in ``spark/exchange/``, which both read and write.

Spark's Parquet tables take no DELETE or UPDATE and their files cannot be swapped under a
reader, so a source is never changed in place: its rows are written to a new folder, the Spark
table is pointed at it (dropped and created again: an external table, so dropping it keeps the
files), and only then are the older folders removed. A run killed at any moment leaves the
previous folder or the new one behind a table, never half a file, and the next dbt step
publishes every source again. Fetched relations replace their warehouse copies in one DuckDB
transaction.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from dagster_duckdb import DuckDBResource

from feedback_platform.settings import Settings
from feedback_platform.spark.thrift_server import ThriftServer
from feedback_platform.warehouse import transaction

#: What does not run on Spark yet, and why; ``refuse_unported`` names it.
UNPORTED = {
    "privacy_erasures": (
        "erase requests delete the user's rows from the warehouse, but the incremental models"
        " on Spark would keep them and the next dbt step would bring them back"
    ),
}


class SparkEngine:
    dbt_target = "spark_thrift"

    def __init__(self, settings: Settings) -> None:
        self.server = ThriftServer(settings.spark_dir, settings.spark_thrift_port)
        self.exchange_dir = settings.spark_dir / "exchange"

    def publish_sources(self, warehouse: DuckDBResource, tables: Sequence[str]) -> None:
        """Each table that exists in the warehouse written to a new Parquet folder and the
        Spark table of the same name pointed at it. A source the warehouse does not have yet
        (a home with no review labels) is left out, as dbt on DuckDB would not find it either."""
        with warehouse.get_connection() as con:
            stored = _stored_relations(con)
            folders = {}
            for table in tables:
                if table in stored:
                    folders[table] = self._new_folder("sources", table)
                    con.execute(
                        f"copy (select * from {table})"
                        f" to '{folders[table] / 'rows.parquet'}' (format parquet)"
                    )
        with self._cursor() as cursor:
            for table, folder in folders.items():
                cursor.execute(f"create database if not exists {table.split('.')[0]}")
                cursor.execute(f"drop table if exists {table}")
                cursor.execute(f"create table {table} using parquet location '{folder}'")
        for folder in folders.values():
            _remove_others(folder)

    def fetch_relations(self, warehouse: DuckDBResource, relations: Sequence[str]) -> None:
        """Each relation written by Spark to a Parquet folder, then all of them replacing
        their warehouse copies (tables, whatever the model's materialization) together."""
        folders = {relation: self._new_folder("fetched", relation) for relation in relations}
        with self._cursor() as cursor:
            for relation, folder in folders.items():
                cursor.execute(
                    f"insert overwrite directory '{folder}' using parquet select * from {relation}"
                )
        with warehouse.get_connection() as con, transaction(con):
            views = _stored_relations(con, table_type="VIEW")
            for relation, folder in folders.items():
                con.execute(f"create schema if not exists {relation.split('.')[0]}")
                if relation in views:  # built as a view before, on DuckDB
                    con.execute(f"drop view {relation}")
                con.execute(
                    f"create or replace table {relation} as"
                    f" select * from read_parquet('{folder}/*.parquet')"
                )
        for folder in folders.values():
            shutil.rmtree(folder.parent)

    def refuse_unported(self, step: str) -> None:
        if step in UNPORTED:
            raise RuntimeError(
                f"{step} does not run on FEEDBACK_PLATFORM_ENGINE=spark yet: {UNPORTED[step]}."
                " Run it with FEEDBACK_PLATFORM_ENGINE=duckdb (the default)."
            )

    @contextlib.contextmanager
    def _cursor(self) -> Iterator:
        """A cursor on the home's Thrift server, which is started first when it is not running
        (it is the platform's service, like the UI: it stays up for the next step)."""
        self.server.start()
        connection = self.server.connect()
        try:
            yield connection.cursor()
        finally:
            connection.close()

    def _new_folder(self, kind: str, relation: str) -> Path:
        folder = self.exchange_dir / kind / relation / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder


def _stored_relations(con, table_type: str | None = None) -> set[str]:
    """schema.name of the warehouse's tables and views (of ``table_type`` when given)."""
    rows = con.execute(
        "select table_schema || '.' || table_name, table_type from information_schema.tables"
    ).fetchall()
    return {name for name, kind in rows if table_type is None or kind == table_type}


def _remove_others(folder: Path) -> None:
    """The folders a table pointed at before ``folder``."""
    for other in folder.parent.iterdir():
        if other != folder:
            shutil.rmtree(other)
