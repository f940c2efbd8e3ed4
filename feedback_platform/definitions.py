"""The one Dagster code location: every asset, check, job, schedule and sensor of the platform."""

from __future__ import annotations

import dagster as dg

from feedback_platform.assets.anchors import raw_anchor_examples
from feedback_platform.assets.gated_models import gated_models
from feedback_platform.assets.ingestion import raw_events_freshness, raw_feedback_events
from feedback_platform.assets.privacy import privacy_erasures, raw_privacy_requests
from feedback_platform.assets.reporting import participation_weekly, reporting_models
from feedback_platform.assets.retention import raw_events_retention
from feedback_platform.assets.review import (
    gold_answers,
    review_agreement,
    review_items,
    review_queue,
)
from feedback_platform.assets.review_labels import raw_review_labels
from feedback_platform.assets.training import (
    anchor_set,
    contributor_impact,
    kto_signals,
    preference_pairs,
)
from feedback_platform.assets.transformation import dbt_models
from feedback_platform.jobs import (
    feedback_pipeline_job,
    ingest_anchors_job,
    ingest_events_job,
    ingest_privacy_job,
    ingest_reviews_job,
    participation_report_job,
    publish_datasets_job,
)
from feedback_platform.resources import build_resources
from feedback_platform.schedules import participation_weekly_schedule, publish_datasets_schedule
from feedback_platform.sensors import (
    anchor_drop_sensor,
    event_drop_sensor,
    privacy_drop_sensor,
    review_drop_sensor,
    stale_reports_sensor,
)
from feedback_platform.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    freshness = raw_events_freshness(settings)
    raw_assets = raw_feedback_events.map_asset_specs(
        lambda spec: (
            spec.replace_attributes(freshness_policy=freshness)
            if spec.key == dg.AssetKey("raw_feedback_events")
            else spec
        )
    )
    return dg.Definitions(
        assets=[
            raw_assets,
            raw_events_retention,
            dbt_models,
            reporting_models,
            participation_weekly,
            raw_review_labels,
            raw_privacy_requests,
            privacy_erasures,
            raw_anchor_examples,
            review_items,
            gold_answers,
            review_agreement,
            gated_models,
            review_queue,
            anchor_set,
            preference_pairs,
            kto_signals,
            contributor_impact,
        ],
        jobs=[
            ingest_events_job,
            ingest_reviews_job,
            ingest_privacy_job,
            ingest_anchors_job,
            feedback_pipeline_job,
            participation_report_job,
            publish_datasets_job,
        ],
        schedules=[participation_weekly_schedule, publish_datasets_schedule(settings)],
        sensors=[
            event_drop_sensor,
            review_drop_sensor,
            privacy_drop_sensor,
            anchor_drop_sensor,
            stale_reports_sensor,
        ],
        resources=build_resources(settings),
    )


defs = build_definitions(Settings.from_env())
