"""Sensors watch the landing folder only; they never open the DuckDB file."""

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from feedback_platform.ingest.landing import drop_files, drop_key
from feedback_platform.jobs import ingest_events_job, ingest_reviews_job
from feedback_platform.resources import PlatformResource
from feedback_platform.review.labels import REVIEW_DROP_SUFFIXES


@dg.sensor(
    job=ingest_events_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def event_drop_sensor(context: dg.SensorEvaluationContext, platform: PlatformResource):
    """One run per new file in ``landing/events/``."""
    drops = drop_files(platform.settings().events_landing_dir)
    yield from _one_run_per_new_drop(context, drops, "raw_feedback_events")


@dg.sensor(
    job=ingest_reviews_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def review_drop_sensor(context: dg.SensorEvaluationContext, platform: PlatformResource):
    """One run per new label file (``.jsonl``) in ``landing/reviews/``."""
    drops = drop_files(platform.settings().reviews_landing_dir, REVIEW_DROP_SUFFIXES)
    yield from _one_run_per_new_drop(context, drops, "raw_review_labels")


def _one_run_per_new_drop(
    context: dg.SensorEvaluationContext, drops: list[Path], op: str
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """A run of ``op`` for each drop not seen before.

    The run key is name + size + mtime, so a file is requested once however often the sensor
    ticks; the cursor holds the keys of the files still in the folder, so it stays small.
    Re-dropping identical content under a new name starts a run that ingests nothing: the
    ledger recognizes the sha256.
    """
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    present = []
    for path in drops:
        key = drop_key(path)
        present.append(key)
        if key not in seen:
            yield dg.RunRequest(
                run_key=key,
                run_config={"ops": {op: {"config": {"files": [path.name]}}}},
                tags={"feedback_platform/drop": path.name},
            )
    if not present:
        yield dg.SkipReason("No drops in the landing folder.")
    context.update_cursor(json.dumps(sorted(present)))
