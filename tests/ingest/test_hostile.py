"""Faults and hostile input: one bad row never blocks a drop, no raw user id is ever stored,
no drop can exhaust memory, and only regular files in the landing folder are drops."""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
import tracemalloc

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feedback_platform.ingest import readers
from feedback_platform.ingest.landing import drop_files
from feedback_platform.ingest.pseudonymize import user_key
from feedback_platform.ingest.readers import DropTooLargeError, NotARegularFileError, read_rows
from tests.conftest import TEST_SALT, event, ingest_drop, quarantine_reasons, query, write_jsonl


def stored_values(settings) -> list[str]:
    """Every value of every column of the event and quarantine tables, as text."""
    values = []
    for table in ("raw.feedback_events", "raw.quarantined_events"):
        for row in query(settings, f"select * from {table}"):
            values.extend(str(value) for value in row if value is not None)
    return values


def assert_never_stored(settings, *raw_ids: str) -> None:
    values = stored_values(settings)
    for raw_id in raw_ids:
        leaks = [value for value in values if raw_id in value]
        assert not leaks, f"{raw_id} stored: {leaks}"


# --- no poison pills ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "occurred_at",
    [
        9999999999999999,
        9223372036854775807,
        18446744073709551615,
        -9223372036854775808,
        "9999999999999999",
        99999999999999999999,
        1e300,
    ],
)
def test_an_integer_timestamp_out_of_range_is_a_bad_timestamp_not_a_failed_drop(
    settings, occurred_at
):
    drop = write_jsonl(
        settings.events_landing_dir / "huge.jsonl",
        [event("ok-1"), event("bad", occurred_at=occurred_at), event("ok-2")],
    )
    result = ingest_drop(settings, drop)
    assert (result.rows_read, result.rows_valid, result.reasons) == (3, 2, {"bad_timestamp": 1})
    assert quarantine_reasons(settings) == {2: "bad_timestamp"}


def test_a_bad_timestamp_in_a_csv_or_parquet_drop_is_quarantined(settings):
    csv_drop = settings.events_landing_dir / "day.csv"
    csv_drop.write_text(
        "event_id,event_type,occurred_at,user_id,generation_id\n"
        "c1,thumbs_up,18446744073709551615,u1,g1\n"
        "c2,thumbs_up,2026-10-05T09:00:00Z,u2,g1\n",
        encoding="utf-8",
    )
    assert ingest_drop(settings, csv_drop).reasons == {"bad_timestamp": 1}
    parquet_drop = settings.events_landing_dir / "day.parquet"
    pq.write_table(
        pa.table(
            {
                "event_id": ["p1", "p2"],
                "event_type": ["thumbs_up", "thumbs_up"],
                "occurred_at": pa.array([2**64 - 1, 1_791_190_800_000], pa.uint64()),
                "user_id": ["u1", "u2"],
                "generation_id": ["g1", "g1"],
            }
        ),
        parquet_drop,
    )
    result = ingest_drop(settings, parquet_drop)
    assert (result.rows_valid, result.reasons) == (1, {"bad_timestamp": 1})


@pytest.mark.parametrize(
    ("offset", "valid"),
    [
        ("+99:99", False),
        ("+18:01", False),
        ("-19:00", False),
        ("+24:00", False),
        ("+05:60", False),
        ("+18:00", True),
        ("-18:00", True),
        ("+05:30", True),
        ("+0530", True),
        ("-03", True),
        ("Z", True),
    ],
)
def test_offsets_beyond_18_hours_are_bad_timestamps(settings, offset, valid):
    drop = write_jsonl(
        settings.events_landing_dir / "tz.jsonl",
        [event("e1", occurred_at=f"2026-10-05T09:00:00{offset}")],
    )
    result = ingest_drop(settings, drop)
    assert result.reasons == ({} if valid else {"bad_timestamp": 1})


# --- raw user ids are never stored ----------------------------------------------------------


