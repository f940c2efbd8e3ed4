"""dbt on one of the profile's targets in this process (tests/spark: `duckdb`, `spark_thrift`),
and, for benchmarks/spark.py, the `spark` target (method `session`) in this process with the
source tables it reads copied from a DuckDB warehouse through Parquet."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from feedback_platform.assets.transformation import LATER_MODEL_FOLDERS
from feedback_platform.contract import DBT_PROJECT_DIR


@contextmanager
def environment(**variables: str) -> Iterator[None]:
    """The environment with these variables set while the block runs."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def open_spark(root: Path) -> Iterator:
    """The session dbt opens for the `spark` target (opened by `dbt debug`, so its settings are
    the profile's alone), its warehouse and Derby metastore under ``root``; stopped at the end.
    dbt's later commands in this process reuse it."""
    from pyspark.sql import SparkSession

    with environment(
        FEEDBACK_PLATFORM_SPARK_WAREHOUSE_DIR=str(root / "warehouse"),
        FEEDBACK_PLATFORM_SPARK_METASTORE_DIR=str(root / "metastore"),
    ):
        # derby.log goes to the working directory
        cwd = Path.cwd()
        root.mkdir(parents=True, exist_ok=True)
        os.chdir(root)
        try:
            dbt_on_spark("debug", target_path=root / "target")
            session = SparkSession.getActiveSession()
            yield session
            session.stop()
        finally:
            os.chdir(cwd)


def dbt_on_spark(*args: str, target_path: Path) -> None:
    """A dbt command on the `spark` target, in this process (the session is this process's)."""
    run_dbt(*args, target="spark", target_path=target_path)


def run_dbt(*args: str, target: str, target_path: Path):
    """A dbt command on one of the profile's targets, in this process; its result. Raises with
    dbt's failures named."""
    from dbt.cli.main import dbtRunner

    # options not every command takes (dbt debug has no --target-path)
    with environment(DBT_TARGET_PATH=str(target_path), DBT_LOG_PATH=str(target_path / "logs")):
        result = dbtRunner().invoke(
            [
                *args,
                "--target",
                target,
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
            ]
        )
    failures = [
        f"{node.node.unique_id}: {node.message}"
        # a build's node results; `dbt debug` gives a bool
        for node in getattr(result.result, "results", [])
        if node.status in ("error", "fail", "runtime error")
    ]
    assert result.success, failures or result.exception
    return result.result


def manifest() -> dict:
    return json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())


def core_models() -> list[dict]:
    """The models the core `dbt_models` step builds (all but the folders after the gate)."""
    later = tuple(f"models/{folder}/" for folder in LATER_MODEL_FOLDERS)
    return [
        node
        for node in manifest()["nodes"].values()
        if node["resource_type"] == "model" and not node["original_file_path"].startswith(later)
    ]


def source_tables() -> list[str]:
    """The tables the core models read (their dbt sources), as schema.name."""
    sources = manifest()["sources"]
    return sorted(
        {
            f"{sources[name]['schema']}.{sources[name]['identifier']}"
            for model in core_models()
            for name in model["depends_on"]["nodes"]
            if name in sources
        }
    )


def export_source_tables(warehouse: Path, export_dir: Path) -> None:
    """The DuckDB warehouse's source tables as Parquet files, one per table."""
    export_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in source_tables():
            con.execute(f"copy {table} to '{export_dir / table}.parquet' (format parquet)")


def register_source_tables(spark, export_dir: Path) -> None:
    """The exported source tables as Spark tables of the same names, replacing what Spark
    held: the models on Spark read the rows the DuckDB run read."""
    for table in source_tables():
        spark.sql(f"create database if not exists {table.split('.')[0]}")
        frame = spark.read.parquet(str(export_dir / f"{table}.parquet"))
        frame.write.mode("overwrite").format("parquet").saveAsTable(table)
