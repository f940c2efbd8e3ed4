"""One run of each step on each engine for the whole Spark suite (pipeline_snapshot.STEPS: the
known-answer drop through the whole pipeline, then a late drop through ingestion and the core
dbt step), one home on DuckDB (which then rebuilds its core models with a full refresh) and one
with FEEDBACK_PLATFORM_ENGINE=spark on its own Thrift server (one JVM, started once: its start
costs most of a minute). After each step, what the
tests compare is kept: every core relation's rows and every published file. On Spark the
relations are the copies the dbt steps brought back into the warehouse (engine/spark.py), which
are Spark's results: what the Python steps published from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyspark  # noqa: F401  the `spark` extra, which `make test` installs: no skip hides it
import pytest

from feedback_platform.spark.thrift_server import ThriftServer
from tests.conftest import platform_home
from tests.spark.pipeline_snapshot import (
    Snapshot,
    free_port,
    full_refresh_core_models,
    run_and_snapshot,
    spark_engine,
)


@dataclass(frozen=True)
class EngineRuns:
    """The snapshots after each step (``first``, ``late``) on each engine, the DuckDB home's
    core relations after a full refresh, and the Spark home's Thrift server port. The full
    refresh is DuckDB's, not Spark's: Spark's first build already is a build from nothing, equal
    to DuckDB's, and a full refresh on Spark cost 37-50 s more (benchmarks/RESULTS.md)."""

    duckdb: dict[str, Snapshot]
    spark: dict[str, Snapshot]
    duckdb_full_refresh: Snapshot
    thrift_port: int


@pytest.fixture(scope="module")
def engine_runs(tmp_path_factory) -> Iterator[EngineRuns]:
    """The runs, made with FEEDBACK_PLATFORM_ENGINE=spark set only while they run: the tests get
    the snapshots and the server's port, never the environment, so a DuckDB test that the same
    pytest worker runs later cannot build on Spark (one did, until this fixture yielded outside
    the environment). The server stops once the module's tests are done."""
    root = tmp_path_factory.mktemp("engines")
    with platform_home(root / "duckdb") as settings:
        on_duckdb = run_and_snapshot(settings)
        refreshed = full_refresh_core_models(settings)
    port = free_port()
    with platform_home(root / "spark") as settings, spark_engine(port) as settings:
        server = ThriftServer(settings.spark_dir, port)
        server.start()
        try:
            on_spark = run_and_snapshot(settings)
        except BaseException:
            server.stop()
            raise
    try:
        yield EngineRuns(on_duckdb, on_spark, refreshed, port)
    finally:
        server.stop()
