"""Jobs: what a new drop triggers, dataset publication, and the whole pipeline the CLI runs.

Every job runs its steps in one process (the in-process executor). The steps run one after the
other anyway, since each opens the warehouse and the ``duckdb`` pool admits one at a time, and
a process per step cost 40-60 s of start-up per step under load: longer than a small drop's
whole ingestion and dbt build.
"""

from __future__ import annotations

import dagster as dg
from dagster_dbt import build_dbt_asset_selection

from feedback_platform.assets.anchors import ANCHOR_TABLES
from feedback_platform.assets.gated_models import ANCHOR_ROWS, PUBLICATION_MODELS
from feedback_platform.assets.ingestion import EVENT_TABLES, DropTables
from feedback_platform.assets.privacy import PRIVACY_TABLES, privacy_erasures
from feedback_platform.assets.reporting import participation_weekly, reporting_models
from feedback_platform.assets.review import review_agreement
from feedback_platform.assets.review_labels import REVIEW_LABEL_TABLES
from feedback_platform.assets.training import (
    anchor_set,
    contributor_impact,
    kto_signals,
    preference_pairs,
)
from feedback_platform.assets.transformation import dbt_models

PIPELINE_JOB_NAME = "feedback_pipeline"
PUBLISH_JOB_NAME = "publish_datasets"

#: Weekly-partitioned assets run per week (schedule, backfills), never in the unpartitioned jobs:
#: the report's dbt models, then its files.
WEEKLY_REPORTS = dg.AssetSelection.assets(reporting_models, participation_weekly)

#: The versioned datasets and what is measured against them, with the dbt models of their rows
#: (models/publication): published on their own cadence (schedules.py) and on demand, not by
#: every drop, since each new version re-publishes every row (each new event moves the as-of
#: time and so every weight).
PUBLICATION = (
    dg.AssetSelection.assets(anchor_set, preference_pairs, kto_signals, contributor_impact)
    | PUBLICATION_MODELS
)

#: The dbt seeds (the event taxonomy, seeds/event_types.csv): no drop is upstream of them, but
#: the models a drop rebuilds read them, so a drop's run loads them too (on a new home they do
#: not exist yet; after an upgrade that changed a row they are stale).
DBT_SEEDS = build_dbt_asset_selection([dbt_models], dbt_select="resource_type:seed")

#: The review models before the agreement gate and the gate itself: no event drop is upstream
#: of them, but the open queue a drop rebuilds reads them (on a new home they do not exist yet).
REVIEW_GATE = build_dbt_asset_selection(
    [dbt_models], dbt_select="path:models/review"
) | dg.AssetSelection.assets(review_agreement)


#: Who is out of training data (from privacy requests): the queue a drop rebuilds reads it, and
#: no event or label drop is upstream of it (on a new home it does not exist yet).
TRAINING_OPT_OUTS = build_dbt_asset_selection([dbt_models], dbt_select="int_training_opt_outs")


def _ingest_job(
    name: str,
    tables: DropTables,
    description: str,
    also: dg.AssetSelection | None = None,
) -> dg.UnresolvedAssetJobDefinition:
    """A new drop refreshes its raw tables (one multi-asset) and everything downstream of them
    but the weekly reports (a sensor asks for the weeks that changed) and the datasets, and
    ``also`` (what those read that no drop is upstream of, or that the queue reads of the
    publication's models: the anchor set's rows, which its gold items show)."""
    downstream = dg.AssetSelection.assets(*tables.keys).downstream() - WEEKLY_REPORTS - PUBLICATION
    return dg.define_asset_job(
        name,
        selection=downstream | also if also is not None else downstream,
        description=description,
        executor_def=dg.in_process_executor,
    )


ingest_events_job = _ingest_job(
    "ingest_events",
    EVENT_TABLES,
    "Ingest event drops and rebuild the dbt models and the review queue.",
    also=DBT_SEEDS | REVIEW_GATE | TRAINING_OPT_OUTS | ANCHOR_ROWS,
)

ingest_reviews_job = _ingest_job(
    "ingest_reviews",
    REVIEW_LABEL_TABLES,
    "Ingest review label drops and rebuild agreement and the review queue.",
    also=TRAINING_OPT_OUTS | ANCHOR_ROWS,
)

#: A curated anchor drop's run records the anchors only: the next publication holds them in the
#: anchor set and out of the training splits. Not downstream of it all: a home may get anchors
#: before any event, and curated anchors are never gold items, so the queue does not change.
ingest_anchors_job = dg.define_asset_job(
    "ingest_anchors",
    selection=dg.AssetSelection.assets(*ANCHOR_TABLES.keys),
    description="Record curated anchor drops (landing/anchors/) in raw.anchor_examples.",
    executor_def=dg.in_process_executor,
)

#: A request drop's run records the requests, carries out the erase requests (every row, file
#: and dataset version of the user) and rebuilds who is out of training data; the queue, the
#: datasets and contributor impact leave opted-out users out from their next run on (a
#: drop's, the publication's). Not downstream of it all: a home may get a request before any
#: event.
ingest_privacy_job = dg.define_asset_job(
    "ingest_privacy_requests",
    selection=dg.AssetSelection.assets(*PRIVACY_TABLES.keys, privacy_erasures) | TRAINING_OPT_OUTS,
    description="Record privacy request drops (erasure, training consent) in"
    " raw.privacy_requests, carry out the erase requests and rebuild who is out of training"
    " data.",
    executor_def=dg.in_process_executor,
)

publish_datasets_job = dg.define_asset_job(
    PUBLISH_JOB_NAME,
    selection=PUBLICATION,
    description="Publish new versions of the anchor set, preference pairs and KTO signals (when"
    " their content changed) and count contributor impact against the latest pairs.",
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