def test_every_occurrence_of_a_duplicate_user_id_key_is_replaced(settings):
    line = (
        '{"event_id": "d1", "event_type": "dance", "occurred_at": "2026-10-05T09:00:00Z", '
        '"user_id": "rawid-first", "generation_id": "g1", "user_id": "rawid-second"}'
    )
    ingest_drop(settings, write_jsonl(settings.events_landing_dir / "dup.jsonl", [line]))
    [(raw_text,)] = query(settings, "select raw_text from raw.quarantined_events")
    assert user_key("rawid-first", TEST_SALT) in raw_text
    assert user_key("rawid-second", TEST_SALT) in raw_text
    assert_never_stored(settings, "rawid-first", "rawid-second")


@pytest.mark.parametrize(
    "user_id",
    [
        {"email": "rawid-object"},
        ["rawid-array", 1],
        {"a": {"b": ["rawid-nested"]}},
        {"a": {"b": {"c": {"d": {"e": "rawid-deep"}}}}},
        True,
        12345678,
    ],
)
def test_a_user_id_of_any_json_type_is_replaced(settings, user_id):
    drop = write_jsonl(settings.events_landing_dir / "typed.jsonl", [event("t1", user_id=user_id)])
    assert ingest_drop(settings, drop).reasons == {"bad_value:user_id": 1}
    assert_never_stored(settings, "rawid", "12345678")


def test_a_user_id_key_written_with_escapes_is_replaced(settings):
    lines = [
        # valid JSON: the key is user_id, the event is valid
        json.dumps(event("k1", user_id="rawid-valid")).replace('"user_id"', '"user\\u005fid"'),
        # quarantined (unknown type): its raw text is kept, the id replaced
        json.dumps(event("k2", "dance", user_id="rawid-escaped")).replace(
            '"user_id"', '"\\u0075ser\\u005Fid"'
        ),
    ]
    result = ingest_drop(settings, write_jsonl(settings.events_landing_dir / "esc.jsonl", lines))
    assert (result.rows_valid, result.reasons) == (1, {"unknown_event_type": 1})
    assert query(settings, "select user_id from raw.feedback_events") == [
        (user_key("rawid-valid", TEST_SALT),)
    ]
    [(raw_text,)] = query(settings, "select raw_text from raw.quarantined_events")
    assert user_key("rawid-escaped", TEST_SALT) in raw_text
    assert_never_stored(settings, "rawid")


def test_a_line_whose_user_id_cannot_be_located_is_cut_before_it(settings):
    lines = [
        "user_id=rawid-form&event=copy",
        "event_id: k3, USER-ID: rawid-yaml",
        '{"event_id": "k4", "properties": "{\\"user_id\\": \\"rawid-in-string\\"}", "x": "',
        '{"event_id": "k5", "user_id": {"a": "rawid-unterminated',
        "{'event_id': 'k6', 'user_id': 'rawid-single-quoted'}",
    ]
    result = ingest_drop(settings, write_jsonl(settings.events_landing_dir / "junk.jsonl", lines))
    assert result.rows_quarantined == 5
    texts = dict(query(settings, "select line_number, raw_text from raw.quarantined_events"))
    assert texts[1] == "[redacted]"
    assert texts[4].startswith('{"event_id": "k5", ') and texts[4].endswith("[redacted]")
    assert_never_stored(settings, "rawid")


def test_csv_records_after_an_unterminated_quote_are_redacted(settings):
    drop = settings.events_landing_dir / "broken.csv"
    drop.write_text(
        "event_id,event_type,occurred_at,user_id,generation_id,comment\n"
        "c1,thumbs_up,2026-10-05T09:00:00Z,rawid-before,g1,\n"
        'c2,comment,2026-10-05T09:00:00Z,rawid-broken,g1,"unterminated\n'
        "c3,thumbs_up,2026-10-05T09:00:00Z,rawid-after-1,g1,\n"
        "c4,thumbs_up,2026-10-05T09:00:00Z,rawid-after-2,g1,\n"
        "c5,comment,rawid-shifted,2026-10-05T09:00:00Z,g1\n",
        encoding="utf-8",
    )
    result = ingest_drop(settings, drop)
    assert (result.rows_read, result.rows_valid, result.reasons) == (2, 1, {"invalid_csv": 1})
    assert_never_stored(settings, "rawid")


