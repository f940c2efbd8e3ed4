"""The drop sensors: one run for all new files, none for files already ingested, none while a
run is unfinished, and never a look inside the warehouse; the report sensor asks for the weeks
a drop's run changed."""

from __future__ import annotations

import gzip
import os

import dagster as dg
import pytest

from feedback_platform.assets.ingestion import raw_feedback_events
from feedback_platform.assets.privacy import raw_privacy_requests
from feedback_platform.assets.review_labels import raw_review_labels
from feedback_platform.definitions import build_definitions
from feedback_platform.resources import PlatformResource, build_resources
from feedback_platform.runs import process_tags
from feedback_platform.sensors import (
    event_drop_sensor,
    privacy_drop_sensor,
    review_drop_sensor,
    stale_reports_sensor,
)
from tests.conftest import event, query, write_jsonl


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def evaluate(settings, instance, sensor=event_drop_sensor) -> tuple[list[dg.RunRequest], str]:
    context = dg.build_sensor_context(
        instance=instance, resources={"platform": PlatformResource(home=str(settings.home))}
    )
    result = sensor.evaluate_tick(context)
    return result.run_requests, result.skip_message


def requested_files(request: dg.RunRequest, op: str = "raw_feedback_events") -> list[str]:
    return request.run_config["ops"][op]["config"]["files"]


def drop(settings, name: str, events: list, mtime_s: int):
    path = write_jsonl(settings.events_landing_dir / name, events)
    os.utime(path, (mtime_s, mtime_s))
    return path


def ingest(settings, files: list[str] | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_feedback_events],
        resources=build_resources(settings),
        run_config={"ops": {"raw_feedback_events": {"config": {"files": files or []}}}},
    )


def test_a_burst_of_new_drops_is_one_run_in_arrival_order(settings, instance):
    drop(settings, "b.jsonl", [event("e2")], 1_000)
    drop(settings, "a.jsonl", [event("e1")], 2_000)
    drop(settings, "c.jsonl", [event("e3")], 3_000)
    (settings.events_landing_dir / "notes.txt").write_text("not a drop")
    (settings.events_landing_dir / ".d.jsonl.tmp").write_text("being written")

    [request], _ = evaluate(settings, instance)
    assert requested_files(request) == ["b.jsonl", "a.jsonl", "c.jsonl"]
    assert request.tags["feedback_platform/drops"] == "b.jsonl, a.jsonl, c.jsonl"
    assert int(request.tags["dagster/priority"]) > 0  # dequeued before waiting report runs
    # the same drops give the same run key, so Dagster launches them once
    [again], _ = evaluate(settings, instance)
    assert again.run_key == request.run_key


def test_drops_ingested_by_any_run_start_no_run(settings, instance):
    """`feedback-platform run` (or any run) ingests the drops; the sensor then asks for none of
    them, and for a new drop only that one."""
    drop(settings, "day1.jsonl", [event("e1")], 1_000)
    drop(settings, "day2.jsonl", [event("e2")], 2_000)
    assert ingest(settings).success

    requests, skip = evaluate(settings, instance)
    assert requests == [] and "No new drops" in skip

    drop(settings, "day3.jsonl", [event("e3")], 3_000)
    [request], _ = evaluate(settings, instance)
    assert requested_files(request) == ["day3.jsonl"]


def test_no_second_run_while_one_is_unfinished(settings, instance):
    drop(settings, "a.jsonl", [event("e1")], 1_000)
    for job_name in ("ingest_events", "feedback_pipeline"):
        run = dg.DagsterRun(job_name=job_name, run_id=f"run-{job_name}")
        instance.add_run(run.with_status(dg.DagsterRunStatus.STARTED))
        requests, skip = evaluate(settings, instance)
        assert requests == [] and run.run_id in skip
        instance.report_run_failed(instance.get_run_by_id(run.run_id))
    # both finished: the drop that waited is asked for
    [request], _ = evaluate(settings, instance)
    assert requested_files(request) == ["a.jsonl"]


def test_a_rewritten_file_is_a_new_drop(settings, instance):
    path = drop(settings, "a.jsonl", [event("e1")], 1_000)
    assert ingest(settings).success
    assert evaluate(settings, instance)[0] == []

    # same size, mtime restored: only the inode change time tells
    write_jsonl(path, [event("e9")])
    os.utime(path, (1_000, 1_000))
    [request], _ = evaluate(settings, instance)
    assert requested_files(request) == ["a.jsonl"]


def test_an_unreadable_drop_is_not_asked_for_again_until_it_changes(settings, instance):
    drop(settings, "good.jsonl", [event("e1")], 1_000)
    cut = settings.events_landing_dir / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b'{"event_id": "e2"}\n' * 1000)[:100])
    result = ingest(settings)
    assert result.success  # the broken drop is a failed check, not a failed run
    [check] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "every_drop_ingested"
    ]
    assert not check.passed and "cut.jsonl.gz" in check.description
    assert query(settings, "select file_name from raw.ingested_files") == [("good.jsonl",)]

    assert evaluate(settings, instance)[0] == []  # a run for it would fail the same way
    cut.write_bytes(gzip.compress(b"\n"))  # fixed by the producer
    [request], _ = evaluate(settings, instance)
    assert requested_files(request) == ["cut.jsonl.gz"]


def test_empty_landing_folder_skips(settings, instance):
    requests, skip = evaluate(settings, instance)
    assert requests == [] and "No new drops" in skip


