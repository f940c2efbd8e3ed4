"""Read one drop into the Arrow table ``staged_rows(line_number, raw_text, reject_reason, row_id)``.

Every format is reduced to one JSON text per row so that a single SQL validation serves them
all: JSONL lines are kept as they are, CSV and Parquet rows are rendered with ``to_json``.
Rows a reader cannot even decode (bad UTF-8, a broken CSV record) are staged with a
``reject_reason`` so they are quarantined, never dropped.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SUPPORTED_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet", ".csv")

_CHUNK_BYTES = 64 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_NEWLINE = ord("\n")
#: Newlines are searched this many bytes at a time (small scratch arrays are reused).
_SCAN_BYTES = 4 * 1024 * 1024

STAGED_SCHEMA = pa.schema(
    [
        ("line_number", pa.int64()),
        ("raw_text", pa.string_view()),
        ("reject_reason", pa.string()),
    ]
)

_ROWS_PER_BATCH = 60_000


class UnsupportedFileError(ValueError):
    """The file's name does not end in a supported drop format."""


def drop_format(path: Path) -> str:
    name = path.name.lower()
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    raise UnsupportedFileError(
        f"{path.name}: unsupported drop format; expected one of {', '.join(SUPPORTED_SUFFIXES)}"
    )


def stage_file(
    con: duckdb.DuckDBPyConnection, path: Path, *, pseudonymize: Callable[[str], str]
) -> None:
    """Register every row of ``path`` as ``staged_rows`` (see ``read_rows``). The caller
    unregisters it when done."""
    stage_rows(con, read_rows(path, pseudonymize=pseudonymize))


