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
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from feedback_platform.settings import DEFAULT_MAX_DROP_BYTES, DEFAULT_MAX_LINE_BYTES
from feedback_platform.warehouse import use_utc

SUPPORTED_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet", ".csv")

_CHUNK_BYTES = 64 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_NEWLINE = ord("\n")
#: Newlines are searched this many bytes at a time (small scratch arrays are reused).
_SCAN_BYTES = 1024 * 1024
#: A gzip drop is decompressed this many bytes at a time.
_GZIP_READ_BYTES = 8 * 1024 * 1024

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


class DropTooLargeError(ValueError):
    """The drop exceeds a size limit (``FEEDBACK_PLATFORM_MAX_DROP_BYTES``); it fails alone."""


class NotARegularFileError(ValueError):
    """The drop is a symlink or not a regular file; only regular files are read."""


#: A drop may hold at most one row per this many bytes of ``max_drop_bytes`` (staging costs
#: about 60 bytes a row, so tiny rows cannot multiply a drop's memory).
BYTES_PER_ROW_LIMIT = 64

#: A line longer than ``max_line_bytes`` is staged as its first this many bytes (to the last
#: whole character), rejected as ``too_large:line``.
OVERSIZE_PREVIEW_BYTES = 1024

#: Lines are staged as string views into blocks of the file; a view's offset is 32 bits.
_MAX_LINE_BYTES_CAP = 1024**3


