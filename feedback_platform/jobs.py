"""Jobs: what a new drop triggers, and the whole pipeline the CLI runs."""

from __future__ import annotations

import dagster as dg

from feedback_platform.assets.ingestion import RAW_EVENTS, RAW_LEDGER, RAW_QUARANTINE
from feedback_platform.assets.reporting import participation_weekly

#: Weekly-partitioned assets run per week (schedule, backfills), never in the unpartitioned jobs.
WEEKLY_REPORTS = dg.AssetSelection.assets(participation_weekly)

#: A new drop refreshes the raw tables (one multi-asset) and everything downstream of them.
ingest_events_job = dg.define_asset_job(
    "ingest_events",
    selection=dg.AssetSelection.assets(RAW_EVENTS, RAW_QUARANTINE, RAW_LEDGER).downstream()
    - WEEKLY_REPORTS,
    description="Ingest event drops and rebuild everything downstream of raw events.",
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
