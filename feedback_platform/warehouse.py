"""The embedded DuckDB warehouse: how to open it and the raw tables ingestion owns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster._utils.backoff import backoff
from dagster_duckdb import DuckDBResource

from feedback_platform.settings import Settings

RAW_SCHEMA_DDL = """
create schema if not exists raw;

create table if not exists raw.feedback_events (
    event_id varchar not null,
    event_type varchar not null,
    occurred_at timestamp not null,  -- UTC
    user_id varchar not null,        -- HMAC-SHA256 of the product's user id, never the raw id
    session_id varchar,
    user_segment varchar,
    app varchar,
    locale varchar,
    schema_version varchar not null,
    generation_id varchar,
    parent_generation_id varchar,
    other_generation_id varchar,
    model_version varchar,
    prompt varchar,
    output varchar,
    edited_text varchar,
    comment varchar,
    rating integer,
    dwell_ms bigint,
    properties json,
    source_file varchar not null,
    line_number bigint not null,
    ingested_at timestamp not null
);

create table if not exists raw.quarantined_events (
    source_file varchar not null,
    line_number bigint not null,
    raw_text varchar,
    reason varchar not null,
    event_id varchar,
    ingested_at timestamp not null
);
"""


def ledger_ddl(table: str) -> str:
    """A ledger of ingested files: one row per file, its sha256 and what its rows became."""
    return f"""
create table if not exists {table} (
    file_name varchar not null,
    sha256 varchar not null,
    rows_read bigint not null,
    rows_valid bigint not null,
    rows_quarantined bigint not null,
    rows_duplicate bigint not null,
    ingested_at timestamp not null
);
"""


def connection_config(settings: Settings) -> dict[str, str]:
    """DuckDB options for every connection to the warehouse: big work spills rather than running
    out of memory, and inserts run in parallel since no reader relies on physical row order."""
    return {"memory_limit": settings.duckdb_memory_limit, "preserve_insertion_order": False}


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
    con.execute("set TimeZone = 'UTC'")
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


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(RAW_SCHEMA_DDL + ledger_ddl("raw.ingested_files"))
