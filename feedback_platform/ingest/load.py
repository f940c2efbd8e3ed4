"""Ingest one drop file as one transaction: events, quarantine and the file's ledger row.

``raw.ingested_files`` is the ledger: a file whose sha256 is in it is a no-op under any name,
and for every file ``rows_valid + rows_quarantined + rows_duplicate = rows_read``.
``ingest_once`` is that discipline for any kind of drop; review labels use it too.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa

from feedback_platform.ingest.landing import drop_key
from feedback_platform.ingest.pseudonymize import REDACTION_MACROS, hmac_pads, key_table, user_key
from feedback_platform.ingest.readers import (
    OVERSIZE_PREVIEW_BYTES,
    check_regular_file,
    read_rows,
    register_staged_rows,
)
from feedback_platform.ingest.scrub import counts_sql, replacements, scrub_macros, scrubs_column
from feedback_platform.ingest.validate import EVENT_COLUMNS, FREE_TEXT_FIELDS, VALIDATE_SQL
from feedback_platform.schema import scrub_ledger
from feedback_platform.settings import (
    DEFAULT_MAX_DROP_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_MAX_TEXT_CHARS,
    SCRUB_STORE,
)
from feedback_platform.warehouse import transaction


@dataclass(frozen=True)
class FileIngestResult:
    file_name: str
    sha256: str
    already_ingested: bool = False
    rows_read: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    #: What scrubbing replaced in the stored rows: ``{field: {kind: replacements}}``.
    scrubbed: dict[str, dict[str, int]] = field(default_factory=dict)


class RowCounts(NamedTuple):
    """What the rows of one file became; quarantined rows are counted per reason, scrubbed
    values per field and kind (``scrub.replacements``)."""

    read: int
    valid: int
    duplicate: int
    reasons: dict[str, int]
    scrubbed: dict[str, dict[str, int]]


def drop_sha256(con: duckdb.DuckDBPyConnection, path: Path, known: str | None = None) -> str:
    """The file's sha256, read from the cache when the file is unchanged since it was hashed;
    else ``known`` (already computed from the file's bytes) or the file hashed now."""
    key = _cache_key(path)
    cached = con.execute("select sha256 from raw.drop_sha256 where drop_key = ?", [key]).fetchone()
    if cached:
        return cached[0]
    sha256 = known or file_sha256(path)
    con.execute("insert or ignore into raw.drop_sha256 values (?, ?)", [key, sha256])
    return sha256


def known_ingested(con: duckdb.DuckDBPyConnection, path: Path, ledger: str) -> bool:
    """True when the unchanged file was hashed before and that sha256 is in ``ledger``: a
    no-op that need not be read (a copy under another name is only found by hashing it)."""
    return bool(
        con.execute(
            f"select 1 from raw.drop_sha256 join {ledger} using (sha256) where drop_key = ?",
            [_cache_key(path)],
        ).fetchone()
    )


def _cache_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.parent.name}/{drop_key(path)}:{stat.st_ino}:{stat.st_ctime_ns}"


def file_sha256(path: Path) -> str:
    """The sha256 of a regular file's bytes (a symlink is refused, not followed)."""
    check_regular_file(path)
    digest = hashlib.sha256()
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
        while block := handle.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class DropContent:
    """An event drop read ahead of its transaction (``read_drop``): the sha256 and the rows of
    one read of the file."""

    sha256: str
    rows: pa.Table


def read_drop(
    path: Path,
    *,
    user_salt: str,
    max_drop_bytes: int = DEFAULT_MAX_DROP_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> DropContent:
    """Hash and read ``path`` without touching the warehouse, so that the next drop is read
    while the warehouse ingests the current one (about 0.45 s of single-threaded work in every
    150 MB drop). Raises ``ValueError`` for a drop over a limit (see ``read_rows``)."""
    return DropContent(
        sha256=file_sha256(path),
        rows=read_rows(
            path,
            pseudonymize=partial(user_key, salt=user_salt),
            max_drop_bytes=max_drop_bytes,
            max_line_bytes=max_line_bytes,
        ),
    )


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    user_salt: str,
    content: DropContent | None = None,
    ingested_at: datetime | None = None,
    before_commit: Callable[[], None] | None = None,
    max_drop_bytes: int = DEFAULT_MAX_DROP_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    scrub: str = SCRUB_STORE,
) -> FileIngestResult:
    """Load the event drop ``path`` into the raw tables, all or nothing (see ``ingest_once``),
    from ``content`` when it was read ahead (``read_drop``). A line over ``max_line_bytes`` is
    quarantined as ``too_large:line``, a text field over ``max_text_chars`` characters as
    ``too_large:<field>``; a drop over ``max_drop_bytes`` raises ``ValueError``. With ``scrub``
    ``store`` the free texts and quarantined raw texts are scrubbed (``scrub.py``)."""
    pads = hmac_pads(user_salt)

    def load_events(ingested_at: datetime) -> RowCounts:
        if content is None:
            rows = read_rows(
                path,
                pseudonymize=partial(user_key, salt=user_salt),
                max_drop_bytes=max_drop_bytes,
                max_line_bytes=max_line_bytes,
            )
        else:
            rows = content.rows
        register_staged_rows(con, rows)
        con.execute(REDACTION_MACROS)
        con.execute(scrub_macros(scrub))
        limits = {"max_line_bytes": max_line_bytes, "max_text_chars": max_text_chars}
        con.execute(VALIDATE_SQL, limits | pads)
        _register_user_keys(con, user_salt)
        con.execute(_CLASSIFY_SQL)
        params = {"source_file": path.name, "ingested_at": ingested_at}
        con.execute(_INSERT_EVENTS_SQL, params)
        con.execute(_QUARANTINED_ROWS_SQL, pads)
        con.execute(_INSERT_QUARANTINE_SQL, params)
        con.unregister("staged_rows")
        return _row_counts(con)

    return ingest_once(
        con,
        path,
        ledger="raw.ingested_files",
        load=load_events,
        sha256=content.sha256 if content else None,
        ingested_at=ingested_at,
        before_commit=before_commit,
    )


