"""The dbt models built on Spark give DuckDB's results, end to end: the known-answer drop, then a
late drop applied incrementally, each run through the whole pipeline on each engine
(conftest.py), each core relation compared row for row with DuckDB's; the incremental run on
Spark equals a full refresh of the same rows too; and every file the Spark run published equals
the DuckDB run's."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path

import pytest

from tests.spark.spark_dbt import environment, run_dbt

pytestmark = pytest.mark.spark


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


def rows_in(relations, columns_of, dropped: str | None = None) -> dict[str, list]:
    """Each relation's rows with the columns of the same relation in ``columns_of`` (another
    engine's), in that order, but ``dropped``."""
    selected = {}
    for name, (columns, rows) in relations.items():
        wanted = [column for column in columns_of[name][0] if column != dropped]
        assert set(columns) >= set(wanted), (name, columns, wanted)
        picks = [columns.index(column) for column in wanted]
        selected[name] = [tuple(row[i] for i in picks) for row in rows]
    return selected


def assert_equal_relations(expected, actual, dropped: str | None = None) -> None:
    assert actual.keys() == expected.keys()
    assert_equal_tables(rows_in(expected, expected, dropped), rows_in(actual, expected, dropped))


def test_the_core_models_on_spark_equal_duckdb(engine_runs):
    expected = engine_runs.duckdb["first"].relations
    assert {"marts.fct_sessions", "marts.fct_preference_candidates"} <= expected.keys()
    assert_equal_relations(expected, engine_runs.spark["first"].relations)


def test_an_incremental_run_on_spark_equals_duckdb_and_a_full_refresh(engine_runs):
    incremental = engine_runs.spark["late"].relations
    assert_equal_relations(engine_runs.duckdb["late"].relations, incremental)

    # a full refresh of the same rows stamps every row with the newest batch: compared without
    # that bookkeeping
    assert_equal_relations(
        engine_runs.duckdb_full_refresh.relations, incremental, dropped="batch_ingested_at"
    )


#: A version folder's name: its number, then the time it was published.
VERSION_NAME = re.compile(r"(v\d{6})-\d{8}T\d{6}Z")


def comparable_manifest(data: bytes) -> dict:
    """A manifest without what differs between two runs of the same content: the time it was
    created and the times in version names."""
    manifest = json.loads(VERSION_NAME.sub(r"\1", data.decode()))
    manifest.pop("created_at")
    return manifest


def comparable_file(name: str, data: bytes):
    if name.endswith("manifest.json"):
        return comparable_manifest(data)
    if name.endswith("LATEST"):
        return VERSION_NAME.sub(r"\1", data.decode())
    return data


def test_every_file_published_on_spark_equals_duckdb(engine_runs):
    """The known-answer drop's datasets and review queue byte for byte (the Parquet files, so
    their sha256 in the manifests too), and each manifest but its times: the same content
    fingerprint, row counts and human share."""
    on_duckdb, on_spark = engine_runs.duckdb["first"].files, engine_runs.spark["first"].files
    assert any(name.endswith("train.parquet") for name in on_duckdb)
    assert on_spark.keys() == on_duckdb.keys()
    differing = [
        name
        for name in on_duckdb
        if comparable_file(name, on_spark[name]) != comparable_file(name, on_duckdb[name])
    ]
    assert not differing, {
        name: (comparable_file(name, on_duckdb[name]), comparable_file(name, on_spark[name]))
        for name in differing
    }


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


def test_prompt_buckets_are_pinned_on_spark(engine_runs, tmp_path):
    with environment(FEEDBACK_PLATFORM_SPARK_THRIFT_PORT=str(engine_runs.thrift_port)):
        assert prompt_buckets("spark_thrift", tmp_path) == PINNED_BUCKETS
