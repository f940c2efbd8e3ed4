"""Privacy request drops, ingested for real: hashed on arrival, reasons for bad lines,
duplicates and conflicts, idempotency, and no raw user id anywhere in the warehouse."""

from __future__ import annotations

import hashlib

import dagster as dg
import pytest

from feedback_platform.assets.privacy import raw_privacy_requests
from feedback_platform.definitions import build_definitions
from feedback_platform.ingest.pseudonymize import user_key
from feedback_platform.resources import build_resources
from tests.conftest import TEST_SALT, query, write_jsonl


def request(request_id: str, user_id: str = "alice@example.com", kind: str = "erase", **fields):
    return {
        "request_id": request_id,
        "user_id": user_id,
        "kind": kind,
        "requested_at": "2026-10-20T09:00:00Z",
        **fields,
    }


def materialize(settings, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize([raw_privacy_requests], resources=build_resources(settings), **kwargs)


def subject_hash(user_id: str) -> str:
    return hashlib.sha256(user_key(user_id, TEST_SALT).encode()).hexdigest()


def test_requests_are_stored_hashed_and_bad_lines_quarantined_with_reasons(settings):
    write_jsonl(
        settings.privacy_landing_dir / "requests-1.jsonl",
        [
            request("r1"),
            request("r2", user_id="bob-42", kind="opt_out_training"),
            request("r3", kind="forget_me"),
            {"request_id": "r4", "kind": "erase", "requested_at": "2026-10-20T09:00:00Z"},
            '{"request_id": "r5", "user_id": "carol-7", "kind": "erase"',
            request("r1"),
            request("r2", user_id="bob-42", kind="opt_in_training"),
            request("r6", requested_at="yesterday"),
        ],
    )

    result = materialize(settings)

    assert result.success
    stored = query(
        settings,
        "select request_id, kind, subject_hash, user_key, requested_at::varchar"
        " from raw.privacy_requests order by 1",
    )
    assert stored == [
        (
            "r1",
            "erase",
            subject_hash("alice@example.com"),
            user_key("alice@example.com", TEST_SALT),
            "2026-10-20 09:00:00",
        ),
        (
            "r2",
            "opt_out_training",
            subject_hash("bob-42"),
            user_key("bob-42", TEST_SALT),
            "2026-10-20 09:00:00",
        ),
    ]
    reasons = dict(
        query(settings, "select line_number, reason from raw.quarantined_privacy_requests")
    )
    assert reasons == {
        3: "bad_value:kind",
        4: "missing_field:user_id",
        5: "invalid_json",
        7: "duplicate_conflict",
        8: "bad_timestamp",
    }
    assert query(
        settings,
        "select rows_read, rows_valid, rows_quarantined, rows_duplicate"
        " from raw.ingested_privacy_files",
    ) == [(8, 2, 5, 1)]


def test_no_raw_user_id_or_personal_data_is_kept_in_quarantined_text(settings):
    write_jsonl(
        settings.privacy_landing_dir / "requests-1.jsonl",
        [
            request("r1", user_id="dave-secret-id", kind="bogus"),
            '{"user_id": "erin-9", oops',
            request("r2", kind="bogus", note="write to frank@example.org"),
        ],
    )

    assert materialize(settings).success

    texts = query(settings, "select raw_text from raw.quarantined_privacy_requests")
    assert len(texts) == 3
    dumped = " ".join(text for (text,) in texts)
    assert "dave-secret-id" not in dumped and "erin-9" not in dumped
    assert user_key("dave-secret-id", TEST_SALT) in dumped
    assert "frank@example.org" not in dumped and "write to <EMAIL>" in dumped


def test_a_drop_is_recorded_once_under_any_name_and_an_id_once_across_drops(settings):
    landing = settings.privacy_landing_dir
    write_jsonl(landing / "a.jsonl", [request("r1")])
    assert materialize(settings).success
    write_jsonl(landing / "b.jsonl", [request("r1")])  # the same bytes under another name
    write_jsonl(landing / "c.jsonl", [request("r1", kind="opt_out_training"), request("r2")])

    assert materialize(settings).success

    assert query(settings, "select request_id from raw.privacy_requests order by 1") == [
        ("r1",),
        ("r2",),
    ]
    assert query(
        settings,
        "select source_file, line_number, reason from raw.quarantined_privacy_requests",
    ) == [("c.jsonl", 1, "duplicate_conflict")]
    assert [
        name
        for (name,) in query(
            settings, "select file_name from raw.ingested_privacy_files order by 1"
        )
    ] == ["a.jsonl", "c.jsonl"]


@pytest.mark.parametrize("name", ["requests.csv", "requests.json"])
def test_files_other_than_json_lines_are_not_privacy_drops(settings, name):
    (settings.privacy_landing_dir / name).write_text("request_id,user_id\nr1,alice\n")

    result = materialize(settings)

    assert result.success
    assert query(settings, "select count(*) from raw.ingested_privacy_files") == [(0,)]


def test_privacy_status_says_what_was_recorded_and_that_it_waits(settings, capsys):
    from feedback_platform.cli import main

    write_jsonl(
        settings.privacy_landing_dir / "requests-1.jsonl",
        [request("r1", kind="opt_out_training"), request("r2", kind="forget")],
    )
    assert materialize(settings).success

    assert main(["privacy", "status", "r1"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "request r1: opt_out_training",
        "  requested at 2026-10-20 09:00:00 UTC, recorded at"
        + recorded_time(settings, "r1")
        + " UTC from requests-1.jsonl",
        "  not carried out yet",
    ]
    assert main(["privacy", "status", "r2"]) == 0
    assert "not accepted (requests-1.jsonl line 2: bad_value:kind)" in capsys.readouterr().out
    assert main(["privacy", "status", "r9"]) == 1
    assert "No privacy request r9" in capsys.readouterr().err


def recorded_time(settings, request_id: str) -> str:
    [(ingested_at,)] = query(
        settings, "select ingested_at from raw.privacy_requests where request_id = ?", [request_id]
    )
    return f" {ingested_at:%Y-%m-%d %H:%M:%S}"


def test_the_privacy_job_records_requests_and_rebuilds_who_is_out_of_training(settings):
    """The job the privacy sensor starts: requests land, then dbt's int_training_opt_outs
    says who is out, and nothing else is rebuilt."""
    write_jsonl(
        settings.privacy_landing_dir / "requests-1.jsonl",
        [
            request("r1", user_id="u-out", kind="opt_out_training"),
            request("r2", user_id="u-back", kind="opt_out_training"),
            request(
                "r3", user_id="u-back", kind="opt_in_training", requested_at="2026-10-21T09:00:00Z"
            ),
        ],
    )
    with dg.DagsterInstance.ephemeral() as instance:
        result = (
            build_definitions(settings)
            .resolve_job_def("ingest_privacy_requests")
            .execute_in_process(instance=instance)
        )

    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "intermediate/int_training_opt_outs" in materialized
    assert not any(key.startswith("marts/") for key in materialized)
    assert query(settings, "select user_key, reason from intermediate.int_training_opt_outs") == [
        (user_key("u-out", TEST_SALT), "opt_out_training")
    ]