def test_csv_records_with_the_wrong_cell_count_are_redacted(settings):
    drop = settings.events_landing_dir / "shifted.csv"
    drop.write_text(
        "event_id,event_type,occurred_at,user_id,generation_id\n"
        "c1,rawid-shifted,thumbs_up,2026-10-05T09:00:00Z,u1,g1\n"
        'c2,thumbs_up,2026-10-05T09:00:00Z,u2,g1,"{""user_id"": ""rawid-in-json""}"\n',
        encoding="utf-8",
    )
    assert ingest_drop(settings, drop).reasons == {"invalid_csv": 2}
    assert_never_stored(settings, "rawid")


def test_a_parquet_struct_user_id_is_replaced(settings):
    drop = settings.events_landing_dir / "struct.parquet"
    pq.write_table(
        pa.table(
            {
                "event_id": ["p1"],
                "event_type": ["thumbs_up"],
                "occurred_at": ["2026-10-05T09:00:00Z"],
                "user_id": [{"id": "rawid-struct", "tenant": "rawid-tenant"}],
                "generation_id": ["g1"],
            }
        ),
        drop,
    )
    assert ingest_drop(settings, drop).reasons == {"bad_value:user_id": 1}
    assert_never_stored(settings, "rawid")


def test_a_user_id_inside_properties_is_hashed(settings):
    properties = {"user_id": "rawid-top", "nested": {"userId": "rawid-nested"}, "n": 1}
    drop = write_jsonl(
        settings.events_landing_dir / "props.jsonl",
        [
            event("p1", properties=properties),
            event("p2", properties=json.dumps(properties)),  # a string holding the object
            # an id nested too deep to be replaced whole: the properties are unusable
            event("p3", properties={"user_id": {"a": {"b": {"c": {"d": {"e": "rawid-deep"}}}}}}),
            event("p4", properties={"note": '{"user_id": "rawid-in-string"}', "k": "v"}),
        ],
    )
    result = ingest_drop(settings, drop)
    assert (result.rows_valid, result.reasons) == (3, {"bad_value:properties": 1})
    stored = dict(query(settings, "select event_id, properties from raw.feedback_events"))
    assert json.loads(stored["p1"]) == {
        "user_id": user_key("rawid-top", TEST_SALT),
        "nested": {"userId": user_key("rawid-nested", TEST_SALT)},
        "n": 1,
    }
    assert stored["p2"] == stored["p1"]
    assert json.loads(stored["p4"])["k"] == "v"
    assert_never_stored(settings, "rawid")


def test_a_duplicate_with_user_id_in_properties_is_still_an_exact_duplicate(settings):
    line = event("e1", properties={"user_id": "rawid"})
    ingest_drop(settings, write_jsonl(settings.events_landing_dir / "a.jsonl", [line]))
    result = ingest_drop(
        settings, write_jsonl(settings.events_landing_dir / "b.jsonl", [line, line])
    )
    assert (result.rows_valid, result.rows_duplicate, result.reasons) == (0, 2, {})


# --- limits -----------------------------------------------------------------------------------


def test_a_gzip_bomb_over_the_limit_fails_alone_with_a_clear_message(settings):
    bomb = settings.events_landing_dir / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as handle:
        for _ in range(8):
            handle.write(b"\n" * (1024 * 1024))
    with pytest.raises(DropTooLargeError, match=r"bomb\.jsonl\.gz.*4,194,304 bytes"):
        ingest_drop(settings, bomb, max_drop_bytes=4 * 1024 * 1024)
    assert query(settings, "select count(*) from raw.ingested_files") == [(0,)]
    # the next drop is not blocked
    good = write_jsonl(settings.events_landing_dir / "good.jsonl", [event("ok")])
    assert ingest_drop(settings, good, max_drop_bytes=4 * 1024 * 1024).rows_valid == 1