def register_staged_rows(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> None:
    """Register rows from ``read_rows`` as the view ``staged_rows`` of ``con``: DuckDB scans the
    Arrow table in place, no copy into a table. The caller unregisters it when done."""
    con.register("staged_rows", rows)


def read_rows(
    path: Path,
    *,
    pseudonymize: Callable[[str], str],
    max_drop_bytes: int = DEFAULT_MAX_DROP_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> pa.Table:
    """Every row of ``path``, numbered from 1 in file order, with a ``row_id``.

    Needs no warehouse connection, so a drop can be read while the warehouse works on another.
    ``pseudonymize`` replaces user ids in rows kept as the file's own text (broken CSV
    records), which the JSON-based redaction downstream cannot read.

    Raises ``NotARegularFileError`` for a symlink (or anything but a regular file) and
    ``DropTooLargeError`` when the drop decompresses to more than ``max_drop_bytes`` or holds
    more than ``max_drop_bytes / BYTES_PER_ROW_LIMIT`` rows. A line longer than
    ``max_line_bytes`` is staged cut short, as ``too_large:line``.
    """
    fmt = drop_format(path)
    check_regular_file(path)
    limits = _Limits(path.name, max_drop_bytes, min(max_line_bytes, _MAX_LINE_BYTES_CAP))
    if fmt in (".jsonl", ".jsonl.gz"):
        tables = _jsonl_batches(path, limits)
    elif fmt == ".csv":
        limits.check_bytes(path.stat().st_size)
        tables = _csv_batches(path, pseudonymize, limits)
    else:
        tables = _parquet_batches(path, limits)
    batches = []
    for table in tables:
        batches.extend(table.to_batches())
        limits.check_rows(sum(batch.num_rows for batch in batches))
    staged = pa.Table.from_batches(batches, schema=STAGED_SCHEMA)
    # A key for each row, as line numbers need not be unique (a CSV record can be split)
    staged = staged.append_column("row_id", pa.array(np.arange(staged.num_rows)))
    # Small record batches let DuckDB scan the staged rows with all its threads
    return pa.Table.from_batches(staged.to_batches(_ROWS_PER_BATCH), schema=staged.schema)


def check_regular_file(path: Path) -> None:
    """Drops are regular files: a symlink is not followed (it could point anywhere)."""
    mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = "a symlink" if stat.S_ISLNK(mode) else "not a regular file"
        raise NotARegularFileError(f"{path.name}: {kind}; only regular files are drops")


@dataclass(frozen=True)
class _Limits:
    file_name: str
    max_drop_bytes: int
    max_line_bytes: int

    def check_bytes(self, size: int) -> None:
        if size > self.max_drop_bytes:
            raise DropTooLargeError(
                f"{self.file_name}: more than {self.max_drop_bytes:,} bytes (decompressed), the "
                "limit per drop (FEEDBACK_PLATFORM_MAX_DROP_BYTES); split the drop"
            )

    def check_rows(self, rows: int) -> None:
        if rows > self.max_drop_bytes // BYTES_PER_ROW_LIMIT:
            raise DropTooLargeError(
                f"{self.file_name}: more than {self.max_drop_bytes // BYTES_PER_ROW_LIMIT:,} rows,"
                f" the limit per drop (FEEDBACK_PLATFORM_MAX_DROP_BYTES / {BYTES_PER_ROW_LIMIT});"
                " split the drop"
            )


def _jsonl_batches(path: Path, limits: _Limits) -> Iterator[pa.Table]:
    """Whole lines numbered by physical line from 1, as string views into the file's bytes.

    The file is read once into one buffer. Its newlines are found with numpy a slice at a
    time, and only the lines with something besides white space are kept, so blank lines cost
    no memory. Each line is a view (offset, length) into that buffer, so no line is copied.
    Lines are checked for UTF-8 in blocks of about 64 MB. A line longer than the line limit is
    staged apart, cut short.
    """
    data = _read_all(path, limits)
    buffer = pa.py_buffer(data)
    first = len(_BOM) if data[: len(_BOM)].tobytes() == _BOM else 0
    block = _Block(first)
    line_start, lines_before = first, 0
    for offset in range(first, len(data), _SCAN_BYTES):
        ends = np.flatnonzero(data[offset : offset + _SCAN_BYTES] == _NEWLINE)
        if not ends.size:
            continue
        ends += offset
        starts = np.concatenate(([line_start], ends[:-1] + 1))
        numbers = np.arange(lines_before + 1, lines_before + 1 + ends.size)
        line_start, lines_before = int(ends[-1]) + 1, lines_before + ends.size
        # empty lines go first, before they cost more arrays
        filled = np.flatnonzero(ends > starts)
        starts, ends, numbers = starts[filled], ends[filled], numbers[filled]
        del filled
        yield from block.add(buffer, data, starts, ends, numbers, limits)
        if block.size >= _CHUNK_BYTES:
            yield from block.flush(buffer)
    if line_start < len(data):
        ends = np.array([len(data)])
        numbers = np.array([lines_before + 1])
        yield from block.add(buffer, data, np.array([line_start]), ends, numbers, limits)
    yield from block.flush(buffer)


class _Block:
    """The lines of one block of the file being read: a byte range and the kept lines in it."""

    def __init__(self, start: int) -> None:
        self.start = self.end = start
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    @property
    def size(self) -> int:
        return self.end - self.start

    def add(
        self,
        buffer: pa.Buffer,
        data: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        numbers: np.ndarray,
        limits: _Limits,
    ) -> Iterator[pa.Table]:
        """Add lines ``[starts, ends)`` (absolute positions, ``ends`` at the newline); a line
        over the limit ends the block and is staged on its own, cut short."""
        trimmed = _trimmed_ends(data, starts, ends)
        keep = trimmed > starts
        starts, trimmed, numbers, ends = starts[keep], trimmed[keep], numbers[keep], ends[keep]
        oversize = np.flatnonzero(trimmed - starts > limits.max_line_bytes)
        done = 0
        for index in oversize.tolist():
            self._append(starts[done:index], trimmed[done:index], numbers[done:index])
            self.end = int(starts[index])
            yield from self.flush(buffer)
            yield _oversize_row(data, int(starts[index]), int(numbers[index]))
            self.start = self.end = min(int(ends[index]) + 1, len(data))
            done = index + 1
        self._append(starts[done:], trimmed[done:], numbers[done:])
        if ends.size:
            self.end = max(self.end, min(int(ends[-1]) + 1, len(data)))

    def _append(self, starts: np.ndarray, ends: np.ndarray, numbers: np.ndarray) -> None:
        if starts.size:
            self._parts.append((starts, ends, numbers))

    def flush(self, buffer: pa.Buffer) -> Iterator[pa.Table]:
        if self._parts:
            starts, ends, numbers = (
                np.concatenate(part) for part in zip(*self._parts, strict=True)
            )
            end = max(self.end, int(ends[-1]))
            yield _block_table(buffer, self.start, end, starts - self.start, ends - starts, numbers)
        self._parts = []
        self.start = self.end


def _oversize_row(data: np.ndarray, start: int, number: int) -> pa.Table:
    preview = data[start : start + OVERSIZE_PREVIEW_BYTES].tobytes()
    text = preview.decode("utf-8", errors="ignore" if _valid_prefix(preview) else "replace")
    return _rows_table([(number, text, "too_large:line")])


def _valid_prefix(preview: bytes) -> bool:
    """True when ``preview`` is valid UTF-8 but for a character cut at its end."""
    try:
        preview.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(preview) - 3 and error.reason == "unexpected end of data"
    return True


def _read_all(path: Path, limits: _Limits) -> np.ndarray:
    """The file's bytes (decompressed for ``.gz``) as one numpy buffer, never more than the
    drop limit: a gzip file is decompressed a block at a time and given up past the limit."""
    if not path.name.lower().endswith(".gz"):
        limits.check_bytes(path.stat().st_size)
        with open(path, "rb") as handle:
            return np.frombuffer(handle.read(), dtype=np.uint8)
    data = bytearray()
    with gzip.open(path, "rb") as handle:
        while block := handle.read(_GZIP_READ_BYTES):
            data += block
            limits.check_bytes(len(data))
    return np.frombuffer(data, dtype=np.uint8)


def _block_table(
    buffer: pa.Buffer,
    start: int,
    end: int,
    starts: np.ndarray,
    lengths: np.ndarray,
    numbers: np.ndarray,
) -> pa.Table:
    """The lines of ``buffer[start:end]`` that begin at ``starts`` (relative to ``start``) and
    are ``lengths`` long. A block that is not all UTF-8 is split line by line in DuckDB: a line
    that is not UTF-8 is staged as ``invalid_encoding``, its bytes outside ASCII as ``\\xHH``.
    """
    data = buffer.slice(start, end - start)
    block = np.frombuffer(data, dtype=np.uint8)
    whole = pa.LargeStringArray.from_buffers(
        1, pa.py_buffer(np.array([0, len(block)], dtype=np.int64)), data
    )
    views = pa.py_buffer(_string_views(block, starts, lengths))
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        lines = pa.BinaryViewArray.from_buffers(pa.binary_view(), len(numbers), [None, views, data])
        return _decode_lines(lines, numbers)
    texts = pa.StringViewArray.from_buffers(pa.string_view(), len(numbers), [None, views, data])
    return pa.table(
        {
            "line_number": pa.array(numbers),
            "raw_text": texts,
            "reject_reason": pa.nulls(len(numbers), pa.string()),
        },
        schema=STAGED_SCHEMA,
    )


def _decode_lines(lines: pa.Array, numbers: np.ndarray) -> pa.Table:
    """Lines of bytes as text, in one vectorized DuckDB query: UTF-8 as it is, anything else
    rejected as ``invalid_encoding`` and rendered in ASCII: control and non-ASCII bytes as
    ``\\xHH``, quotes and backslashes as themselves (so the user id redaction reads the JSON)."""
    with duckdb.connect() as con:
        con.register("lines", pa.table({"line_number": numbers, "bytes": lines}))
        decoded = con.sql(
            r"""
            select
                line_number,
                coalesce(
                    try(decode(bytes)),
                    replace(
                        replace(replace(bytes::varchar, '\x22', '"'), '\x27', ''''), '\x5C', '\'
                    )
                ) as raw_text,
                case when try(decode(bytes)) is null then 'invalid_encoding' end as reject_reason
            from lines
            """
        ).to_arrow_table()
    return decoded.cast(STAGED_SCHEMA)


#: Trailing bytes that are not part of a line; at most this many are stripped per pass.
_TRAILING = np.zeros(256, dtype=bool)
_TRAILING[[ord(" "), ord("\t"), ord("\r"), ord("\n")]] = True
_MAX_TRIM_PASSES = 16


def _trimmed_ends(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each line's end without trailing whitespace. A few passes of one byte strip the usual
    ``\r`` or space; lines with a longer run are searched backwards in windows that double,
    so the work stays in proportion to the white space, however long its runs."""
    ends = ends.copy()
    active = np.flatnonzero(ends > starts)
    for _ in range(_MAX_TRIM_PASSES):
        active = active[_TRAILING[data[ends[active] - 1]]]
        if not active.size:
            return ends
        ends[active] -= 1
        active = active[ends[active] > starts[active]]
    window = 64
    while active.size:
        still = [
            _trim_window(data, starts, ends, group, window) for group in _groups(active, window)
        ]
        active = np.concatenate(still)
        window = min(window * 2, _MAX_TRIM_WINDOW)
    return ends


_MAX_TRIM_WINDOW = 1024 * 1024
#: Bytes looked at in one step of the backward search (lines x window).
_TRIM_STEP_BYTES = 4 * 1024 * 1024


def _groups(active: np.ndarray, window: int) -> list[np.ndarray]:
    size = max(1, _TRIM_STEP_BYTES // window)
    return [active[index : index + size] for index in range(0, active.size, size)]


def _trim_window(
    data: np.ndarray, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray, window: int
) -> np.ndarray:
    """Look at up to ``window`` bytes before each line's end; move the end past the last byte
    that is not white space, or back by the window. Returns the lines still to search."""
    width = np.minimum(window, ends[lines] - starts[lines])
    back = np.arange(window)
    inside = back < width[:, None]
    positions = np.where(inside, ends[lines, None] - 1 - back, 0)
    text = inside & ~_TRAILING[data[positions]]
    found = text.any(axis=1)
    ends[lines[found]] -= text[found].argmax(axis=1)
    ends[lines[~found]] -= width[~found]
    rest = lines[~found]
    return rest[ends[rest] > starts[rest]]


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


def _csv_batches(
    path: Path, pseudonymize: Callable[[str], str], limits: _Limits, batch_rows: int = 50_000
) -> Iterator[pa.Table]:
    """CSV records become JSON objects of their non-empty text cells (typing happens in SQL).

    A record whose cell count differs from the header, or that the CSV grammar cannot parse
    (an unterminated quote), is staged as ``invalid_csv`` with its original text, redacted
    (``_redact_csv``). A cell longer than the line limit makes its record ``too_large:line``,
    and reading goes on with the next line. ``line_number`` is the physical line the record
    starts on.
    """
    # A cell up to the line limit is read; a longer one is the csv module's error
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_line_bytes))
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        lines = _RecordingLines(handle)
        reader = csv.reader(lines, strict=True)
        header = next(reader, None)
        if header is None:
            return
        lines.take_record()
        if not _names_a_user_id(header):  # no id to protect: a broken record stays as written

            def redact(raw: str, _: Callable[[str], str]) -> str:
                return raw

        else:
            redact = _redact_csv
        rows: list[tuple[int, str, str | None]] = []
        while True:
            start_line = lines.next_line_number
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                if "field larger than field limit" in str(error):
                    raw = lines.take_record()[:OVERSIZE_PREVIEW_BYTES]
                    rows.append((start_line, redact(raw, pseudonymize), "too_large:line"))
                    continue
                raw = lines.take_record() + lines.rest()
                rows.append((start_line, redact(raw, pseudonymize), "invalid_csv"))
                break
            raw = lines.take_record()
            if len(record) != len(header):
                rows.append((start_line, redact(raw.rstrip("\r\n"), pseudonymize), "invalid_csv"))
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


def _names_a_user_id(header: list[str]) -> bool:
    """Whether a header cell could be the user id (``user_id``, ``userId``, ``User-ID``...)."""
    return any("".join(ch for ch in cell.lower() if ch.isalnum()) == "userid" for cell in header)


def _redact_csv(raw: str, pseudonymize: Callable[[str], str]) -> str:
    """A CSV record kept as text, with every cell replaced by its key (``pseudonymize``).

    Such a record is broken: its cells may not line up with the header (a missing or extra
    comma), and after an unterminated quote the rest of the file is one record. So the user id
    cannot be located, and no cell is kept as written: each physical line is read as a record
    of its own and each cell of it hashed; only the commas, quotes and line breaks remain.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for line in raw.splitlines():
        cells = next(csv.reader([line]), [])
        writer.writerow([pseudonymize(cell) if cell else cell for cell in cells])
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


def _parquet_batches(path: Path, limits: _Limits) -> Iterator[pa.Table]:
    """Parquet rows keep their column names; timestamps with a time zone are rendered in
    RFC 3339 so they validate like text, naive ones stay offset-less and are quarantined.
    Read with an in-memory DuckDB of its own, in UTC, a batch at a time: the rows rendered
    count against the drop limit (a dictionary-encoded column can expand far beyond the file).
    """
    with duckdb.connect() as con:
        use_utc(con)
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
        rendered = 0
        for batch in rows.to_arrow_reader(_PARQUET_BATCH_ROWS):
            rendered += batch.nbytes
            limits.check_bytes(rendered)
            yield pa.Table.from_batches([batch]).cast(STAGED_SCHEMA)


_PARQUET_BATCH_ROWS = 1_000_000
