"""The platform's Spark Thrift server: started and stopped as a service, one metastore that
every client shares (the reason it exists: an embedded Derby metastore admits one JVM), and
dbt reaching it through the profile's ``spark_thrift`` target."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pytest

from feedback_platform.dbt_project import DBT_PROJECT_DIR
from feedback_platform.resources import executable
from feedback_platform.spark.thrift_server import ThriftServer

pytestmark = pytest.mark.spark


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: What the server logs once its own SIGTERM handler runs: it then stops its services and
#: closes the metastore (after a SIGKILL it logs nothing).
CLEAN_STOP = "RECEIVED SIGNAL TERM"


@contextmanager
def ignoring_stop_signals() -> Iterator[None]:
    """This process ignores SIGINT and SIGTERM while the block runs, as a shell script's
    background job does, or a pytest worker once Dagster has run a job in it."""
    stops = (signal.SIGINT, signal.SIGTERM)
    before = {signum: signal.signal(signum, signal.SIG_IGN) for signum in stops}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_one_server_shares_its_tables_with_every_client_and_stops(tmp_path):
    server = ThriftServer(tmp_path / "spark", free_port())
    with ignoring_stop_signals():
        assert server.start()
    try:
        assert not server.start()  # already running: a second start does nothing
        parquet = tmp_path / "events.parquet"
        duckdb.sql(
            "copy (select range as id, 'text ' || range as body from range(3))"
            f" to '{parquet}' (format parquet)"
        )
        writer, reader = server.connect(), server.connect()
        writer.cursor().execute("create database if not exists raw")
        writer.cursor().execute(
            f"create table raw.events using parquet as select * from parquet.`{parquet}`"
        )
        cursor = reader.cursor()
        cursor.execute("select count(*), sum(id) from raw.events")
        assert cursor.fetchall() == [(3, 3)]

        # dbt, another client of the same server, reads the table too
        completed = subprocess.run(
            [executable("dbt"), "--quiet", "show", "--target", "spark_thrift", "--output", "json",
             "--inline", "select count(*) as events from raw.events",
             "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
             "--target-path", str(tmp_path / "dbt_target")],
            env={**os.environ, "FEEDBACK_PLATFORM_SPARK_THRIFT_PORT": str(server.port)},
            capture_output=True, text=True,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stdout[-3000:]
        assert json.loads(completed.stdout)["show"] == [{"events": 3}]
    finally:
        assert server.stop()
    assert CLEAN_STOP in server.log_file.read_text()  # SIGTERM stopped it, not the SIGKILL
    assert not server.is_running()
    assert not server.pid_file.exists()
    assert not server.stop()  # nothing left to stop
