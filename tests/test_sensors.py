"""The drop sensors: one run per new file, a cursor, and never a second run for the same file."""

from __future__ import annotations

import os

import dagster as dg

from feedback_platform.assets.review_labels import raw_review_labels
from feedback_platform.resources import PlatformResource, build_resources
from feedback_platform.sensors import event_drop_sensor, review_drop_sensor
from tests.conftest import event, query, write_jsonl


def evaluate(settings, cursor: str | None = None, sensor=event_drop_sensor):
    context = dg.build_sensor_context(
        cursor=cursor, resources={"platform": PlatformResource(home=str(settings.home))}
    )
    result = sensor.evaluate_tick(context)
    return result.run_requests, result.cursor, result.skip_message


def test_one_run_per_new_file_then_nothing(settings):
    landing = settings.events_landing_dir
    write_jsonl(landing / "a.jsonl", [event("e1")])
    write_jsonl(landing / "b.jsonl", [event("e2")])
    (landing / "notes.txt").write_text("not a drop")
    (landing / ".c.jsonl.tmp").write_text("being written")

    requests, cursor, _ = evaluate(settings)
    assert sorted(r.tags["feedback_platform/drop"] for r in requests) == ["a.jsonl", "b.jsonl"]
    assert all(
        r.run_config["ops"]["raw_feedback_events"]["config"]["files"]
        == [r.tags["feedback_platform/drop"]]
        for r in requests
    )

    requests, cursor, _ = evaluate(settings, cursor)
    assert requests == []

    write_jsonl(landing / "c.jsonl", [event("e3")])
    requests, cursor, _ = evaluate(settings, cursor)
    assert [r.tags["feedback_platform/drop"] for r in requests] == ["c.jsonl"]


def test_run_key_changes_when_a_file_is_rewritten(settings):
    drop = write_jsonl(settings.events_landing_dir / "a.jsonl", [event("e1")])
    [first], cursor, _ = evaluate(settings)
    write_jsonl(drop, [event("e1"), event("e2")])
    os.utime(drop, ns=(drop.stat().st_atime_ns, drop.stat().st_mtime_ns + 1_000_000))
    [second], _, _ = evaluate(settings, cursor)
    assert first.run_key != second.run_key


def test_empty_landing_folder_skips(settings):
    requests, _, skip = evaluate(settings)
    assert requests == [] and "No drops" in skip


def test_sensor_never_opens_the_warehouse(settings):
    write_jsonl(settings.events_landing_dir / "a.jsonl", [event("e1")])
    evaluate(settings)
    assert not settings.warehouse_path.exists()


def test_one_ingest_reviews_run_per_new_label_file(settings):
    landing = settings.reviews_landing_dir
    labels = [{"item_id": "i1", "reviewer_id": "r1", "label": "a", "labeled_at": 1791190800000}]
    write_jsonl(landing / "batch-1.jsonl", labels)
    write_jsonl(landing / "batch-2.jsonl.tmp", labels)
    write_jsonl(landing / ".batch-3.jsonl", labels)
    write_jsonl(landing / "batch-4.jsonl.gz", labels)
    write_jsonl(settings.events_landing_dir / "events.jsonl", [event("e1")])

    [request], cursor, _ = evaluate(settings, sensor=review_drop_sensor)
    assert review_drop_sensor.job_name == "ingest_reviews"
    assert request.tags["feedback_platform/drop"] == "batch-1.jsonl"
    assert evaluate(settings, cursor, review_drop_sensor)[0] == []

    # the run it asks for ingests exactly that file
    run = dg.materialize(
        [raw_review_labels], resources=build_resources(settings), run_config=request.run_config
    )
    assert run.success
    assert query(settings, "select file_name from raw.ingested_review_files") == [
        ("batch-1.jsonl",)
    ]

    write_jsonl(landing / "batch-5.jsonl", labels)
    requests, _, _ = evaluate(settings, cursor, review_drop_sensor)
    assert [r.tags["feedback_platform/drop"] for r in requests] == ["batch-5.jsonl"]
