"""Retention: raw events, and the texts they carry, older than ``FEEDBACK_PLATFORM_RETENTION_DAYS``
are deleted on each run; aggregates stay.

Only the raw tables are pruned. The incremental dbt models keep the rows they built (an
incremental build reads only newly ingested events), so sessions, generations, daily metrics and
the weekly reports keep their history; a full refresh, which rebuilds those models from the raw
events, would rebuild them from what retention left, and so lose the days before the window
(README, *Privacy*).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from feedback_platform.warehouse import transaction

#: What retention deletes, by the time it goes by: a valid event by when it happened; a
#: quarantined line, whose time could not be trusted (often the reason it is there), by when it
#: was ingested.
EXPIRING = (
    ("raw.feedback_events", "occurred_at"),
    ("raw.quarantined_events", "ingested_at"),
)


def prune_expired(
    con: duckdb.DuckDBPyConnection, retention_days: float, now: datetime
) -> dict[str, int]:
    """Delete the rows of ``EXPIRING`` older than ``retention_days`` before ``now`` (UTC), all
    in one transaction; returns the rows deleted per table."""
    cutoff = now - timedelta(days=retention_days)
    deleted = {}
    with transaction(con):
        for table, column in EXPIRING:
            [(count,)] = con.execute(f"delete from {table} where {column} < ?", [cutoff]).fetchall()
            deleted[table] = count
    return deleted
