"""Review label drops, ingested for real: reason codes, duplicates across and within batches,
idempotency, atomicity and the ledger."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from feedback_platform.assets.review_labels import raw_review_labels
from feedback_platform.resources import build_resources
from feedback_platform.review.labels import ingest_review_file
from feedback_platform.schema import REVIEW_ITEMS_DDL
from feedback_platform.warehouse import open_warehouse
from tests.conftest import query, write_jsonl


def known_items(settings, *item_ids: str) -> None:
    """Items the review loop queued, so labels about them are accepted."""
    with open_warehouse(settings) as con:
        con.execute(REVIEW_ITEMS_DDL)
        for item_id in item_ids:
            con.execute(
                """
                insert into review.review_items by name
                select
                    ? as item_id,
                    'high_retry' as reason,
                    1 as priority,
                    'pro/en' as user_segment,
                    ['g1'] as generation_ids,
                    ['e1'] as source_event_ids,
                    timestamp '2026-10-05 08:00:00' as occurred_at,
                    timestamp '2026-10-05 08:30:00' as first_queued_at
                """,
                [item_id],
            )


def label(item_id: str = "item-1", reviewer_id: str = "rev-ann", value: str = "a", **fields):
    return {
        "item_id": item_id,
        "reviewer_id": reviewer_id,
        "label": value,
        "labeled_at": "2026-10-06T10:00:00Z",
        **fields,
    }


def materialize_labels(settings, files: list[str] | None = None, **kwargs):
    run_config = {"ops": {"raw_review_labels": {"config": {"files": files or []}}}}
    return dg.materialize(
        [raw_review_labels], resources=build_resources(settings), run_config=run_config, **kwargs
    )


def quarantine(settings) -> dict[int, str]:
    return dict(query(settings, "select line_number, reason from raw.quarantined_review_labels"))


def stored_labels(settings) -> list[tuple]:
    return query(
        settings,
        "select item_id, reviewer_id, label, corrected_text, "
        "strftime(labeled_at, '%Y-%m-%dT%H:%M:%S'), source_file, line_number "
        "from raw.review_labels order by source_file, line_number",
    )


def ledger(settings) -> list[tuple]:
    return query(
        settings,
        "select file_name, rows_read, rows_valid, rows_quarantined, rows_duplicate "
        "from raw.ingested_review_files order by file_name",
    )


def test_every_reason_code_from_real_bad_lines(settings):
    known_items(settings, "item-1", "item-2")
    drop = settings.reviews_landing_dir / "batch-1.jsonl"
    write_jsonl(
        drop,
        [
            label(labeled_at="2026-10-06T12:00:00+02:00"),  # 1 valid, stored in UTC
            '{"item_id": "item-1", "reviewer_id": "rev-bo",',  # 2 truncated
            '["item-1", "rev-bo", "a"]',  # 3 not an object
            {k: v for k, v in label("item-2", "rev-bo").items() if k != "item_id"},  # 4
            label("item-2", " "),  # 5 a reviewer id of only spaces
            label("item-2", "rev-bo", None),  # 6 label null
            {k: v for k, v in label("item-2", "rev-bo").items() if k != "labeled_at"},  # 7
            label("item-2", 42),  # 8 reviewer id as a number
            label("item-2", "rev-bo", "neither", corrected_text={"text": "x"}),  # 9
            label("item-2", "rev-bo", "good"),  # 10 not one of a / b / tie / neither
            label("item-2", "rev-bo", labeled_at="2026-10-06T10:00:00"),  # 11 no offset
            label("item-2", "rev-bo", labeled_at=1_791_000),  # 12 seconds sent as ms: 1970
            label("item-9", "rev-bo"),  # 13 never queued
            label("item-1", "rev-ann", "b"),  # 14 contradicts line 1 in the same batch
            label(  # 15 valid: a correction, labeled_at in epoch milliseconds
                "item-2",
                "rev-cy",
                "neither",
                corrected_text="Better.",
                labeled_at=1_791_190_800_000,
            ),
        ],
    )
    with drop.open("ab") as handle:  # 16: Latin-1, not UTF-8
        handle.write(
            json.dumps(label("item-2", "rev-d\u00e9")).encode().replace(b"\\u00e9", b"\xe9")
        )

    result = materialize_labels(settings)
    assert result.success

    assert quarantine(settings) == {
        2: "invalid_json",
        3: "not_an_object",
        4: "missing_field:item_id",
        5: "missing_field:reviewer_id",
        6: "missing_field:label",
        7: "missing_field:labeled_at",
        8: "bad_value:reviewer_id",
        9: "bad_value:corrected_text",
        10: "bad_value:label",
        11: "bad_timestamp",
        12: "bad_timestamp",
        13: "unknown_item",
        14: "duplicate_conflict",
        16: "invalid_encoding",
    }
    assert stored_labels(settings) == [
        ("item-1", "rev-ann", "a", None, "2026-10-06T10:00:00", "batch-1.jsonl", 1),
        ("item-2", "rev-cy", "neither", "Better.", "2026-10-05T09:00:00", "batch-1.jsonl", 15),
    ]
    assert ledger(settings) == [("batch-1.jsonl", 16, 2, 14, 0)]
    [(raw_text, item_id)] = query(
        settings,
        "select raw_text, item_id from raw.quarantined_review_labels where line_number = 13",
    )
    assert (json.loads(raw_text)["item_id"], item_id) == ("item-9", "item-9")

    by_key = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("raw_review_labels")
    }
    assert by_key["raw_review_labels"]["dagster/row_count"].value == 2
    assert by_key["raw_quarantined_review_labels"]["reasons"].value["bad_timestamp"] == 2
    assert by_key["raw_ingested_review_files"]["dagster/row_count"].value == 1
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["review_ledger_balances"].passed
    assert not checks["review_quarantine_share_is_low"].passed  # 14 of 16 quarantined: warn


def test_every_label_is_unknown_before_the_review_loop_has_run(settings):
    write_jsonl(settings.reviews_landing_dir / "early.jsonl", [label(), label("item-2")])
    assert materialize_labels(settings).success
    assert quarantine(settings) == {1: "unknown_item", 2: "unknown_item"}
    assert query(settings, "select count(*) from review.review_items") == [(0,)]


def test_repeats_within_a_batch_first_line_wins(settings):
    known_items(settings, "item-1")
    write_jsonl(
        settings.reviews_landing_dir / "batch.jsonl",
        [
            label(),
            label(),  # exact duplicate
            label(value="b"),  # another answer
            label(labeled_at="2026-10-06T10:05:00Z"),  # the same answer, labelled again
            label(corrected_text="Better."),  # the same answer with a correction
            label(reviewer_id="rev-bo", value="b"),  # another reviewer: a label of its own
        ],
    )
    assert materialize_labels(settings).success
    assert quarantine(settings) == dict.fromkeys([3, 4, 5], "duplicate_conflict")
    assert [(row[1], row[2], row[6]) for row in stored_labels(settings)] == [
        ("rev-ann", "a", 1),
        ("rev-bo", "b", 6),
    ]
    assert ledger(settings) == [("batch.jsonl", 6, 2, 3, 1)]


def test_later_batches_add_labels_and_never_rewrite_stored_ones(settings):
    known_items(settings, "item-1", "item-2")
    write_jsonl(
        settings.reviews_landing_dir / "batch-1.jsonl",
        [label(), label("item-2", corrected_text="Short."), label(reviewer_id="rev-bo")],
    )
    assert materialize_labels(settings).success

    write_jsonl(
        settings.reviews_landing_dir / "batch-2.jsonl",
        [
            label(labeled_at="2026-10-06T12:00:00+02:00"),  # the stored label, another offset
            label("item-2", corrected_text="Longer."),  # the stored label, other content
            label(reviewer_id="rev-bo", value="b", labeled_at="2026-10-13T10:00:00Z"),  # new
        ],
    )
    assert materialize_labels(settings).success

    assert query(
        settings,
        "select source_file, line_number, reason from raw.quarantined_review_labels",
    ) == [("batch-2.jsonl", 2, "duplicate_conflict")]
    assert [(row[0], row[1], row[2], row[3], row[5]) for row in stored_labels(settings)] == [
        ("item-1", "rev-ann", "a", None, "batch-1.jsonl"),
        ("item-2", "rev-ann", "a", "Short.", "batch-1.jsonl"),
        ("item-1", "rev-bo", "a", None, "batch-1.jsonl"),
        ("item-1", "rev-bo", "b", None, "batch-2.jsonl"),
    ]
    assert ledger(settings) == [("batch-1.jsonl", 3, 3, 0, 0), ("batch-2.jsonl", 3, 1, 1, 1)]


def test_a_file_dropped_again_under_another_name_changes_nothing(settings):
    known_items(settings, "item-1")
    original = write_jsonl(settings.reviews_landing_dir / "a.jsonl", [label(), "{broken"])
    assert materialize_labels(settings).success
    before = (stored_labels(settings), quarantine(settings), ledger(settings))

    (settings.reviews_landing_dir / "a-copy.jsonl").write_bytes(original.read_bytes())
    result = materialize_labels(settings)

    assert result.success
    assert (stored_labels(settings), quarantine(settings), ledger(settings)) == before
    [rows] = [
        m.metadata
        for m in result.asset_materializations_for_node("raw_review_labels")
        if m.asset_key == dg.AssetKey("raw_review_labels")
    ]
    assert (rows["files_ingested"].value, rows["files_already_ingested"].value) == (0, 2)


def test_only_finished_jsonl_files_are_review_drops(settings):
    known_items(settings, "item-1")
    landing = settings.reviews_landing_dir
    write_jsonl(landing / "done.jsonl", [label()])
    write_jsonl(landing / ".writing.jsonl", [label(reviewer_id="rev-bo")])
    write_jsonl(landing / "writing.jsonl.tmp", [label(reviewer_id="rev-cy")])
    write_jsonl(landing / "labels.csv", [label(reviewer_id="rev-dee")])

    assert materialize_labels(settings).success
    assert [name for name, *_ in ledger(settings)] == ["done.jsonl"]

    # named explicitly, it fails alone: a warning check names it, nothing of it is kept
    result = materialize_labels(settings, files=["labels.csv", "done.jsonl"], raise_on_error=False)
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["every_review_drop_ingested"].passed
    assert "labels.csv" in checks["every_review_drop_ingested"].description
    assert [name for name, *_ in ledger(settings)] == ["done.jsonl"]


def test_a_failure_before_commit_leaves_nothing_behind(settings):
    known_items(settings, "item-1")
    drop = write_jsonl(settings.reviews_landing_dir / "a.jsonl", [label(), "{broken"])

    def crash():
        raise RuntimeError("disk full")

    with open_warehouse(settings) as con, pytest.raises(RuntimeError, match="disk full"):
        ingest_review_file(con, drop, before_commit=crash)
    assert (stored_labels(settings), quarantine(settings), ledger(settings)) == ([], {}, [])

    assert materialize_labels(settings).success
    assert ledger(settings) == [("a.jsonl", 2, 1, 1, 0)]


@pytest.mark.parametrize(
    "labeled_at", [9999999999999999, 9223372036854775807, 18446744073709551615]
)
def test_an_integer_labeled_at_out_of_range_is_a_bad_timestamp_not_a_failed_drop(
    settings, labeled_at
):
    known_items(settings, "item-1", "item-2")
    drop = write_jsonl(
        settings.reviews_landing_dir / "huge.jsonl",
        [label(labeled_at=labeled_at), label("item-2")],
    )
    with open_warehouse(settings) as con:
        result = ingest_review_file(con, drop)
    assert (result.rows_read, result.rows_valid, result.reasons) == (2, 1, {"bad_timestamp": 1})
    assert quarantine(settings) == {1: "bad_timestamp"}


def test_corrected_text_and_quarantined_lines_are_scrubbed_and_counted(settings):
    known_items(settings, "item-1")
    correction = "Write to ann@example.org or call +44 20 7946 0958; card 4111 1111 1111 1111."
    write_jsonl(
        settings.reviews_landing_dir / "batch-pii.jsonl",
        [
            label(value="neither", corrected_text=correction),
            label(value="neither", corrected_text=correction),  # exact duplicate, not counted
            label("item-9", corrected_text="from 192.168.1.10"),  # never queued: quarantined
        ],
    )

    result = materialize_labels(settings)

    assert result.success
    assert [row[3] for row in stored_labels(settings)] == [
        "Write to <EMAIL> or call <PHONE>; card <CARD>."
    ]
    [(raw_text,)] = query(settings, "select raw_text from raw.quarantined_review_labels")
    assert json.loads(raw_text)["corrected_text"] == "from <IP>"
    assert query(
        settings,
        "select file_name, field, kind, replacements from raw.ingested_review_files_scrubbed"
        " order by 2, 3",
    ) == [
        ("batch-pii.jsonl", "corrected_text", "card", 1),
        ("batch-pii.jsonl", "corrected_text", "email", 1),
        ("batch-pii.jsonl", "corrected_text", "phone", 1),
        ("batch-pii.jsonl", "raw_text", "ip", 1),
    ]
    [labels] = [
        m
        for m in result.asset_materializations_for_node("raw_review_labels")
        if m.asset_key == dg.AssetKey("raw_review_labels")
    ]
    assert labels.metadata["scrubbed"].value == {
        "corrected_text": {"card": 1, "email": 1, "phone": 1},
        "raw_text": {"ip": 1},
    }