def test_blank_lines_cost_no_memory(settings):
    """A drop of newlines kept 8 bytes per newline (2.3 GB of them needed ~21 GB)."""
    drop = settings.events_landing_dir / "blank.jsonl.gz"
    size = 32 * 1024 * 1024
    with gzip.open(drop, "wb", compresslevel=1) as handle:
        handle.write(b"\n" * size + json.dumps(event("last")).encode() + b"\n")
    tracemalloc.start()
    try:
        rows = read_rows(drop, pseudonymize=str)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows.num_rows == 1
    assert rows.column("line_number").to_pylist() == [size + 1]
    assert peak < 3 * size, f"peak {peak / size:.1f}x the drop"


def test_a_drop_of_tiny_rows_is_refused_past_the_row_limit(settings):
    drop = settings.events_landing_dir / "tiny.jsonl"
    drop.write_bytes(b"1\n" * 100_000)
    with pytest.raises(DropTooLargeError, match="tiny.jsonl: more than 15,625 rows"):
        read_rows(drop, pseudonymize=str, max_drop_bytes=1_000_000)


def test_oversize_lines_and_texts_are_quarantined(settings):
    drop = write_jsonl(
        settings.events_landing_dir / "big.jsonl",
        [
            event("ok-1"),
            event("big-line", "comment", comment="x" * 3000, user_id="rawid-big"),
            event("big-text", "generation", prompt="p" * 501),
            event("big-id", generation_id="g" * 501),
            # 500 characters, 1000 bytes: within the limit
            json.dumps(event("ok-2", "generation", prompt="\u00e9" * 500), ensure_ascii=False),
        ],
    )
    result = ingest_drop(settings, drop, max_line_bytes=2000, max_text_chars=500)
    assert (result.rows_read, result.rows_valid) == (5, 2)
    assert quarantine_reasons(settings) == {
        2: "too_large:line",
        3: "too_large:prompt",
        4: "too_large:generation_id",
    }
    [(raw_text,)] = query(
        settings, "select raw_text from raw.quarantined_events where line_number = 2"
    )
    assert raw_text.startswith('{"event_id": "big-line"') and len(raw_text) < 1200
    assert_never_stored(settings, "rawid")


@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_an_oversize_line_anywhere_in_a_block_is_cut_and_the_rest_read(
    settings, monkeypatch, position
):
    monkeypatch.setattr(readers, "_CHUNK_BYTES", 4096)
    monkeypatch.setattr(readers, "_SCAN_BYTES", 1000)
    events = [json.dumps(event(f"e{i}")) for i in range(60)]
    huge = json.dumps(event("huge", "comment", comment="\u00e9" * 20_000))
    index = {"first": 0, "middle": 30, "last": 60}[position]
    lines = [*events[:index], huge, *events[index:]]
    drop = settings.events_landing_dir / "mixed.jsonl"
    body = "\n\n".join(lines)  # blank lines between: physical line numbers count them
    drop.write_text(body + ("" if position == "last" else "\n"), encoding="utf-8")
    result = ingest_drop(settings, drop, max_line_bytes=10_000)
    assert (result.rows_read, result.rows_valid) == (61, 60)
    assert quarantine_reasons(settings) == {2 * index + 1: "too_large:line"}
    numbers = query(settings, "select line_number from raw.feedback_events order by 1")
    assert [n for (n,) in numbers] == [2 * i + 1 for i in range(61) if i != index]


