"""Carry out erase requests: every row and text of the user, in every table, file and dataset
version, in the run that ingests the request.

A request waits (``completed_at`` null) until all of it is done, in an order that survives a
run killed at any moment: first the files, found through the user's rows still in the
warehouse (new dataset versions without them, older versions rewritten, landing drops that held
them deleted, all idempotent); then one transaction deletes their rows from every table and
clears their key from the requests (the outcome is recorded with it); then the warehouse is
copied to a fresh file, since DuckDB leaves deleted rows in free blocks; only then is the
request completed. A rerun redoes what a crash left: the files again while the key is kept,
the copy while the request is not completed.

Which rows are the user's is read from the columns every table names them by (``user_key``,
``raw_text`` holding the key, event, generation and review item ids), not from a list of
tables, so a table added later is covered. For the incremental dbt models this targeted delete
equals a full refresh without the user's events where their rows come from that user's events
alone (sessions, chains and pairs are per user); a row another user shares with them (a prefer
naming the erased user's generation) is deleted whole, and a full refresh would rebuild it
without them. Aggregates (daily metrics, weekly reports) hold counts, not rows, and are left
as they are: a full refresh would rebuild them from pruned raw rows (retention.py).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from feedback_platform.datasets.versions import (
    PublishedVersion,
    published_version,
    redact_version,
    version_folders,
)
from feedback_platform.schema import PRIVACY_REQUESTS_TABLE
from feedback_platform.settings import Settings
from feedback_platform.warehouse import transaction

#: The temporary tables that name the erased user's rows while a request is carried out:
#: their events, the generations those events name, and the review items quoting either.
_ERASED_SQL = (
    """
    create or replace temp table erased_events as
    select event_id from raw.feedback_events where user_id = $key
    """,
    """
    create or replace temp table erased_generations as
    select distinct generation_id from raw.feedback_events
    where user_id = $key and generation_id is not null
    """,
    """
    create or replace temp table erased_items as
    select item_id from review.review_items
    where list_has_any(source_event_ids, (select list(event_id) from erased_events))
       or list_has_any(generation_ids, (select list(generation_id) from erased_generations))
    """,
)


@dataclass(frozen=True)
class PublishedDataset:
    """A dataset erasures reach: its folder under ``datasets/``, the table its next version is
    published from, how its files are ordered and counted (``datasets/versions.py``), and the
    function that publishes a new version of it from a table of rows."""

    folder: str
    rows_table: str
    order_by: str
    counted_by: str
    publish: Callable[[duckdb.DuckDBPyConnection, str], PublishedVersion]


@dataclass
class ErasureOutcome:
    """What one erasure removed: rows per table, the dataset versions without the user that
    are now the latest, the versions rewritten, the landing drops deleted. Counts and names
    only, never the removed content. The versions and drops are read from what is on disk, not
    from what this run did, so a run finishing an erasure a crash interrupted reports all of
    it."""

    rows: dict[str, int] = field(default_factory=dict)
    latest_versions: list[str] = field(default_factory=list)
    versions_redacted: list[str] = field(default_factory=list)
    drops_deleted: list[str] = field(default_factory=list)

    def as_json(self) -> str:
        return json.dumps(
            {
                **{f"rows removed from {table}": count for table, count in self.rows.items()},
                "latest dataset versions (without them)": ", ".join(self.latest_versions) or "none",
                "dataset versions rewritten (redacted_by)": ", ".join(self.versions_redacted)
                or "none",
                "landing drops deleted": len(self.drops_deleted),
            }
        )


def pending_erasures(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str | None]]:
    """``(request_id, user_key)`` of each erase request not completed; the key is null once
    the rows are gone and only the compaction is left."""
    return con.execute(
        f"select request_id, user_key from {PRIVACY_REQUESTS_TABLE}"
        " where kind = 'erase' and completed_at is null order by requested_at, request_id"
    ).fetchall()


def erase_user(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    request_id: str,
    key: str,
    datasets: list[PublishedDataset],
) -> ErasureOutcome:
    """Everything of the user ``key`` but the compaction: files first, then one transaction
    over the warehouse that also records the outcome on the user's waiting erase requests and
    clears the key from all their requests. ``request_id`` (the first of them) is the one the
    rewritten dataset versions name."""
    for statement in _ERASED_SQL:
        _execute(con, statement, key)
    outcome = ErasureOutcome()
    for dataset in datasets:
        _redact_dataset(con, settings.datasets_dir / dataset.folder, dataset, request_id, outcome)
    outcome.drops_deleted = _delete_drops(con, settings, key)
    with transaction(con):
        outcome.rows = _delete_rows(con, key)
        # every erase request of the user waiting is done by this one (the first, by time)
        con.execute(
            f"update {PRIVACY_REQUESTS_TABLE} set outcome = $outcome::json"
            " where user_key = $key and kind = 'erase' and completed_at is null",
            {"outcome": outcome.as_json(), "key": key},
        )
        con.execute(
            f"update {PRIVACY_REQUESTS_TABLE} set user_key = null where user_key = $key",
            {"key": key},
        )
    return outcome


_REMOVED_FROM_DATASET = "list_has_any(source_event_ids, (select list(event_id) from erased_events))"


def _redact_dataset(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    dataset: PublishedDataset,
    request_id: str,
    outcome: ErasureOutcome,
) -> None:
    """A new version of the dataset without the user's rows (when the latest held any), then
    every older version holding them rewritten. The new one comes first: a rerun after a crash
    then finds it the latest and unchanged, and rewrites the versions still left. Every
    version whose manifest names ``request_id`` counts as redacted by it, by this run or an
    earlier one."""
    if not root.exists():
        return
    con.execute(
        f"create or replace temp table erased_dataset_rows as select * from {dataset.rows_table}"
        f" where not {_REMOVED_FROM_DATASET}"
    )
    version = dataset.publish(con, "erased_dataset_rows")
    outcome.latest_versions.append(f"{dataset.folder}/{version.version}")
    for path in version_folders(root):
        redact_version(
            con,
            path,
            removed_where=_REMOVED_FROM_DATASET,
            order_by=dataset.order_by,
            counted_by=dataset.counted_by,
            request_id=request_id,
        )
        if request_id in published_version(root, path.name).manifest.get("redacted_by", []):
            outcome.versions_redacted.append(f"{dataset.folder}/{path.name}")


def _drops_holding(con: duckdb.DuckDBPyConnection, key: str) -> Iterator[tuple[str, str]]:
    """``(landing folder, file name)`` of every ingested drop that held a row of the user:
    their events and quarantined lines, labels of review items quoting them, and the request
    drops naming them (which hold the raw user id)."""
    yield from con.execute(
        """
        select distinct 'events', source_file from raw.feedback_events where user_id = $key
        union select 'events', source_file from raw.quarantined_events
        where contains(raw_text, $key)
        union select 'reviews', source_file from raw.review_labels
        where item_id in (select item_id from erased_items)
        union select 'reviews', source_file from raw.quarantined_review_labels
        where item_id in (select item_id from erased_items)
        union select 'privacy', source_file from raw.privacy_requests where user_key = $key
        union select 'privacy', source_file from raw.quarantined_privacy_requests
        where contains(raw_text, $key)
        """,
        {"key": key},
    ).fetchall()


def _delete_drops(con: duckdb.DuckDBPyConnection, settings: Settings, key: str) -> list[str]:
    """Delete the landing drops that held the user (see README, *Privacy*: the warehouse holds
    every other row of them and the ledger their sha256, so nothing else needs the file).
    Returns every such drop, deleted now or by an earlier, interrupted run."""
    drops = []
    for folder, name in _drops_holding(con, key):
        path = settings.landing_dir / folder / name
        if path.is_file() and not path.is_symlink():
            path.unlink()
        drops.append(f"{folder}/{name}")
    return sorted(drops)


def _user_row_predicates(columns: dict[str, str]) -> list[str]:
    """How a table's rows name the user, from its column names and types: their key, raw text
    with their key in it, their events, generations and review items."""
    predicates = []
    for column, data_type in columns.items():
        is_list = data_type.endswith("[]")
        if column in ("user_key", "user_id"):
            predicates.append(f"{column} = $key")
        elif column == "raw_text":
            predicates.append("contains(raw_text, $key)")
        elif column.endswith("event_id") and not is_list:
            predicates.append(f"{column} in (select event_id from erased_events)")
        elif column.endswith("event_ids") and is_list:
            predicates.append(f"list_has_any({column}, (select list(event_id) from erased_events))")
        elif column == "generation_id":
            predicates.append("generation_id in (select generation_id from erased_generations)")
        elif column == "generation_ids" and is_list:
            predicates.append(
                "list_has_any(generation_ids, (select list(generation_id) from erased_generations))"
            )
        elif column == "item_id":
            predicates.append("item_id in (select item_id from erased_items)")
    return predicates


def _delete_rows(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, int]:
    """Delete the user's rows from every table of the warehouse (views follow their tables);
    the requests keep theirs, whose key the caller clears. Returns the rows removed per table,
    the tables with none left out."""
    columns: dict[str, dict[str, str]] = {}
    for schema, table, column, data_type in con.execute(
        """
        select c.table_schema, c.table_name, c.column_name, c.data_type
        from information_schema.columns as c
        join information_schema.tables as t using (table_catalog, table_schema, table_name)
        where t.table_type = 'BASE TABLE' and c.table_catalog = current_database()
          and c.table_schema not like 'temp%'
        order by 1, 2, c.ordinal_position
        """
    ).fetchall():
        columns.setdefault(f"{schema}.{table}", {})[column] = data_type
    removed = {}
    for table, table_columns in columns.items():
        predicates = _user_row_predicates(table_columns)
        if table == PRIVACY_REQUESTS_TABLE or not predicates:
            continue
        [(count,)] = _execute(
            con, f"delete from {table} where {' or '.join(predicates)}", key
        ).fetchall()
        if count:
            removed[table] = count
    return removed


def _execute(con: duckdb.DuckDBPyConnection, sql: str, key: str) -> duckdb.DuckDBPyConnection:
    """``sql`` with the user's key as ``$key`` if it names it (DuckDB refuses a parameter
    that a statement does not use)."""
    return con.execute(sql, {"key": key} if "$key" in sql else None)


def compact_warehouse(con: duckdb.DuckDBPyConnection, warehouse: Path) -> Path:
    """Copy every schema, table, view and macro of the warehouse open on ``con`` to a fresh
    file beside it and return that file; the caller closes ``con`` and renames it over the
    warehouse (``replace_warehouse``). DuckDB reuses the blocks of deleted rows without
    clearing them, even after a checkpoint, so the erased text stays in the file until it is
    written anew."""
    for leftover in warehouse.parent.glob(f".{warehouse.name}.*.tmp"):
        leftover.unlink()  # a copy a killed run left half-written
    fresh = warehouse.with_name(f".{warehouse.name}.{uuid.uuid4().hex}.tmp")
    con.execute("checkpoint")
    [(name,)] = con.execute("select current_database()").fetchall()
    con.execute(f"attach '{fresh}' as erasure_copy")
    try:
        con.execute(f'copy from database "{name}" to erasure_copy')
    finally:
        con.execute("detach erasure_copy")
    return fresh


def replace_warehouse(fresh: Path, warehouse: Path) -> None:
    """Rename the compacted copy over the warehouse (atomic: a reader opens one or the
    other). A write-ahead log of the old file (none once it was checkpointed and closed)
    goes first: replayed onto the copy it would corrupt it."""
    warehouse.with_name(warehouse.name + ".wal").unlink(missing_ok=True)
    os.replace(fresh, warehouse)


def complete_erasures(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Mark done the erase requests whose rows are gone (key cleared) once the warehouse was
    compacted; returns their ids."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return [
        request_id
        for (request_id,) in con.execute(
            f"update {PRIVACY_REQUESTS_TABLE} set completed_at = $now"
            " where kind = 'erase' and completed_at is null and user_key is null"
            " returning request_id",
            {"now": now},
        ).fetchall()
    ]
