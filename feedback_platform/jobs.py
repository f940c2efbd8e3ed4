"""Jobs: what a new drop triggers, dataset publication, and the whole pipeline the CLI runs.

Every job runs its steps in one process (the in-process executor). The steps run one after the
other anyway, since each opens the warehouse and the ``duckdb`` pool admits one at a time, and
a process per step cost 40-60 s of start-up per step under load: longer than a small drop's
whole ingestion and dbt build.
"""

from __future__ import annotations

import dagster as dg

from feedback_platform.assets.ingestion import EVENT_TABLES, DropTables
from feedback_platform.assets.reporting import participation_weekly
from feedback_platform.assets.review_labels import REVIEW_LABEL_TABLES
from feedback_platform.assets.training import contributor_impact, kto_signals, preference_pairs

PIPELINE_JOB_NAME = "feedback_pipeline"
PUBLISH_JOB_NAME = "publish_datasets"

#: Weekly-partitioned assets run per week (schedule, backfills), never in the unpartitioned jobs.
WEEKLY_REPORTS = dg.AssetSelection.assets(participation_weekly)

#: The versioned datasets and what is measured against them: published on their own cadence
#: (schedules.py) and on demand, not by every drop, since each new version re-publishes every
#: row (each new event moves the as-of time and so every weight).
PUBLICATION = dg.AssetSelection.assets(preference_pairs, kto_signals, contributor_impact)


def _ingest_job(name: str, tables: DropTables, description: str) -> dg.UnresolvedAssetJobDefinition:
    """A new drop refreshes its raw tables (one multi-asset) and everything downstream of them
    but the weekly reports (a sensor asks for the weeks that changed) and the datasets."""
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*tables.keys).downstream()
        - WEEKLY_REPORTS
        - PUBLICATION,
        description=description,
        executor_def=dg.in_process_executor,
    )


ingest_events_job = _ingest_job(
    "ingest_events",
    EVENT_TABLES,
    "Ingest event drops and rebuild the dbt models and the review queue.",
)

ingest_reviews_job = _ingest_job(
    "ingest_reviews",
    REVIEW_LABEL_TABLES,
    "Ingest review label drops and rebuild agreement and the review queue.",
)

publish_datasets_job = dg.define_asset_job(
    PUBLISH_JOB_NAME,
    selection=PUBLICATION,
    description="Publish new versions of the preference pairs and KTO signals (when their"
    " content changed) and count contributor impact against the latest pairs.",
    executor_def=dg.in_process_executor,
)

#: Everything unpartitioned, in dependency order: what `feedback-platform run` executes first.
feedback_pipeline_job = dg.define_asset_job(
    PIPELINE_JOB_NAME,
    selection=dg.AssetSelection.all() - WEEKLY_REPORTS,
    description="Ingest every new drop, materialize every unpartitioned asset, publish.",
    executor_def=dg.in_process_executor,
)

#: One week of the participation report; the schedule and `feedback-platform run` use it.
participation_report_job = dg.define_asset_job(
    "participation_report",
    selection=WEEKLY_REPORTS,
    description="The weekly participation report for one week (a partition).",
    executor_def=dg.in_process_executor,
)