def ingest_once(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    ledger: str,
    load: Callable[[datetime], RowCounts],
    sha256: str | None = None,
    ingested_at: datetime | None = None,
    before_commit: Callable[[], None] | None = None,
) -> FileIngestResult:
    """Ingest ``path`` once, whatever its name: a file whose sha256 (``sha256`` when the caller
    hashed it already) is in the table ``ledger`` is skipped; otherwise the rows
    ``load(ingested_at)`` writes and the file's ledger row commit together or not at all.

    ``before_commit`` runs inside the transaction just before it commits; tests use it to
    prove that a failure at that point leaves nothing of the file behind. ``con`` is a
    warehouse connection (``warehouse.connect`` or the resource's): in UTC, so offsets in
    timestamps are converted to UTC, and with the platform's tables.
    """
    sha256 = drop_sha256(con, path, known=sha256)
    if con.execute(f"select 1 from {ledger} where sha256 = ?", [sha256]).fetchone():
        return FileIngestResult(file_name=path.name, sha256=sha256, already_ingested=True)

    ingested_at = (ingested_at or datetime.now(UTC)).replace(tzinfo=None)
    with transaction(con):
        counts = load(ingested_at)
        result = FileIngestResult(
            file_name=path.name,
            sha256=sha256,
            rows_read=counts.read,
            rows_valid=counts.valid,
            rows_quarantined=sum(counts.reasons.values()),
            rows_duplicate=counts.duplicate,
            reasons=counts.reasons,
            scrubbed=counts.scrubbed,
        )
        _record_scrubbed(con, ledger, result, ingested_at)
        con.execute(
            f"insert into {ledger} values (?, ?, ?, ?, ?, ?, ?)",
            [
                result.file_name,
                result.sha256,
                result.rows_read,
                result.rows_valid,
                result.rows_quarantined,
                result.rows_duplicate,
                ingested_at,
            ],
        )
        if before_commit is not None:
            before_commit()
    return result


def _record_scrubbed(
    con: duckdb.DuckDBPyConnection, ledger: str, result: FileIngestResult, ingested_at: datetime
) -> None:
    """The file's replacement counts, one row per field and kind, beside its ledger row."""
    rows = [
        [result.file_name, result.sha256, field_name, kind, count, ingested_at]
        for field_name, by_kind in result.scrubbed.items()
        for kind, count in by_kind.items()
    ]
    if rows:
        con.executemany(f"insert into {scrub_ledger(ledger)} values (?, ?, ?, ?, ?, ?)", rows)


def _register_user_keys(con: duckdb.DuckDBPyConnection, salt: str) -> None:
    """The key of each distinct user id of the valid rows (quarantined rows are redacted in
    SQL, ``redact_raw_user_ids``)."""
    values = {
        row[0]
        for row in con.execute(
            "select distinct user_id from validated_rows"
            " where reason is null and user_id is not null"
        ).fetchall()
    }
    keys = key_table(values, salt)
    table = pa.table(
        {"raw_value": pa.array(list(keys), pa.string()), "user_key": pa.array(list(keys.values()))}
    )
    con.register("user_key_batch", table)
    con.execute("create or replace temp table user_keys as select * from user_key_batch")
    con.unregister("user_key_batch")


def _event_select() -> str:
    """Every stored event field of ``validated_rows v``, the user id swapped for its key."""
    return ", ".join(
        "k.user_key as user_id" if name == "user_id" else f"v.{name}" for name in EVENT_COLUMNS
    )


def _payload(alias: str) -> str:
    """An event's content as one struct, so two versions of an event compare in one step."""
    return "struct_pack(" + ", ".join(f"{name} := {alias}.{name}" for name in EVENT_COLUMNS) + ")"


_EVENT_SELECT = _event_select()

