"""Jobs: what a new drop triggers, and the whole pipeline the CLI runs."""

from __future__ import annotations

import dagster as dg

from feedback_platform.assets.ingestion import EVENT_TABLES, DropTables
from feedback_platform.assets.reporting import participation_weekly
from feedback_platform.assets.review_labels import REVIEW_LABEL_TABLES

#: Weekly-partitioned assets run per week (schedule, backfills), never in the unpartitioned jobs.
WEEKLY_REPORTS = dg.AssetSelection.assets(participation_weekly)


def _ingest_job(name: str, tables: DropTables, description: str):
    """A new drop refreshes its raw tables (one multi-asset) and everything downstream of them."""
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*tables.keys).downstream() - WEEKLY_REPORTS,
        description=description,
    )


ingest_events_job = _ingest_job(
    "ingest_events",
    EVENT_TABLES,
    "Ingest event drops and rebuild everything downstream of raw events.",
)

ingest_reviews_job = _ingest_job(
    "ingest_reviews",
    REVIEW_LABEL_TABLES,
    "Ingest review label drops and rebuild everything downstream of the labels.",
)

#: Everything unpartitioned, in dependency order: what `feedback-platform run` executes first.
feedback_pipeline_job = dg.define_asset_job(
    "feedback_pipeline",
    selection=dg.AssetSelection.all() - WEEKLY_REPORTS,
    description="Ingest every new drop and materialize every unpartitioned asset.",
)

#: One week of the participation report; the schedule and `feedback-platform run` use it.
participation_report_job = dg.define_asset_job(
    "participation_report",
    selection=WEEKLY_REPORTS,
    description="The weekly participation report for one week (a partition).",
)
