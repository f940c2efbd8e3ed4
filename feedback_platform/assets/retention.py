"""Retention as an asset: each run that ingests events (a drop's, the whole pipeline) prunes
the raw events older than ``FEEDBACK_PLATFORM_RETENTION_DAYS`` (ingest/retention.py)."""

from datetime import UTC, datetime

import dagster as dg
from dagster_duckdb import DuckDBResource

from feedback_platform.assets.ingestion import RAW_EVENTS
from feedback_platform.ingest.retention import prune_expired
from feedback_platform.resources import PlatformResource


@dg.asset(
    deps=[RAW_EVENTS],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="ingestion",
)
def raw_events_retention(
    context: dg.AssetExecutionContext, platform: PlatformResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Raw events (and their texts) older than the retention window deleted, with the
    quarantined lines ingested before it; the dbt models keep what they built from them, so
    daily metrics and weekly reports stay. Without ``FEEDBACK_PLATFORM_RETENTION_DAYS``
    nothing is deleted."""
    days = platform.settings().retention_days
    if days is None:
        return dg.MaterializeResult(metadata={"retention_days": "unset: everything is kept"})
    with duckdb.get_connection() as con:
        deleted = prune_expired(con, days, datetime.now(UTC).replace(tzinfo=None))
    context.log.info(f"retention {days:g} days: deleted {deleted}")
    return dg.MaterializeResult(
        metadata={"retention_days": days, "rows_deleted": dg.MetadataValue.json(deleted)}
    )
