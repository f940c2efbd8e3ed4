"""The dbt models built on Spark give DuckDB's results: the known-answer drop, then a late drop
applied incrementally, each mart compared row for row with DuckDB's; the incremental run equals
a full refresh on Spark too."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from feedback_platform.assets.transformation import CORE_EXCLUDE
from tests.assets.test_training import ALICE, CAROL, known_drop, signal
from tests.assets.test_transformation import build
from tests.conftest import event, platform_home, write_jsonl
from tests.spark.spark_dbt import (
    core_models,
    dbt_on_spark,
    export_source_tables,
    register_source_tables,
    run_dbt,
)

pytestmark = pytest.mark.spark

#: What the core `dbt_models` step builds (everything but the folders after the agreement gate).
CORE_SELECTION = ("--exclude", *CORE_EXCLUDE.split())


def late_drop() -> list[dict]:
    """A copy that arrives after its session was built (it changes g1's outcome and the
    session's counts), and two events 29:59.966 apart: one session, as the gap is not over 30
    minutes (dbt-spark's own dateadd dropped the fraction and split them)."""
    return [
        signal("late1", "copy", "09:03:00", "g1", ALICE),
        event("late2", "view", occurred_at="2026-10-05T11:00:00.500Z", generation_id="g12",
              dwell_ms=700, **CAROL),
        event("late3", "view", occurred_at="2026-10-05T11:30:00.466Z", generation_id="g12",
              dwell_ms=800, **CAROL),
    ]  # fmt: skip


def built_relations(warehouse: Path) -> list[str]:
    """Every table and view the core step built in the warehouse, as schema.name."""
    models = {(node["schema"], node["alias"]) for node in core_models()}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = set(
            con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        )
    return sorted(f"{schema}.{name}" for schema, name in models & stored)


def duckdb_rows(warehouse: Path, relations: list[str]) -> dict[str, tuple[list[str], list]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {}
        for relation in relations:
            cursor = con.execute(f"select * from {relation}")
            tables[relation] = ([c[0] for c in cursor.description], cursor.fetchall())
        return tables


def spark_rows(spark, relations: dict[str, tuple[list[str], list]]) -> dict[str, list]:
    """Spark's rows of each relation, in DuckDB's column order."""
    return {
        relation: [tuple(row) for row in spark.table(relation).select(*columns).collect()]
        for relation, (columns, _) in relations.items()
    }


def comparable(value):
    """A value both engines give alike: floats to 1e-9 compare by rounding, and arrays as
    tuples, so rows sort and compare as tuples."""
    if isinstance(value, float):
        return round(value, 9) if math.isfinite(value) else value
    if isinstance(value, list):
        return tuple(comparable(item) for item in value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


def sorted_rows(rows: list) -> list[tuple]:
    return sorted(
        (tuple(comparable(value) for value in row) for row in rows),
        key=lambda row: tuple((value is None, str(value)) for value in row),
    )


def assert_equal_tables(expected: dict[str, list], actual: dict[str, list]) -> None:
    differing = [
        name for name in expected if sorted_rows(expected[name]) != sorted_rows(actual[name])
    ]
    assert not differing, {
        name: (sorted_rows(expected[name]), sorted_rows(actual[name])) for name in differing
    }


@pytest.fixture(scope="module")
def duckdb_steps(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """The known drop built on DuckDB, then the late drop built incrementally: after each step,
    its source tables exported to Parquet and the rows of every relation the core step built."""
    root = tmp_path_factory.mktemp("duckdb")
    steps = {}
    with platform_home(root / "home") as settings:
        for step, drop in (("first", known_drop()), ("late", late_drop())):
            write_jsonl(settings.events_landing_dir / f"{step}.jsonl", drop)
            build(settings)
            export_source_tables(settings.warehouse_path, root / step)
            relations = built_relations(settings.warehouse_path)
            steps[step] = (root / step, duckdb_rows(settings.warehouse_path, relations))
    return steps


@pytest.fixture(scope="module")
def spark_target(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("spark-target")


@pytest.fixture(scope="module")
def first_build_on_spark(spark, duckdb_steps, spark_target) -> dict[str, list]:
    """`dbt build` of the core models on Spark over the first step's source tables."""
    export, duckdb_tables = duckdb_steps["first"]
    register_source_tables(spark, export)
    dbt_on_spark("build", *CORE_SELECTION, target_path=spark_target)
    return spark_rows(spark, duckdb_tables)


def test_the_core_models_on_spark_equal_duckdb(duckdb_steps, first_build_on_spark):
    expected = {name: rows for name, (_, rows) in duckdb_steps["first"][1].items()}
    assert {"marts.fct_sessions", "marts.fct_preference_candidates"} <= expected.keys()
    assert_equal_tables(expected, first_build_on_spark)


def test_an_incremental_run_on_spark_equals_duckdb_and_a_full_refresh(
    spark, duckdb_steps, first_build_on_spark, spark_target
):
    export, duckdb_tables = duckdb_steps["late"]
    register_source_tables(spark, export)
    dbt_on_spark("run", *CORE_SELECTION, target_path=spark_target)
    incremental = spark_rows(spark, duckdb_tables)
    assert_equal_tables({name: rows for name, (_, rows) in duckdb_tables.items()}, incremental)

    # a full refresh stamps every row with the newest batch: compared without that bookkeeping
    settled = {
        name: ([column for column in columns if column != "batch_ingested_at"], rows)
        for name, (columns, rows) in duckdb_tables.items()
    }
    incremental = spark_rows(spark, settled)
    dbt_on_spark("run", "--full-refresh", *CORE_SELECTION, target_path=spark_target)
    assert_equal_tables(spark_rows(spark, settled), incremental)


#: Prompts and their holdout buckets as DuckDB's md5_number gives them: the md5 of the prompt
#: without whitespace, read whole as a little-endian 128-bit integer, mod 100 (in Python,
#: `int.from_bytes(md5(text).digest(), "little") % 100`). The first 15 hex characters, which
#: the other engines read before, give 62 for "a".
PINNED_BUCKETS = {
    "a": 72,
    "Capital of France?": 85,
    "Capital\tof  France ?": 85,
    "Name a fast database": 89,
    "héllo wörld ✓": 19,
}


def prompt_buckets(target: str, target_path: Path) -> dict[str, int]:
    """The `prompt_bucket` macro run on one target over the pinned prompts."""
    prompts = " union all ".join(f"select '{prompt}' as prompt" for prompt in PINNED_BUCKETS)
    sql = f"select prompt, {{{{ prompt_bucket('prompt') }}}} as bucket from ({prompts}) as p"
    result = run_dbt("show", "--inline", sql, "--limit", "100", target=target,
                     target_path=target_path)  # fmt: skip
    return {prompt: int(bucket) for prompt, bucket in result.results[0].agate_table.rows}


def test_prompt_buckets_are_pinned_on_duckdb(tmp_path, monkeypatch):
    monkeypatch.setenv("FEEDBACK_PLATFORM_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    assert prompt_buckets("duckdb", tmp_path) == PINNED_BUCKETS


def test_prompt_buckets_are_pinned_on_spark(spark, tmp_path):
    assert prompt_buckets("spark", tmp_path) == PINNED_BUCKETS
