"""The embedded DuckDB warehouse: how to open it, and transactions on it.

Every connection to the warehouse (the Dagster resource's and ``connect``'s) is opened the
same way: ``connection_config``, then UTC as the session time zone, then, when it may write,
the platform's tables (``schema.ensure_schema``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster._utils.backoff import backoff
from dagster_duckdb import DuckDBResource

from feedback_platform.schema import ensure_schema
from feedback_platform.settings import Settings


def connection_config(settings: Settings) -> dict[str, str]:
    """DuckDB options for every connection to the warehouse: big work spills rather than running
    out of memory, and inserts run in parallel since no reader relies on physical row order."""
    return {"memory_limit": settings.duckdb_memory_limit, "preserve_insertion_order": False}


def use_utc(con: duckdb.DuckDBPyConnection) -> None:
    """UTC as the session time zone: offsets in timestamps are converted to UTC by it.

    Not a ``connection_config`` option: DuckDB resolves ``TimeZone`` (an ICU setting) before it
    loads its built-in extensions, so ``duckdb.connect(config={"TimeZone": ...})`` fails with
    "the icu extension needs to be loaded" (duckdb/duckdb#11404, still so in 2.0). It is set
    right after connecting instead, here only."""
    con.execute("set TimeZone = 'UTC'")


def prepare_connection(con: duckdb.DuckDBPyConnection, *, read_only: bool = False) -> None:
    """What every warehouse connection gets before it is used: UTC, and the platform's
    tables when it may write. The resource and ``connect`` call it; any other connection
    (an in-memory one in a test) must, before ingestion or an asset's code uses it."""
    use_utc(con)
    if not read_only:
        ensure_schema(con)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Everything in the block commits together or not at all: begin, commit when the block
    ends, roll back and re-raise on any exception (``KeyboardInterrupt`` included)."""
    con.begin()
    try:
        yield con
        con.commit()
    except BaseException:
        con.rollback()
        raise


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's resource, but the connection is closed however the step ends.

    Its ``get_connection`` yields without ``try``/``finally``: a step that fails inside the
    ``with`` leaves its connection open, and with the in-process executor the next step's dbt
    subprocess then waits on this very process's lock.
    """

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = backoff(
            fn=duckdb.connect,
            retry_on=(RuntimeError, duckdb.IOException),
            kwargs={"database": self.database, "config": self.connection_config},
            max_retries=10,
        )
        try:
            prepare_connection(con)
            yield con
        finally:
            con.close()


def duckdb_resource(settings: Settings) -> DuckDBResource:
    return WarehouseResource(
        database=str(settings.warehouse_path), connection_config=connection_config(settings)
    )


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(settings.warehouse_path), read_only=read_only, config=connection_config(settings)
    )
    try:
        prepare_connection(con, read_only=read_only)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def open_warehouse(
    settings: Settings, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(settings, read_only=read_only)
    try:
        yield con
    finally:
        con.close()
