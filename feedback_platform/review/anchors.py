"""Ingest one curated anchor drop (``landing/anchors/*.jsonl``) with the discipline of the other
small drops: one file is one transaction, a file whose sha256 is in
``raw.ingested_anchor_files`` is skipped under any name, and
``rows_valid + rows_quarantined + rows_duplicate = rows_read``.

A line is a human-labeled pair a curator vouches for: ``prompt``, ``chosen``, ``rejected``,
``source`` (where it was taken from, optional) and ``labeled_by`` (the curator's staff id). The
three texts are scrubbed as event texts are (``scrub.py``); the anchor set (dbt,
``models/publication/anchor_set_rows``) holds every curated example and keeps its prompt out of
every training split.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from feedback_platform.ingest.duplicates import checked_row_counts, duplicate_ctes
from feedback_platform.ingest.load import FileIngestResult, RowCounts, ingest_once
from feedback_platform.ingest.readers import (
    OVERSIZE_PREVIEW_BYTES,
    UnsupportedFileError,
    read_rows,
    register_staged_rows,
)
from feedback_platform.ingest.scrub import counts_sql, replacements, scrub_macros, scrubs_column
from feedback_platform.ingest.validate import (
    PARSE_RULES,
    json_field_ctes,
    not_text_rule,
    present,
    reason_case,
)
from feedback_platform.schema import ANCHOR_EXAMPLES_TABLE, ANCHOR_LEDGER
from feedback_platform.settings import DEFAULT_MAX_DROP_BYTES, DEFAULT_MAX_LINE_BYTES, SCRUB_STORE

#: Anchor drops are JSON lines only; anything else in ``landing/anchors/`` is not a drop.
ANCHOR_DROP_SUFFIXES = (".jsonl",)

_FIELDS = ("prompt", "chosen", "rejected", "source", "labeled_by")
_REQUIRED = ("prompt", "chosen", "rejected", "labeled_by")
_TEXTS = ("prompt", "chosen", "rejected")


def _reason_case() -> str:
    return reason_case(
        [
            *PARSE_RULES,
            *((f"not {present(field)}", f"'missing_field:{field}'") for field in _REQUIRED),
            *(not_text_rule(field) for field in _FIELDS),
        ]
    )


# One anchor per prompt: a second line with the same (scrubbed) prompt, in this drop or an
# earlier one, is a duplicate when it says the same, else a conflict (the first one wins), so
# the anchor set never holds two answers to one prompt.
_DUPLICATE_CTES = duplicate_ctes(
    identity=("prompt",),
    content=("chosen", "rejected", "source", "labeled_by"),
    stored_table=ANCHOR_EXAMPLES_TABLE,
    stored_using=("prompt",),
    stored_content=("chosen", "rejected", "source", "labeled_by"),
    name="anchored",
)

_CHECK_SQL = f"""
create or replace temp table checked_anchors as
with {json_field_ctes(_FIELDS)},

scrubbed as (
    select
        *,
        {", ".join(f"scrub_text(v_{text}) as s_{text}" for text in _TEXTS)}
    from unpacked
),

reasoned as (
    select
        line_number,
        raw_text,
{_reason_case()},
        {", ".join(f"s_{text} as {text}" for text in _TEXTS)},
        v_source as source,
        v_labeled_by as labeled_by,
        {scrubs_column({text: (f"v_{text}", f"s_{text}") for text in _TEXTS})} as anchor_scrubs
    from scrubbed
),

{_DUPLICATE_CTES},

-- what a quarantined line keeps: a line too large to store is kept as its first bytes
quarantine_kept as (
    select
        *,
        case
            when reason = 'too_large:line' then left(raw_text, {OVERSIZE_PREVIEW_BYTES})
            when reason is not null then raw_text
        end as kept_text
    from anchored
),

quarantine_scrubbed as (
    select *, scrub_raw_text(kept_text) as quarantined_text from quarantine_kept
),

final as (
    select
        * exclude (kept_text),
        {scrubs_column({"raw_text": ("kept_text", "quarantined_text")})} as quarantine_scrubs
    from quarantine_scrubbed
)

select * from final
"""

_INSERT_ANCHORS_SQL = f"""
insert into {ANCHOR_EXAMPLES_TABLE} by name
select
    prompt,
    chosen,
    rejected,
    source,
    labeled_by,
    $source_file as source_file,
    line_number,
    $ingested_at as ingested_at
from checked_anchors
where reason is null and not duplicate
"""

_INSERT_QUARANTINE_SQL = """
insert into raw.quarantined_anchor_examples by name
select
    $source_file as source_file,
    line_number,
    quarantined_text as raw_text,
    reason,
    $ingested_at as ingested_at
from checked_anchors
where reason is not null
"""

# What scrubbing replaced in the rows stored: new anchors' texts, quarantined raw texts.
_ANCHOR_SCRUB_COUNTS_SQL = counts_sql(
    "(select * from checked_anchors where reason is null and not duplicate)",
    "anchor_scrubs",
    _TEXTS,
)
_QUARANTINE_SCRUB_COUNTS_SQL = counts_sql("checked_anchors", "quarantine_scrubs", ("raw_text",))


def ingest_anchor_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    ingested_at: datetime | None = None,
    before_commit: Callable[[], None] | None = None,
    max_drop_bytes: int = DEFAULT_MAX_DROP_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    scrub: str = SCRUB_STORE,
) -> FileIngestResult:
    """Load the curated anchor drop ``path`` into ``raw.anchor_examples``, all or nothing (see
    ``ingest_once``); with ``scrub`` ``store`` its texts and quarantined raw texts are scrubbed.
    A line over ``max_line_bytes`` is quarantined as ``too_large:line``; a drop over
    ``max_drop_bytes`` raises ``ValueError``."""
    if not path.name.lower().endswith(ANCHOR_DROP_SUFFIXES):
        raise UnsupportedFileError(f"{path.name}: anchor drops are JSON lines (.jsonl)")

    def load_anchors(ingested_at: datetime) -> RowCounts:
        # Only broken CSV records are redacted by the reader; anchors carry no user ids.
        rows = read_rows(
            path,
            pseudonymize=lambda text: text,
            max_drop_bytes=max_drop_bytes,
            max_line_bytes=max_line_bytes,
        )
        register_staged_rows(con, rows)
        con.execute(scrub_macros(scrub))
        con.execute(_CHECK_SQL, {"max_line_bytes": max_line_bytes})
        con.unregister("staged_rows")
        params = {"source_file": path.name, "ingested_at": ingested_at}
        con.execute(_INSERT_ANCHORS_SQL, params)
        con.execute(_INSERT_QUARANTINE_SQL, params)
        return _row_counts(con)

    return ingest_once(
        con,
        path,
        ledger=ANCHOR_LEDGER,
        load=load_anchors,
        ingested_at=ingested_at,
        before_commit=before_commit,
    )


def _row_counts(con: duckdb.DuckDBPyConnection) -> RowCounts:
    scrubbed = replacements(con.execute(_ANCHOR_SCRUB_COUNTS_SQL).fetchone(), _TEXTS) | (
        replacements(con.execute(_QUARANTINE_SCRUB_COUNTS_SQL).fetchone(), ("raw_text",))
    )
    return checked_row_counts(con, "checked_anchors")._replace(scrubbed=scrubbed)