# Only an event id seen twice in the file, or already stored, can be a duplicate; every other
# valid row is new without further work. Payloads are compared field by field.
_CLASSIFY_SQL = f"""
create or replace temp table classified_rows as
with valid_ids as (
    select line_number, event_id from validated_rows where reason is null
),

repeated_ids as (
    select event_id from valid_ids group by event_id having count(*) > 1
    union
    select event_id from raw.feedback_events
    where event_id in (select event_id from valid_ids)
),

candidates as (
    select v.line_number, {_EVENT_SELECT}
    from validated_rows as v
    join user_keys as k on k.raw_value = v.user_id
    where v.reason is null and v.event_id in (select event_id from repeated_ids)
),

ranked as (
    select
        line_number,
        event_id,
        {_payload("candidates")} as payload,
        first_value({_payload("candidates")}) over (partition by event_id order by line_number)
            as first_payload,
        row_number() over (partition by event_id order by line_number) as occurrence
    from candidates
),

known as (
    select event_id, {_payload("e")} as known_payload
    from raw.feedback_events as e
    where event_id in (select event_id from repeated_ids)
),

final as (
    select
        ranked.line_number,
        case
            when known.event_id is not null
                and known.known_payload is not distinct from ranked.payload
                then 'duplicate'
            when known.event_id is not null then 'duplicate_conflict'
            when occurrence = 1 then 'new'
            when first_payload is not distinct from ranked.payload then 'duplicate'
            else 'duplicate_conflict'
        end as status
    from ranked
    left join known using (event_id)
)

select * from final where status <> 'new'
"""

_INSERT_EVENTS_SQL = f"""
insert into raw.feedback_events by name
select
    {_EVENT_SELECT},
    $source_file as source_file,
    v.line_number,
    $ingested_at as ingested_at
from validated_rows as v
join user_keys as k on k.raw_value = v.user_id
where v.reason is null
    and v.line_number not in (select line_number from classified_rows)

"""

_RAW_TEXT_SCRUBS = scrubs_column({"raw_text": ("raw_text", "scrubbed_text")})

# Every user id in the raw text is replaced by its key (see ``pseudonymize.py``), then the text
# is scrubbed (a user id that looks like an e-mail address is hashed, as in valid rows, before
# the address could become a placeholder); a line too large to store is kept as its first bytes.
_QUARANTINED_ROWS_SQL = f"""
create or replace temp table quarantined_rows as
with rejected as (
    select
        v.line_number,
        case
            when v.reason = 'too_large:line' then left(s.raw_text, {OVERSIZE_PREVIEW_BYTES})
            else s.raw_text
        end as raw_text,
        coalesce(v.reason, c.status) as reason,
        v.event_id
    from validated_rows as v
    left join classified_rows as c using (line_number)
    join staged_rows as s using (row_id)
    where v.reason is not null or c.status = 'duplicate_conflict'
),

redacted as (
    select
        line_number,
        redact_raw_user_ids(raw_text, $ipad, $opad) as raw_text,
        reason,
        event_id
    from rejected
),

scrubbed as (
    select *, scrub_raw_text(raw_text) as scrubbed_text from redacted
),

final as (
    select
        line_number,
        scrubbed_text as raw_text,
        {_RAW_TEXT_SCRUBS} as scrubs,
        reason,
        event_id
    from scrubbed
)

select * from final
"""

_INSERT_QUARANTINE_SQL = """
insert into raw.quarantined_events
select
    $source_file as source_file,
    line_number,
    raw_text,
    reason,
    event_id,
    $ingested_at as ingested_at
from quarantined_rows
order by line_number
"""

# What scrubbing replaced in the rows stored: the new valid events' texts (as inserted by
# ``_INSERT_EVENTS_SQL``) and the quarantined raw texts.
_SCRUB_COUNTS_SQL = counts_sql(
    """(
        select scrubs from validated_rows
        where reason is null and line_number not in (select line_number from classified_rows)
    )""",
    "scrubs",
    FREE_TEXT_FIELDS,
)
_QUARANTINE_SCRUB_COUNTS_SQL = counts_sql("quarantined_rows", "scrubs", ("raw_text",))


def _scrubbed(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """What scrubbing replaced in this file's stored rows, by field and kind."""
    in_events = con.execute(_SCRUB_COUNTS_SQL).fetchone()
    in_quarantine = con.execute(_QUARANTINE_SCRUB_COUNTS_SQL).fetchone()
    return replacements(in_events, FREE_TEXT_FIELDS) | replacements(in_quarantine, ("raw_text",))


def _row_counts(con: duckdb.DuckDBPyConnection) -> RowCounts:
    rows_read, rows_not_rejected, rows_duplicate = con.execute(
        """
        select
            (select count(*) from validated_rows),
            (select count(*) from validated_rows where reason is null),
            (select count(*) from classified_rows where status = 'duplicate')
        """
    ).fetchone()
    reasons = dict(
        con.execute(
            """
            select coalesce(v.reason, c.status) as reason, count(*)
            from validated_rows as v
            left join classified_rows as c using (line_number)
            where v.reason is not null or c.status = 'duplicate_conflict'
            group by all
            order by 2 desc, 1
            """
        ).fetchall()
    )
    return RowCounts(
        read=rows_read,
        valid=rows_not_rejected - rows_duplicate - reasons.get("duplicate_conflict", 0),
        duplicate=rows_duplicate,
        reasons=reasons,
        scrubbed=_scrubbed(con),
    )
