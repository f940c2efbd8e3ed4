"""How the warehouse is opened: UTC on every connection, the platform's tables created once,
and ``transaction``'s all-or-nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from feedback_platform.resources import build_resources
from feedback_platform.schema import ensure_schema
from feedback_platform.warehouse import connect, open_warehouse, transaction
from tests.conftest import query


def test_every_warehouse_connection_is_in_utc_whatever_the_process_time_zone(settings):
    """The resource's connections and ``connect``'s (writable and read-only) convert offsets
    to UTC and stamp ``now()`` in UTC, even in a process whose local zone is not UTC."""
    script = """
from feedback_platform.resources import build_resources
from feedback_platform.settings import Settings
from feedback_platform.warehouse import connect

settings = Settings.from_env()
sql = "select current_setting('TimeZone'), '2026-01-01 10:00:00+02:00'::timestamptz::timestamp"
with build_resources(settings)["duckdb"].get_connection() as con:
    print(*con.execute(sql).fetchone())
for read_only in (False, True):
    with connect(settings, read_only=read_only) as con:
        print(*con.execute(sql).fetchone())
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TZ": "America/New_York"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["UTC 2026-01-01 08:00:00"] * 3


def test_the_platform_tables_exist_once_a_connection_may_write_and_keep_their_rows(settings):
    with open_warehouse(settings) as con:
        con.execute("insert into raw.drop_sha256 values ('k', 'abc')")
    with connect(settings) as con:
        ensure_schema(con)  # again: nothing is replaced
    tables = query(
        settings,
        "select table_schema || '.' || table_name from information_schema.tables order by 1",
    )
    assert [name for (name,) in tables] == [
        "raw.anchor_examples",
        "raw.drop_sha256",
        "raw.feedback_events",
        "raw.ingested_anchor_files",
        "raw.ingested_anchor_files_scrubbed",
        "raw.ingested_files",
        "raw.ingested_files_scrubbed",
        "raw.ingested_privacy_files",
        "raw.ingested_review_files",
        "raw.ingested_review_files_scrubbed",
        "raw.privacy_requests",
        "raw.quarantined_anchor_examples",
        "raw.quarantined_events",
        "raw.quarantined_privacy_requests",
        "raw.quarantined_review_labels",
        "raw.review_labels",
        "review.gold_answers",
        "review.review_items",
    ]
    assert query(settings, "select * from raw.drop_sha256") == [("k", "abc")]
    assert query(settings, "select schema_name from information_schema.schemata"
                 " where schema_name = 'training'") == [("training",)]  # fmt: skip


def test_a_read_only_connection_creates_nothing(settings):
    with open_warehouse(settings) as con:
        con.execute("create table scratch (x integer)")
        con.execute("drop schema training cascade")
    with open_warehouse(settings, read_only=True) as con:
        assert con.execute(
            "select count(*) from information_schema.schemata where schema_name = 'training'"
        ).fetchone() == (0,)


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_transaction_commits_whole_or_rolls_back_and_reraises(settings, error):
    with build_resources(settings)["duckdb"].get_connection() as con:
        con.execute("create table t (x integer)")
        with transaction(con):
            con.execute("insert into t values (1)")
        with pytest.raises(type(error)), transaction(con):
            con.execute("insert into t values (2)")
            raise error
        assert con.execute("select x from t").fetchall() == [(1,)]
        with transaction(con):  # the connection is usable again
            con.execute("insert into t values (3)")
        assert con.execute("select x from t order by x").fetchall() == [(1,), (3,)]