def test_long_runs_of_trailing_whitespace_are_trimmed(settings, monkeypatch):
    monkeypatch.setattr(readers, "_SCAN_BYTES", 777)
    line = json.dumps(event("s1"))  # the last line, cut short and padded
    tails = [" " * 17, "\t \r" * 40, " " * 5000, "\r", ""]
    body = "".join(
        f"{json.dumps(event(f's{i}'))}{tail}\n{' ' * (i * 300)}\n" for i, tail in enumerate(tails)
    )
    drop = settings.events_landing_dir / "spaces.jsonl"
    drop.write_text(body + line[:-1] + " " * 30, encoding="utf-8")
    result = ingest_drop(settings, drop)
    assert (result.rows_read, result.rows_valid, result.rows_duplicate) == (6, 5, 0)
    assert result.reasons == {"invalid_json": 1}
    [(raw_text,)] = query(settings, "select raw_text from raw.quarantined_events")
    assert raw_text.startswith('{"event_id": "s1"') and raw_text.endswith('"generation_id": "g1"')


def test_invalid_utf8_in_any_block_is_quarantined_line_by_line(settings, monkeypatch):
    monkeypatch.setattr(readers, "_CHUNK_BYTES", 2048)
    monkeypatch.setattr(readers, "_SCAN_BYTES", 512)
    lines = [json.dumps(event(f"e{i}", comment="caf\u00e9")).encode() for i in range(40)]
    lines[7] = lines[7].replace(b"caf\\u00e9", b"caf\xe9")
    lines[33] = lines[33].replace(b"caf\\u00e9", b"\xff\xfe")
    drop = settings.events_landing_dir / "latin1.jsonl"
    drop.write_bytes(b"\n".join(lines) + b"\n")
    result = ingest_drop(settings, drop)
    assert (result.rows_valid, result.reasons) == (38, {"invalid_encoding": 2})
    texts = dict(query(settings, "select line_number, raw_text from raw.quarantined_events"))
    assert "caf\\xE9" in texts[8] and "\\xFF\\xFE" in texts[34]


def test_a_csv_cell_over_the_line_limit_is_quarantined_and_reading_goes_on(settings):
    drop = settings.events_landing_dir / "wide.csv"
    drop.write_text(
        "event_id,event_type,occurred_at,user_id,generation_id,comment\n"
        f"c1,comment,2026-10-05T09:00:00Z,rawid-wide,g1,{'w' * 5000}\n"
        "c2,thumbs_up,2026-10-05T09:00:00Z,u2,g1,\n",
        encoding="utf-8",
    )
    result = ingest_drop(settings, drop, max_line_bytes=4000)
    assert (result.rows_read, result.rows_valid, result.reasons) == (2, 1, {"too_large:line": 1})
    assert_never_stored(settings, "rawid")


# --- the landing folder ---------------------------------------------------------------------


def test_symlinks_in_the_landing_folder_are_ignored_with_a_warning(settings, tmp_path, caplog):
    outside = tmp_path / "passwd"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    link = settings.events_landing_dir / "passwd.jsonl"
    link.symlink_to(outside)
    good = write_jsonl(settings.events_landing_dir / "good.jsonl", [event("e1")])
    with caplog.at_level(logging.WARNING):
        assert drop_files(settings.events_landing_dir) == [good]
    assert "passwd.jsonl" in caplog.text and "symlink" in caplog.text
    # named explicitly, it is refused, not followed
    with pytest.raises(NotARegularFileError, match="passwd.jsonl: a symlink"):
        ingest_drop(settings, link)
    assert query(settings, "select count(*) from raw.quarantined_events") == [(0,)]


def test_a_same_size_rewrite_with_its_mtime_restored_is_ingested_again(settings):
    drop = write_jsonl(settings.events_landing_dir / "day1.jsonl", [event("e1")])
    ingest_drop(settings, drop)
    before = drop.stat()
    time.sleep(0.05)
    write_jsonl(drop, [event("e2")])  # same size
    os.utime(drop, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert drop.stat().st_size == before.st_size
    result = ingest_drop(settings, drop)
    assert not result.already_ingested
    assert query(settings, "select event_id from raw.feedback_events order by 1") == [
        ("e1",),
        ("e2",),
    ]
