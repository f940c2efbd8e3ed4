"""Jobs: what a new drop triggers, and the whole pipeline the CLI runs."""

from __future__ import annotations

import dagster as dg

from feedback_platform.assets.ingestion import RAW_EVENTS, RAW_LEDGER, RAW_QUARANTINE

#: A new drop refreshes the raw tables (one multi-asset) and everything downstream of them.
ingest_events_job = dg.define_asset_job(
    "ingest_events",
    selection=dg.AssetSelection.assets(RAW_EVENTS, RAW_QUARANTINE, RAW_LEDGER).downstream(),
    description="Ingest event drops and rebuild everything downstream of raw events.",
)

#: Everything, in dependency order: what `feedback-platform run` executes.
feedback_pipeline_job = dg.define_asset_job(
    "feedback_pipeline",
    selection=dg.AssetSelection.all(),
    description="Ingest every new drop and materialize every asset.",
)
