"""Sensors watch the landing folder and the run history only; they never open the DuckDB file.

What the warehouse already holds comes from the ledger mirror that ingestion writes beside the
landing folders (``ingest/ledger_mirror.py``), so drops ingested by ``feedback-platform run``,
or by any earlier run, start nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import dagster as dg

from feedback_platform.assets.anchors import ANCHOR_TABLES
from feedback_platform.assets.report_weeks import PARTICIPATION_WEEKLY
from feedback_platform.ingest.landing import drop_files
from feedback_platform.ingest.ledger_mirror import mirror_key, read_mirror
from feedback_platform.ingest.readers import SUPPORTED_SUFFIXES
from feedback_platform.jobs import (
    PIPELINE_JOB_NAME,
    ingest_anchors_job,
    ingest_events_job,
    ingest_privacy_job,
    ingest_reviews_job,
    participation_report_job,
)
from feedback_platform.privacy.requests import PRIVACY_DROP_SUFFIXES
from feedback_platform.resources import PlatformResource
from feedback_platform.review.labels import REVIEW_DROP_SUFFIXES
from feedback_platform.runs import PID_TAG, settle_dead_runs
from feedback_platform.settings import Settings, sensor_interval_seconds

#: How often the drop sensors look at the landing folder (FEEDBACK_PLATFORM_SENSOR_INTERVAL_SECONDS,
#: default 15). A look is a directory listing and one small JSON file, so it can be frequent:
#: it bounds how long a drop waits for its run.
DROP_SENSOR_INTERVAL_SECONDS = sensor_interval_seconds()

#: Runs that may still ingest: a new request waits for them instead of racing them.
_UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _drop_sensor(
    name: str,
    job: dg.UnresolvedAssetJobDefinition,
    landing: Callable[[Settings], Path],
    suffixes: tuple[str, ...],
    op: str,
    description: str,
) -> dg.SensorDefinition:
    """A sensor that asks for one run of ``job`` (its ingestion step ``op``) for all the new
    drops in the folder ``landing`` names (``pending_drops_request``)."""

    def evaluate(context: dg.SensorEvaluationContext, platform: PlatformResource):
        folder = landing(platform.settings())
        return pending_drops_request(context, folder, suffixes, op, job.name)

    return dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=DROP_SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )(evaluate)


event_drop_sensor = _drop_sensor(
    "event_drop_sensor",
    ingest_events_job,
    lambda settings: settings.events_landing_dir,
    SUPPORTED_SUFFIXES,
    "raw_feedback_events",
    "One ``ingest_events`` run for all the new files in ``landing/events/``.",
)

review_drop_sensor = _drop_sensor(
    "review_drop_sensor",
    ingest_reviews_job,
    lambda settings: settings.reviews_landing_dir,
    REVIEW_DROP_SUFFIXES,
    "raw_review_labels",
    "One ``ingest_reviews`` run for all the new label files (``.jsonl``) in ``landing/reviews/``.",
)

privacy_drop_sensor = _drop_sensor(
    "privacy_drop_sensor",
    ingest_privacy_job,
    lambda settings: settings.privacy_landing_dir,
    PRIVACY_DROP_SUFFIXES,
    "raw_privacy_requests",
    "One ``ingest_privacy_requests`` run for all the new request files (``.jsonl``) in"
    " ``landing/privacy/``.",
)

anchor_drop_sensor = _drop_sensor(
    "anchor_drop_sensor",
    ingest_anchors_job,
    lambda settings: settings.anchors_landing_dir,
    ANCHOR_TABLES.suffixes,
    "raw_anchor_examples",
    "One ``ingest_anchors`` run for all the new curated anchor files (``.jsonl``) in"
    " ``landing/anchors/``.",
)


def pending_drops_request(
    context: dg.SensorEvaluationContext,
    landing: Path,
    suffixes: tuple[str, ...],
    op: str,
    job_name: str,
) -> dg.RunRequest | dg.SkipReason:
    """One run of ``job_name`` (its ingestion step ``op``) for every drop in ``landing`` that
    the ledger mirror does not know, in arrival order, so a burst of drops is ingested and
    rebuilt downstream once.

    While a run of this job (or the whole pipeline) is queued or running, nothing is asked:
    the new drops go into the next run, once that one is done. The run key is a hash of the
    drops' keys, so the same set of drops is asked for once (a run that failed is re-executed
    from the UI, or retried with the next drop); a rewritten file is a new drop.
    """
    for dead in settle_dead_runs(context.instance):  # else every run would wait on it forever
        context.log.warning(dead.describe())
    mirror = read_mirror(landing)
    pending = [path for path in drop_files(landing, suffixes) if not mirror.is_settled(path)]
    if not pending:
        return dg.SkipReason(f"No new drops in {landing}.")
    unfinished = _unfinished_runs(context.instance, job_name)
    if unfinished:
        return dg.SkipReason(
            f"{len(pending)} new drop(s) wait for run {unfinished[0].run_id} to finish."
        )
    names = [path.name for path in pending]
    return dg.RunRequest(
        run_key=_run_key(mirror_key(path) for path in pending),
        run_config={"ops": {op: {"config": {"files": names}}}},
        # ahead of queued report runs: they wait on the same pool, and a drop should not
        tags={"feedback_platform/drops": ", ".join(names)[:2000], "dagster/priority": "10"},
    )


def _unfinished_runs(instance: dg.DagsterInstance, job_name: str) -> list[dg.DagsterRun]:
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=_UNFINISHED))
    return [run for run in runs if run.job_name in (job_name, PIPELINE_JOB_NAME)]


def _run_key(keys: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:32]


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    request_job=participation_report_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def stale_reports_sensor(context: dg.RunStatusSensorContext):
    """After a run that rebuilt the marts (a drop's, or any run launched from the UI), report
    again each complete week whose data it changed.

    The run's dbt step observes ``participation_weekly`` for every week whose report read rows
    that have been rebuilt since (``report_weeks.stale_report_weeks``); this sensor turns those
    observations, read from the run's event log, into one report run per week. The CLI's runs
    are left out: ``feedback-platform run`` reports its weeks itself.
    """
    run_id = context.dagster_run.run_id
    if PID_TAG in context.dagster_run.tags:
        return dg.SkipReason(f"Run {run_id} is the CLI's; it reports its weeks itself.")
    records = context.instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION
    ).records
    weeks = sorted(
        {
            observation.partition
            for record in records
            if (observation := record.asset_observation) is not None
            and observation.asset_key == PARTICIPATION_WEEKLY
            and observation.partition
        }
    )
    if not weeks:
        return dg.SkipReason(f"Run {run_id} changed no complete week's report.")
    return [dg.RunRequest(run_key=f"{run_id}:{week}", partition_key=week) for week in weeks]
