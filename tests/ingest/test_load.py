"""Ingestion of single drops: reason codes, duplicates, idempotency, atomicity, formats."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feedback_platform.ingest.pseudonymize import user_key
from tests.conftest import TEST_SALT, event, ingest_drop, quarantine_reasons, query, write_jsonl


def test_every_reason_code_from_real_bad_lines(settings):
    drop = settings.events_landing_dir / "bad.jsonl"
    lines = [
        event("ok-1", "generation"),  # 1 valid
        '{"event_id": "x1", "event_type": "copy",',  # 2 invalid JSON
        "[1, 2, 3]",  # 3 valid JSON, not an object
        {k: v for k, v in event("x3").items() if k != "event_id"},  # 4
        event("x4", "dance"),  # 5 unknown type
        event("x5", occurred_at="yesterday"),  # 6 unparseable timestamp
        event("x6", occurred_at="2026-10-05T09:00:00"),  # 7 no offset: ambiguous
        event("x7", "rating", rating=7),  # 8 out of range
        event("x8", "rating", rating="five"),  # 9 wrong type
        event("x9", "view", dwell_ms=-5),  # 10 negative dwell
        event("x10", user_id=12345),  # 11 id of the wrong type
        event("x11", "generation", output=None),  # 12 required field null
        {**event("x12"), "properties": [1, 2]},  # 13 properties not an object
        event("x13", schema_version="2"),  # 14 a schema this platform does not know
        event("x14", occurred_at=1_000),  # 15 epoch seconds mistaken for ms: 1970
        event("x15", "prefer", other_generation_id=""),  # 16 empty id
    ]
    write_jsonl(drop, lines)
    # 17: a truncated last line with no newline, as a crashed writer leaves it
    with drop.open("a") as handle:
        handle.write('{"event_id": "x16", "event_type": "thumbs_up", "occurred_at": "2026-10')

    result = ingest_drop(settings, drop)

    assert quarantine_reasons(settings) == {
        2: "invalid_json",
        3: "not_an_object",
        4: "missing_field:event_id",
        5: "unknown_event_type",
        6: "bad_timestamp",
        7: "bad_timestamp",
        8: "bad_value:rating",
        9: "bad_value:rating",
        10: "bad_value:dwell_ms",
        11: "bad_value:user_id",
        12: "missing_field:output",
        13: "bad_value:properties",
        14: "unsupported_schema_version",
        15: "bad_timestamp",
        16: "missing_field:other_generation_id",
        17: "invalid_json",
    }
    assert (result.rows_read, result.rows_valid, result.rows_quarantined) == (17, 1, 16)
    assert query(settings, "select event_id from raw.feedback_events") == [("ok-1",)]


def test_quarantine_keeps_the_raw_text_file_and_line(settings):
    drop = write_jsonl(settings.events_landing_dir / "one.jsonl", [event("x", "dance")])
    ingest_drop(settings, drop)
    [(source_file, line, raw_text, ingested_at)] = query(
        settings,
        "select source_file, line_number, raw_text, ingested_at from raw.quarantined_events",
    )
    assert (source_file, line) == ("one.jsonl", 1)
    assert json.loads(raw_text)["event_type"] == "dance"
    assert ingested_at is not None


def test_valid_events_are_typed_and_in_utc(settings):
    drop = write_jsonl(
        settings.events_landing_dir / "typed.jsonl",
        [
            event("a", "rating", rating="4", occurred_at="2026-10-05T11:30:00+02:00"),
            event("b", "view", dwell_ms=1200, occurred_at=1_791_190_800_000),
            event("c", properties={"screen": "chat"}),
        ],
    )
    ingest_drop(settings, drop)
    rows = query(
        settings,
        "select event_id, strftime(occurred_at, '%Y-%m-%dT%H:%M:%S'), rating, dwell_ms, "
        "properties->>'$.screen', schema_version from raw.feedback_events order by event_id",
    )
    assert rows == [
        ("a", "2026-10-05T09:30:00", 4, None, None, "1"),
        ("b", "2026-10-05T09:00:00", None, 1200, None, "1"),
        ("c", "2026-10-05T09:00:00", None, None, "chat", "1"),
    ]


def test_crlf_bom_and_blank_lines_are_read_cleanly(settings):
    drop = settings.events_landing_dir / "windows.jsonl"
    body = "\r\n".join(json.dumps(event(f"e{i}")) for i in range(3)) + "\r\n\r\n"
    drop.write_bytes(b"\xef\xbb\xbf" + body.encode())
    result = ingest_drop(settings, drop)
    assert (result.rows_read, result.rows_valid, result.rows_quarantined) == (3, 3, 0)


def test_invalid_utf8_is_quarantined_not_fatal(settings):
    drop = settings.events_landing_dir / "latin1.jsonl"
    good = json.dumps(event("ok")).encode()
    bad = json.dumps(event("bad", comment="caf\u00e9")).encode().replace(b"\\u00e9", b"\xe9")
    drop.write_bytes(good + b"\n" + bad + b"\n")
    result = ingest_drop(settings, drop)
    assert (result.rows_valid, result.reasons) == (1, {"invalid_encoding": 1})


def test_empty_file_is_ledgered_with_zero_rows(settings):
    drop = settings.events_landing_dir / "empty.jsonl"
    drop.write_bytes(b"")
    result = ingest_drop(settings, drop)
    assert result.rows_read == 0
    assert query(settings, "select file_name, rows_read from raw.ingested_files") == [
        ("empty.jsonl", 0)
    ]


def test_gzip_drop(settings):
    drop = settings.events_landing_dir / "day.jsonl.gz"
    with gzip.open(drop, "wt") as handle:
        for i in range(5):
            handle.write(json.dumps(event(f"gz{i}")) + "\n")
    assert ingest_drop(settings, drop).rows_valid == 5


def test_exact_duplicates_are_skipped_and_conflicts_quarantined(settings):
    first = write_jsonl(
        settings.events_landing_dir / "first.jsonl",
        [event("e1"), event("e1"), event("e2"), event("e2", generation_id="other")],
    )
    result = ingest_drop(settings, first)
    assert (result.rows_valid, result.rows_duplicate, result.reasons) == (
        2,
        1,
        {"duplicate_conflict": 1},
    )

    second = write_jsonl(
        settings.events_landing_dir / "second.jsonl",
        [event("e1"), event("e2", output="changed"), event("e3")],
    )
    result = ingest_drop(settings, second)
    assert (result.rows_read, result.rows_valid, result.rows_duplicate) == (3, 1, 1)
    assert result.reasons == {"duplicate_conflict": 1}
    assert query(settings, "select count(*) from raw.feedback_events") == [(3,)]


def test_redrop_under_another_name_changes_nothing(settings):
    original = write_jsonl(settings.events_landing_dir / "a.jsonl", [event("e1"), "{broken"])
    ingest_drop(settings, original)
    snapshot = _all_rows(settings)

    copy = settings.events_landing_dir / "a-copy.jsonl"
    copy.write_bytes(original.read_bytes())
    again = ingest_drop(settings, copy)
    same_name = ingest_drop(settings, original)

    assert again.already_ingested and same_name.already_ingested
    assert _all_rows(settings) == snapshot


def test_failure_mid_file_leaves_nothing_behind(settings):
    drop = write_jsonl(settings.events_landing_dir / "a.jsonl", [event("e1"), "{broken"])

    def crash():
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        ingest_drop(settings, drop, before_commit=crash)
    assert _all_rows(settings) == ([], [], [])

    result = ingest_drop(settings, drop)
    assert (result.rows_valid, result.rows_quarantined) == (1, 1)


def test_late_events_are_accepted(settings):
    ingest_drop(settings, write_jsonl(settings.events_landing_dir / "d2.jsonl", [event("new")]))
    late = event("old", occurred_at="2026-09-01T00:00:00Z")
    result = ingest_drop(settings, write_jsonl(settings.events_landing_dir / "late.jsonl", [late]))
    assert result.rows_valid == 1


def test_ids_of_only_spaces_are_missing_and_other_whitespace_is_kept(settings):
    ids = [" ", "\u3000", "\u00a0 ", "\tg", " g", "g", "~", "\u00e9"]
    events = [event(f"w{i}", generation_id=value) for i, value in enumerate(ids)]
    ingest_drop(settings, write_jsonl(settings.events_landing_dir / "ws.jsonl", events))
    assert quarantine_reasons(settings) == {1: "missing_field:generation_id"} | {
        2: "missing_field:generation_id",
        3: "missing_field:generation_id",
    }


def test_trailing_whitespace_and_lines_of_spaces_are_not_part_of_rows(settings):
    drop = settings.events_landing_dir / "spaces.jsonl"
    line = json.dumps(event("s1"))
    drop.write_bytes(f"{line} \t\r\n   \n\n{line[:-1]}{' ' * 40}\r\n".encode())
    result = ingest_drop(settings, drop)
    assert (result.rows_read, result.rows_valid, result.reasons) == (2, 1, {"invalid_json": 1})
    [(line_number, raw_text)] = query(
        settings, "select line_number, raw_text from raw.quarantined_events"
    )
    assert line_number == 4
    assert raw_text.startswith('{"event_id": "s1"') and raw_text.endswith('"generation_id": "g1"')


def test_raw_user_ids_are_never_stored(settings):
    raw_id = "alice@example.com"
    drop = write_jsonl(
        settings.events_landing_dir / "pii.jsonl",
        [
            event("e1", user_id=raw_id),
            event("e2", "dance", user_id=raw_id),
            '{"event_id": "e3", "user_id": "alice@example.com", "event_type": "co',
        ],
    )
    ingest_drop(settings, drop)
    assert query(settings, "select user_id from raw.feedback_events") == [
        (user_key(raw_id, TEST_SALT),)
    ]
    for table in ("raw.feedback_events", "raw.quarantined_events", "raw.ingested_files"):
        [(hits,)] = query(
            settings,
            f"select count(*) from {table} t where to_json(t)::varchar like ?",
            [f"%{raw_id}%"],
        )
        assert hits == 0, table
    assert raw_id.encode() not in settings.warehouse_path.read_bytes()


def test_csv_drop_with_epoch_ms_and_a_broken_record(settings):
    drop = settings.events_landing_dir / "day.csv"
    drop.write_text(
        "event_id,event_type,occurred_at,user_id,generation_id,rating,properties\n"
        'c1,rating,1791190800000,u1,g1,5,"{""screen"": ""chat""}"\n'
        "c2,thumbs_up,2026-10-05T09:00:00Z,u2,g1,,\n"
        "c3,thumbs_up,2026-10-05T09:00:00Z,u3\n"
        'c4,comment,2026-10-05T09:00:00Z,u4,g1,,"unterminated\n',
        encoding="utf-8",
    )
    result = ingest_drop(settings, drop)
    assert (result.rows_read, result.rows_valid) == (4, 2)
    assert quarantine_reasons(settings) == {4: "invalid_csv", 5: "invalid_csv"}
    assert query(
        settings,
        "select rating, properties->>'$.screen' from raw.feedback_events where event_id = 'c1'",
    ) == [(5, "chat")]
    assert b"u3" not in b"".join(
        raw.encode() for (raw,) in query(settings, "select raw_text from raw.quarantined_events")
    )


def test_parquet_drop_with_zoned_and_naive_timestamps(settings):
    drop = settings.events_landing_dir / "day.parquet"
    table = pa.table(
        {
            "event_id": ["p1", "p2"],
            "event_type": ["generation", "generation"],
            "occurred_at": ["2026-10-05T09:00:00+00:00", "2026-10-05T09:00:00"],
            "user_id": ["u1", "u2"],
            "generation_id": ["g1", "g2"],
            "model_version": ["m1", "m1"],
            "prompt": ["p", "p"],
            "output": ["o", "o"],
        }
    )
    pq.write_table(table, drop)
    result = ingest_drop(settings, drop)
    assert (result.rows_read, result.rows_valid, result.reasons) == (2, 1, {"bad_timestamp": 1})


def test_ledger_balances_for_every_file(settings):
    for name, lines in {
        "a.jsonl": [event("e1"), event("e1"), "{"],
        "b.jsonl": [event("e2"), event("e1", output="x")],
    }.items():
        ingest_drop(settings, write_jsonl(settings.events_landing_dir / name, lines))
    rows = query(
        settings,
        "select file_name, rows_read, rows_valid, rows_quarantined, rows_duplicate "
        "from raw.ingested_files order by file_name",
    )
    assert rows == [("a.jsonl", 3, 1, 1, 1), ("b.jsonl", 2, 1, 1, 0)]


def _all_rows(settings):
    return tuple(
        query(settings, f"select * exclude (ingested_at) from {table} order by all")
        for table in ("raw.feedback_events", "raw.quarantined_events", "raw.ingested_files")
    )


def test_escaped_user_ids_are_pseudonymized_in_conflicting_duplicates(settings):
    raw_id = 'o"brien\\u00e9'  # written with JSON escapes in the drop
    first = write_jsonl(settings.events_landing_dir / "a.jsonl", [event("e1", user_id=raw_id)])
    ingest_drop(settings, first)
    second = write_jsonl(
        settings.events_landing_dir / "b.jsonl", [event("e1", user_id=raw_id, output="changed")]
    )
    assert ingest_drop(settings, second).reasons == {"duplicate_conflict": 1}
    [(raw_text,)] = query(settings, "select raw_text from raw.quarantined_events")
    assert json.loads(raw_text)["user_id"] == user_key(raw_id, TEST_SALT)


def test_an_ingested_drop_left_in_place_is_not_read_again(settings, monkeypatch):
    drop = write_jsonl(settings.events_landing_dir / "day1.jsonl", [event("e1"), event("e2")])
    assert ingest_drop(settings, drop).rows_valid == 2

    def no_reading(path):
        raise AssertionError(f"{path.name} was read again")

    monkeypatch.setattr("feedback_platform.ingest.load.file_sha256", no_reading)
    assert ingest_drop(settings, drop).already_ingested


def test_a_drop_rewritten_in_place_is_hashed_and_ingested_again(settings):
    drop = write_jsonl(settings.events_landing_dir / "day1.jsonl", [event("e1")])
    ingest_drop(settings, drop)

    write_jsonl(drop, [event("e1"), event("e2"), event("e3")])  # new size and mtime

    result = ingest_drop(settings, drop)
    assert not result.already_ingested
    assert (result.rows_valid, result.rows_duplicate) == (2, 1)
    assert query(settings, "select count(*) from raw.feedback_events") == [(3,)]
