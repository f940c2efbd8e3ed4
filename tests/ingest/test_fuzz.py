"""Fuzzing the JSONL and CSV readers end to end: whatever the lines, every row read is valid,
quarantined or a duplicate, nothing raises, and no raw user id is stored in any column.

Raw user ids are ``RAWID`` and a few lower-case letters; no other generated text contains an
upper-case ``R``, so ``RAWID`` anywhere in a stored value is (part of) a raw id.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback_platform.ingest.load import ingest_file
from feedback_platform.warehouse import prepare_connection
from tests.conftest import TEST_SALT, event

RAW = "RAWID"
raw_ids = st.text("abcdefgh", min_size=2, max_size=6).map(lambda tail: RAW + tail)
# free text: quotes, separators, escapes, non-ASCII, line breaks; never an upper-case R
free_text = st.text(
    st.sampled_from(list("abcxyz 0189,;:=\"{}[]\\'\t\u00e9\u3042\U0001f600-_") + ["\n", "\r"]),
    max_size=12,
)
key_spellings = st.sampled_from(
    ["user_id", "user\\u005fid", "\\u0075ser_id", "USER_ID", "userId", "user-id"]
)
timestamps = st.one_of(
    st.just("2026-10-05T09:00:00Z"),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from(["2026-10-05T09:00:00+99:99", "2026-10-05T09:00:00+18:00", "9" * 20, ""]),
    st.floats(allow_nan=False),
)


def _user_id_value(raw_id: str):
    return st.sampled_from(
        [
            raw_id,
            {"id": raw_id},
            [raw_id, 1],
            {"a": {"b": {"c": {"d": {"e": raw_id}}}}},
            {"a": [{"b": raw_id}]},
        ]
    )


@st.composite
def json_lines(draw) -> str:
    raw_id = draw(raw_ids)
    kind = draw(st.integers(0, 9))
    if kind == 0:
        separator = draw(st.sampled_from(["=", ": ", " = ", ":"]))
        return f"{draw(key_spellings)}{separator}{raw_id}{draw(free_text)}".replace("\n", " ")
    if kind == 1:
        return draw(free_text).replace("\n", " ").replace("\r", " ")
    record = event(
        draw(st.sampled_from(["e1", "e2", "e3"])),
        draw(st.sampled_from(["thumbs_up", "generation", "comment", "dance", "rating"])),
        occurred_at=draw(timestamps),
        user_id=draw(st.one_of(st.just(raw_id), _user_id_value(raw_id))),
        comment=draw(free_text),
        rating=draw(st.one_of(st.integers(-(2**70), 2**70), free_text)),
    )
    if draw(st.booleans()):
        record["properties"] = draw(
            st.sampled_from(
                [
                    {"user_id": raw_id},
                    {"n": {"userId": raw_id, "k": [1, 2]}},
                    json.dumps({"user_id": raw_id}),
                    {"note": json.dumps({"user_id": raw_id})},
                    {"deep": {"user_id": {"a": {"b": {"c": {"d": {"e": raw_id}}}}}}},
                    [{"user_id": raw_id}],
                ]
            )
        )
    text = json.dumps(record, ensure_ascii=draw(st.booleans()))
    text = text.replace('"user_id"', f'"{draw(key_spellings)}"', 1)
    if draw(st.booleans()):  # a second user id key
        text = text[:-1] + f', "user_id": {json.dumps(draw(_user_id_value(draw(raw_ids))))}}}'
    if draw(st.integers(0, 3)) == 0:  # truncated, as a crashed writer leaves it
        text = text[: draw(st.integers(0, len(text)))]
    return text


@st.composite
def csv_records(draw, stray_quote: bool = False) -> str:
    cells = [
        draw(st.sampled_from(["c1", "c2", "c3"])),
        draw(st.sampled_from(["thumbs_up", "comment", "dance"])),
        draw(st.sampled_from(["2026-10-05T09:00:00Z", "18446744073709551615", "1791190800000"])),
        draw(raw_ids),
        draw(st.one_of(st.just("g1"), free_text)),
        draw(st.sampled_from(["", json.dumps({"user_id": draw(raw_ids)}), "{}", "[1]"])),
    ]
    mutation = draw(st.integers(0, 4))
    if mutation == 1 and not stray_quote:
        mutation = 2
    if mutation == 0:  # a cell too many: the cells no longer line up with the header
        cells.insert(draw(st.integers(0, len(cells))), draw(free_text))
    out = io.StringIO()
    # \r\n, so that a cell holding \r is quoted: a record that parses with the header's cell
    # count but holds its user id in another column cannot be told from a valid one
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    text = out.getvalue()
    if mutation == 1:  # a stray quote
        position = draw(st.integers(0, len(text)))
        text = text[:position] + '"' + text[position:]
    return text


HEADER = "event_id,event_type,occurred_at,user_id,generation_id,properties\n"


def _ingest_and_check(name: str, body: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "landing" / name
        path.parent.mkdir()
        path.write_bytes(body)
        with duckdb.connect() as con:
            prepare_connection(con)
            result = ingest_file(con, path, user_salt=TEST_SALT)
            assert result.rows_read == (
                result.rows_valid + result.rows_quarantined + result.rows_duplicate
            )
            counts = con.execute(
                "select (select count(*) from raw.feedback_events),"
                " (select count(*) from raw.quarantined_events)"
            ).fetchone()
            assert counts == (result.rows_valid, result.rows_quarantined)
            for table in ("raw.feedback_events", "raw.quarantined_events", "raw.ingested_files"):
                for row in con.execute(f"select * from {table}").fetchall():
                    for value in row:
                        assert RAW not in str(value), f"{table}: {value!r}"


#: The same examples on every run (CI, a colleague's machine): a failure is reproducible and a
#: green run means the same thing each time.
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(lines=st.lists(json_lines(), max_size=8), invalid_utf8=st.booleans())
def test_fuzzed_jsonl_drops_balance_and_store_no_raw_id(lines, invalid_utf8):
    body = "\n".join(lines).encode()
    if invalid_utf8 and lines:
        body = body.replace(b"e1", b"e\xff1", 1)
    _ingest_and_check("fuzz.jsonl", body)


@FUZZ
@given(
    records=st.lists(csv_records(), max_size=7),
    last=st.one_of(st.just(""), csv_records(stray_quote=True)),
)
def test_fuzzed_csv_drops_balance_and_store_no_raw_id(records, last):
    """A stray quote only in the last record. Earlier, it can pair with a later record's quote
    and turn the records between into one cell of a record that has the header's cell count:
    CSV cannot tell that from a valid record, so a raw id swallowed there is stored (a known
    limit, in the README's ingestion rules)."""
    _ingest_and_check("fuzz.csv", (HEADER + "".join(records) + last).encode())