def stage_rows(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> None:
    """Register rows from ``read_rows`` as ``staged_rows``: DuckDB scans the Arrow table in
    place, no copy into a table."""
    con.register("staged_rows", rows)


def read_rows(path: Path, *, pseudonymize: Callable[[str], str]) -> pa.Table:
    """Every row of ``path``, numbered from 1 in file order, with a ``row_id``.

    Needs no warehouse connection, so a drop can be read while the warehouse works on another.
    ``pseudonymize`` replaces user ids in rows kept as the file's own text (broken CSV
    records), which the JSON-based redaction downstream cannot read.
    """
    fmt = drop_format(path)
    if fmt in (".jsonl", ".jsonl.gz"):
        tables = _jsonl_batches(path)
    elif fmt == ".csv":
        tables = _csv_batches(path, pseudonymize)
    else:
        tables = [_parquet_rows(path)]
    batches = [batch for table in tables for batch in table.to_batches()]
    staged = pa.Table.from_batches(batches, schema=STAGED_SCHEMA)
    # A key for each row, as line numbers need not be unique (a CSV record can be split)
    staged = staged.append_column("row_id", pa.array(np.arange(staged.num_rows)))
    # Small record batches let DuckDB scan the staged rows with all its threads
    return pa.Table.from_batches(staged.to_batches(_ROWS_PER_BATCH), schema=staged.schema)


def _jsonl_batches(path: Path) -> Iterator[pa.Table]:
    """Whole lines numbered by physical line from 1, as string views into the file's bytes.

    The file is read once into one buffer and its newlines found with numpy; each line is a
    view (offset, length) into that buffer, so no line is copied. Lines are checked for UTF-8
    in the blocks that reading the file 64 MB at a time would give.
    """
    data = _read_all(path)
    first = len(_BOM) if data[: len(_BOM)].tobytes() == _BOM else 0
    newlines = _newline_positions(data, first)
    buffer = pa.py_buffer(data)
    block_start, lines_done = first, 0
    window_ends = range(_CHUNK_BYTES, len(data) + _CHUNK_BYTES, _CHUNK_BYTES)
    for lines_seen in np.searchsorted(newlines, np.minimum(window_ends, len(data))).tolist():
        if lines_seen > lines_done:
            block_end = int(newlines[lines_seen - 1]) + 1
            line_ends = newlines[lines_done:lines_seen] - block_start
            yield _block_table(buffer, block_start, block_end, line_ends, lines_done + 1)
            block_start, lines_done = block_end, lines_seen
    if block_start < len(data):
        last_line = np.array([len(data) - block_start])
        yield _block_table(buffer, block_start, len(data), last_line, lines_done + 1)


def _read_all(path: Path) -> np.ndarray:
    """The file's bytes (decompressed for ``.gz``) as one numpy buffer."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        return np.frombuffer(handle.read(), dtype=np.uint8)


def _newline_positions(data: np.ndarray, start: int) -> np.ndarray:
    """Positions of every ``\\n`` from ``start`` on, found a slice at a time to bound memory."""
    found = [
        np.flatnonzero(data[offset : offset + _SCAN_BYTES] == _NEWLINE) + offset
        for offset in range(start, len(data), _SCAN_BYTES)
    ]
    return np.concatenate(found) if found else np.empty(0, dtype=np.int64)


def _block_table(
    buffer: pa.Buffer, start: int, end: int, ends: np.ndarray, first_line_number: int
) -> pa.Table:
    """The lines of ``buffer[start:end]``, which end (before their newline, if any) at ``ends``.

    A blank line is not a row; trailing whitespace (``\\r`` in CRLF files) is not part of a row.
    """
    data = buffer.slice(start, end - start)
    block = np.frombuffer(data, dtype=np.uint8)
    whole = pa.StringArray.from_buffers(
        1, pa.py_buffer(np.array([0, len(block)], dtype=np.int32)), data
    )
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return _rows_table(_decode_line_by_line(block.tobytes().split(b"\n"), first_line_number))
    starts = np.concatenate(([0], ends[:-1] + 1))
    trimmed = _trimmed_ends(block, starts, ends)
    if trimmed is None:
        return _lines_table(block.tobytes(), first_line_number)
    keep = trimmed > starts
    numbers = np.arange(first_line_number, first_line_number + len(ends))[keep]
    views = _string_views(block, starts[keep], trimmed[keep] - starts[keep])
    texts = pa.StringViewArray.from_buffers(
        pa.string_view(), len(numbers), [None, pa.py_buffer(views), data]
    )
    return pa.table(
        {
            "line_number": pa.array(numbers),
            "raw_text": texts,
            "reject_reason": pa.nulls(len(numbers), pa.string()),
        },
        schema=STAGED_SCHEMA,
    )


#: Trailing bytes that are not part of a line; at most this many are stripped per pass.
_TRAILING = np.zeros(256, dtype=bool)
_TRAILING[[ord(" "), ord("\t"), ord("\r"), ord("\n")]] = True
_MAX_TRIM_PASSES = 16


def _trimmed_ends(block: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Each line's end without trailing whitespace; None if some line has a long run of it."""
    ends = ends.copy()
    active = np.flatnonzero(ends > starts)
    for _ in range(_MAX_TRIM_PASSES):
        active = active[_TRAILING[block[ends[active] - 1]]]
        if not active.size:
            return ends
        ends[active] -= 1
        active = active[ends[active] > starts[active]]
    return None


def _string_views(block: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Arrow string views over ``block``: length and 12 inline bytes, or length, a 4-byte
    prefix, buffer 0 and offset."""
    views = np.zeros((len(starts), 16), dtype=np.uint8)
    words = views.view(np.int32)
    words[:, 0] = lengths
    long = lengths > 12
    views[long, 4:8] = block[starts[long, None] + np.arange(4)]
    words[long, 3] = starts[long]
    short = ~long
    if short.any():
        span = np.arange(12)
        inside = span < lengths[short, None]
        positions = np.where(inside, starts[short, None] + span, 0)
        views[short, 4:16] = np.where(inside, block[positions], 0)
    return views


def _lines_table(block: bytes, first_line_number: int) -> pa.Table:
    """Split a block of whole lines without a Python loop: the line boundaries found with
    numpy become the offsets of an Arrow string array over the block's own bytes.

    A blank line is not a row; trailing whitespace (``\\r`` in CRLF files) is not part of a row.
    """
    newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n"))
    ends = newlines + 1 if block.endswith(b"\n") else np.append(newlines + 1, len(block))
    offsets = np.concatenate(([0], ends)).astype(np.int32)
    lines = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(block))
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        return _rows_table(_decode_line_by_line(block.split(b"\n"), first_line_number))
    texts = pc.utf8_rtrim(lines, characters=" \t\r\n")
    keep = pc.greater(pc.binary_length(texts), 0)
    numbers = pa.array(np.arange(first_line_number, first_line_number + len(ends)))
    return pa.table(
        {
            "line_number": numbers.filter(keep),
            "raw_text": texts.filter(keep).cast(pa.string_view()),
            "reject_reason": pa.nulls(pc.sum(keep).as_py() or 0, pa.string()),
        },
        schema=STAGED_SCHEMA,
    )


def _decode_line_by_line(
    lines: list[bytes], first_line_number: int
) -> list[tuple[int, str, str | None]]:
    rows: list[tuple[int, str, str | None]] = []
    for offset, line in enumerate(lines):
        line = line.removesuffix(b"\r")
        if not line.strip():
            continue
        try:
            rows.append((first_line_number + offset, line.decode("utf-8"), None))
        except UnicodeDecodeError:
            text = line.decode("utf-8", errors="replace")
            rows.append((first_line_number + offset, text, "invalid_encoding"))
    return rows


def _csv_batches(
    path: Path, pseudonymize: Callable[[str], str], batch_rows: int = 50_000
) -> Iterator[pa.Table]:
    """CSV records become JSON objects of their non-empty text cells (typing happens in SQL).

    A record whose cell count differs from the header, or that the CSV grammar cannot parse
    (an unterminated quote), is staged as ``invalid_csv`` with its original text.
    ``line_number`` is the physical line the record starts on.
    """
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        lines = _RecordingLines(handle)
        reader = csv.reader(lines, strict=True)
        header = next(reader, None)
        if header is None:
            return
        lines.take_record()
        user_column = header.index("user_id") if "user_id" in header else None
        rows: list[tuple[int, str, str | None]] = []
        while True:
            start_line = lines.next_line_number
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error:
                raw = lines.take_record() + lines.rest()
                rows.append(
                    (start_line, _redact_csv(raw, user_column, pseudonymize), "invalid_csv")
                )
                break
            raw = lines.take_record()
            if len(record) != len(header):
                raw = _redact_csv(raw.rstrip("\r\n"), user_column, pseudonymize)
                rows.append((start_line, raw, "invalid_csv"))
            elif any(cell.strip() for cell in record):
                cells = {
                    key: value for key, value in zip(header, record, strict=True) if value != ""
                }
                rows.append((start_line, json.dumps(cells, ensure_ascii=False), None))
            if len(rows) >= batch_rows:
                yield _rows_table(rows)
                rows = []
        if rows:
            yield _rows_table(rows)


def _redact_csv(raw: str, user_column: int | None, pseudonymize: Callable[[str], str]) -> str:
    """The broken record's text with its user id cells replaced by their keys."""
    if user_column is None:
        return raw
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for cells in csv.reader(io.StringIO(raw)):
        if len(cells) > user_column and cells[user_column]:
            cells[user_column] = pseudonymize(cells[user_column])
        writer.writerow(cells)
    return out.getvalue().rstrip("\n")


class _RecordingLines:
    """Line iterator for ``csv.reader`` that remembers the text of the record being read."""

    def __init__(self, handle: io.TextIOBase) -> None:
        self._handle = handle
        self._buffer: list[str] = []
        self.next_line_number = 1

    def __iter__(self) -> _RecordingLines:
        return self

    def __next__(self) -> str:
        line = next(self._handle)
        self._buffer.append(line)
        return line

    def take_record(self) -> str:
        text = "".join(self._buffer)
        self.next_line_number += text.count("\n")
        self._buffer = []
        return text

    def rest(self) -> str:
        return self._handle.read()


def _rows_table(rows: list[tuple[int, str, str | None]]) -> pa.Table:
    numbers, texts, rejects = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table([list(numbers), list(texts), list(rejects)], schema=STAGED_SCHEMA)


def _parquet_rows(path: Path) -> pa.Table:
    """Parquet rows keep their column names; timestamps with a time zone are rendered in
    RFC 3339 so they validate like text, naive ones stay offset-less and are quarantined.
    Read with an in-memory DuckDB of its own, in UTC."""
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        rows = con.sql(
            """
            select
                file_row_number + 1 as line_number,
                to_json(struct_pack(*columns(* exclude (file_row_number))))::varchar as raw_text,
                null::varchar as reject_reason
            from read_parquet(?, file_row_number = true)
            """,
            params=[str(path)],
        )
        return rows.to_arrow_table().cast(STAGED_SCHEMA)
