"""The raw ingestion asset, materialized for real on a temp platform home."""

from __future__ import annotations

import dagster as dg

from feedback_platform.assets import ingestion
from feedback_platform.assets.ingestion import raw_feedback_events
from feedback_platform.ingest.load import read_drop
from feedback_platform.resources import build_resources
from tests.conftest import event, query, write_jsonl


def materialize_raw(settings, files: list[str] | None = None) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {"raw_feedback_events": {"config": {"files": files or []}}}}
    return dg.materialize(
        [raw_feedback_events], resources=build_resources(settings), run_config=run_config
    )


def test_a_drop_with_a_known_right_answer(settings):
    write_jsonl(
        settings.events_landing_dir / "2026-10-05.jsonl",
        [
            event("e1", "generation"),
            event("e2", "thumbs_up"),
            event("e2", "thumbs_up"),  # exact duplicate
            event("e3", "rating", rating=9),  # quarantined
            event("e1", "generation", output="rewritten"),  # conflict
            "not json",
        ],
    )
    result = materialize_raw(settings)
    assert result.success

    assert query(
        settings,
        "select rows_read, rows_valid, rows_quarantined, rows_duplicate from raw.ingested_files",
    ) == [(6, 2, 3, 1)]
    assert query(
        settings, "select reason, count(*) from raw.quarantined_events group by 1 order by 1"
    ) == [("bad_value:rating", 1), ("duplicate_conflict", 1), ("invalid_json", 1)]

    metadata = result.asset_materializations_for_node("raw_feedback_events")
    by_key = {m.asset_key.to_user_string(): m.metadata for m in metadata}
    assert by_key["raw_feedback_events"]["dagster/row_count"].value == 2
    assert by_key["raw_quarantined_events"]["rows_quarantined"].value == 3
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["ledger_balances"].passed
    assert not checks["quarantine_share_is_low"].passed  # 50% quarantined: warn


def test_rematerializing_ingests_only_new_drops(settings):
    write_jsonl(settings.events_landing_dir / "a.jsonl", [event("e1"), event("e2")])
    assert materialize_raw(settings).success
    before = query(settings, "select * from raw.feedback_events order by event_id")

    assert materialize_raw(settings).success
    assert query(settings, "select * from raw.feedback_events order by event_id") == before

    write_jsonl(settings.events_landing_dir / "b.jsonl", [event("e3")])
    result = materialize_raw(settings, files=["b.jsonl"])
    [raw] = [
        m
        for m in result.asset_materializations_for_node("raw_feedback_events")
        if m.asset_key == dg.AssetKey("raw_feedback_events")
    ]
    assert raw.metadata["files_ingested"].value == 1
    assert query(settings, "select count(*) from raw.feedback_events") == [(3,)]


def test_asking_for_a_missing_file_fails_clearly(settings):
    result = dg.materialize(
        [raw_feedback_events],
        resources=build_resources(settings),
        run_config={"ops": {"raw_feedback_events": {"config": {"files": ["nope.jsonl"]}}}},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "nope.jsonl" in failure.step_failure_data.error.message


def test_new_drops_are_read_ahead_and_ingested_ones_are_not_read_again(settings, monkeypatch):
    """Each new drop is read (hashed and split into rows) on another thread while the one
    before it is ingested; a drop already ingested and left in the landing folder is not read
    at all, however many there are."""
    landing = settings.events_landing_dir
    write_jsonl(landing / "day1.jsonl", [event("e1"), event("e2")])
    assert materialize_raw(settings).success

    read_paths = []

    def recording_read_drop(path, **kwargs):
        read_paths.append(path.name)
        return read_drop(path, **kwargs)

    monkeypatch.setattr(ingestion, "read_drop", recording_read_drop)
    write_jsonl(landing / "day2.jsonl", [event("e3")])
    write_jsonl(landing / "day3.jsonl", [event("e4"), "{broken"])
    assert materialize_raw(settings).success

    assert read_paths == ["day2.jsonl", "day3.jsonl"]
    assert query(settings, "select file_name, rows_read from raw.ingested_files order by 1") == [
        ("day1.jsonl", 2),
        ("day2.jsonl", 1),
        ("day3.jsonl", 2),
    ]
    assert query(settings, "select count(*) from raw.feedback_events") == [(4,)]


def test_an_unexpected_error_in_one_drop_fails_that_drop_only(settings, monkeypatch):
    """Whatever goes wrong with one file (here an error nobody foresaw), it is named, left out
    of the ledger so the next run retries it, and the other drops land."""
    real_ingest_file = ingestion.ingest_file

    def ingest_file(con, path, **kwargs):
        if path.name == "b.jsonl":
            raise RuntimeError("something nobody foresaw")
        return real_ingest_file(con, path, **kwargs)

    monkeypatch.setattr(ingestion, "ingest_file", ingest_file)
    for name, event_id in (("a.jsonl", "e1"), ("b.jsonl", "e2"), ("c.jsonl", "e3")):
        write_jsonl(settings.events_landing_dir / name, [event(event_id)])
    result = materialize_raw(settings)

    assert result.success
    [check] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "every_drop_ingested"
    ]
    assert not check.passed
    assert "b.jsonl (RuntimeError: something nobody foresaw)" in check.description
    assert query(settings, "select file_name from raw.ingested_files order by 1") == [
        ("a.jsonl",),
        ("c.jsonl",),
    ]

    monkeypatch.setattr(ingestion, "ingest_file", real_ingest_file)
    assert materialize_raw(settings).success
    assert query(settings, "select count(*) from raw.feedback_events") == [(3,)]