def test_sensor_never_opens_the_warehouse(settings, instance):
    drop(settings, "a.jsonl", [event("e1")], 1_000)
    evaluate(settings, instance)
    assert not settings.warehouse_path.exists()


def test_one_ingest_reviews_run_for_new_label_files(settings, instance):
    landing = settings.reviews_landing_dir
    labels = [{"item_id": "i1", "reviewer_id": "r1", "label": "a", "labeled_at": 1791190800000}]
    write_jsonl(landing / "batch-1.jsonl", labels)
    write_jsonl(landing / "batch-2.jsonl.tmp", labels)
    write_jsonl(landing / ".batch-3.jsonl", labels)
    write_jsonl(landing / "batch-4.jsonl.gz", labels)
    write_jsonl(settings.events_landing_dir / "events.jsonl", [event("e1")])

    [request], _ = evaluate(settings, instance, review_drop_sensor)
    assert review_drop_sensor.job_name == "ingest_reviews"
    assert requested_files(request, "raw_review_labels") == ["batch-1.jsonl"]

    # the run it asks for ingests exactly that file, and then it is not asked for again
    run = dg.materialize(
        [raw_review_labels], resources=build_resources(settings), run_config=request.run_config
    )
    assert run.success
    assert query(settings, "select file_name from raw.ingested_review_files") == [
        ("batch-1.jsonl",)
    ]
    assert evaluate(settings, instance, review_drop_sensor)[0] == []

    write_jsonl(landing / "batch-5.jsonl", labels)
    [request], _ = evaluate(settings, instance, review_drop_sensor)
    assert requested_files(request, "raw_review_labels") == ["batch-5.jsonl"]


def test_privacy_request_drops_start_one_run_of_their_own_job(settings, instance):
    """A request file in ``landing/privacy/`` is asked for once, by its own job; event drops
    and other files there are not privacy drops."""
    request = {
        "request_id": "r1",
        "user_id": "u1",
        "kind": "erase",
        "requested_at": "2026-10-20T09:00:00Z",
    }
    write_jsonl(settings.privacy_landing_dir / "requests-1.jsonl", [request])
    (settings.privacy_landing_dir / "notes.txt").write_text("not a drop")
    write_jsonl(settings.events_landing_dir / "events.jsonl", [event("e1")])

    [run_request], _ = evaluate(settings, instance, privacy_drop_sensor)

    assert privacy_drop_sensor.job_name == "ingest_privacy_requests"
    assert requested_files(run_request, "raw_privacy_requests") == ["requests-1.jsonl"]
    run = dg.materialize(
        [raw_privacy_requests],
        resources=build_resources(settings),
        run_config=run_request.run_config,
    )
    assert run.success
    assert query(settings, "select request_id from raw.privacy_requests") == [("r1",)]
    assert evaluate(settings, instance, privacy_drop_sensor)[0] == []


def test_a_drop_run_reports_again_the_complete_weeks_it_changed(settings, instance):
    """The drop's own run (the job the sensor starts) observes the weeks whose data changed;
    the report sensor asks for one report run per week, and nothing else is published."""
    defs = build_definitions(settings)
    drop(settings, "week1.jsonl", [event("e1", "generation")], 1_000)
    first = defs.resolve_job_def("ingest_events").execute_in_process(instance=instance)
    assert first.success
    materialized = {e.asset_key.to_user_string() for e in first.get_asset_materialization_events()}
    assert "marts/fct_sessions" in materialized and "review_queue" in materialized
    assert not materialized & {"preference_pairs", "kto_signals", "contributor_impact"}
    assert report_requests(instance, first) == ["2026-10-05"]

    # a drop for a later week, not yet reported: only the new week; the first one is stale
    # too, since it was never reported
    later = event("e2", "generation", generation_id="g2", user_id="bob",
                  occurred_at="2026-10-20T09:00:00Z")  # fmt: skip
    drop(settings, "week3.jsonl", [later], 2_000)
    second = defs.resolve_job_def("ingest_events").execute_in_process(instance=instance)
    assert report_requests(instance, second) == ["2026-10-05", "2026-10-19"]

    # once reported, a drop that changes no week asks for no report
    report = defs.resolve_job_def("participation_report")
    for week in ("2026-10-05", "2026-10-19"):
        assert report.execute_in_process(instance=instance, partition_key=week).success
    drop(settings, "empty.jsonl", ["{not json"], 3_000)
    third = defs.resolve_job_def("ingest_events").execute_in_process(instance=instance)
    assert report_requests(instance, third) == []

    # a run of the CLI changes the first week again, but reports it itself
    drop(settings, "late.jsonl", [event("e3", "copy", occurred_at="2026-10-05T09:05:00Z")], 4_000)
    cli_run = defs.resolve_job_def("feedback_pipeline").execute_in_process(
        instance=instance, tags=process_tags()
    )
    assert any(e.event_type == dg.DagsterEventType.ASSET_OBSERVATION for e in cli_run.all_events)
    assert report_requests(instance, cli_run) == []


def report_requests(instance, result: dg.ExecuteInProcessResult) -> list[str]:
    run = instance.get_run_by_id(result.run_id)
    [success] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS]
    context = dg.build_run_status_sensor_context(
        sensor_name=stale_reports_sensor.name,
        dagster_event=success,
        dagster_instance=instance,
        dagster_run=run,
    )
    requests = stale_reports_sensor(context)
    if isinstance(requests, dg.SkipReason):
        return []
    assert all(r.job_name in (None, "participation_report") for r in requests)
    return [r.partition_key for r in requests]
