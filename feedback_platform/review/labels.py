"""Ingest one review label drop (a batch of labels, JSONL) with the discipline of event drops.

One file is one transaction: labels, quarantined rows and the file's row in
``raw.ingested_review_files`` land together or not at all, a file whose sha256 is in that ledger
is skipped under any name, and ``rows_valid + rows_quarantined + rows_duplicate = rows_read``.
A label must be about an item the review loop queued (``review.review_items``). Reviewer ids
are staff ids, stored as given.
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
    in_timestamp_window,
    json_field_ctes,
    not_text_rule,
    present,
    reason_case,
    timestamp_candidate,
)
from feedback_platform.schema import REVIEW_LEDGER
from feedback_platform.settings import DEFAULT_MAX_DROP_BYTES, DEFAULT_MAX_LINE_BYTES, SCRUB_STORE

#: What a reviewer answers about an item: response ``a`` is better (or, alone, acceptable),
#: response ``b`` is better, both are equally good (``tie``), or ``neither`` is acceptable
#: (``corrected_text`` then carries a good answer).
REVIEW_LABELS = ("a", "b", "tie", "neither")

#: Review drops are JSON lines only; anything else in ``landing/reviews/`` is not a drop.
REVIEW_DROP_SUFFIXES = (".jsonl",)

_FIELDS = ("item_id", "reviewer_id", "label", "corrected_text", "labeled_at")
_REQUIRED = ("item_id", "reviewer_id", "label", "labeled_at")
_TEXT_FIELDS = ("item_id", "reviewer_id", "label", "corrected_text")


def _reason_case() -> str:
    labels = ", ".join(f"'{label}'" for label in REVIEW_LABELS)
    return reason_case(
        [
            *PARSE_RULES,
            *((f"not {present(field)}", f"'missing_field:{field}'") for field in _REQUIRED),
            *(not_text_rule(field) for field in _TEXT_FIELDS),
            (f"v_label not in ({labels})", "'bad_value:label'"),
            (f"labeled_at is null or not ({in_timestamp_window('labeled_at')})", "'bad_timestamp'"),
            ("not known_item", "'unknown_item'"),
        ]
    )


# A reviewer labels an item once per batch: a second line for the same item and reviewer is an
# exact duplicate when it says the same, else a conflict (the first line wins). Across batches a
# label is identified by item, reviewer and labeled_at, so a later batch may label again. The
# corrected text is compared as stored, scrubbed; a quarantined line's raw text is scrubbed too.
_DUPLICATE_CTES = duplicate_ctes(
    identity=("item_id", "reviewer_id"),
    content=("label", "corrected_text", "labeled_at"),
    stored_table="raw.review_labels",
    stored_using=("item_id", "reviewer_id", "labeled_at"),
    stored_content=("label", "corrected_text"),
    name="labelled",
)

_CHECK_SQL = f"""
create or replace temp table checked_labels as
with {json_field_ctes(_FIELDS)},

typed as (
    select
        *,
{timestamp_candidate("labeled_at")} as labeled_at,
        v_item_id in (select item_id from review.review_items) as known_item,
        scrub_text(v_corrected_text) as s_corrected_text
    from unpacked
),

reasoned as (
    select
        line_number,
        raw_text,
{_reason_case()},
        v_item_id as item_id,
        v_reviewer_id as reviewer_id,
        v_label as label,
        s_corrected_text as corrected_text,
        {scrubs_column({"corrected_text": ("v_corrected_text", "s_corrected_text")})}
            as label_scrubs,
        labeled_at
    from typed
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
    from labelled
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

_INSERT_LABELS_SQL = """
insert into raw.review_labels by name
select
    item_id,
    reviewer_id,
    label,
    corrected_text,
    labeled_at,
    $source_file as source_file,
    line_number,
    $ingested_at as ingested_at
from checked_labels
where reason is null and not duplicate
"""

_INSERT_QUARANTINE_SQL = """
insert into raw.quarantined_review_labels by name
select
    $source_file as source_file,
    line_number,
    quarantined_text as raw_text,
    reason,
    item_id,
    $ingested_at as ingested_at
from checked_labels
where reason is not null
"""


# What scrubbing replaced in the rows stored: new labels' corrected texts, quarantined raw texts.
_LABEL_SCRUB_COUNTS_SQL = counts_sql(
    "(select * from checked_labels where reason is null and not duplicate)",
    "label_scrubs",
    ("corrected_text",),
)
_QUARANTINE_SCRUB_COUNTS_SQL = counts_sql("checked_labels", "quarantine_scrubs", ("raw_text",))


def ingest_review_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    ingested_at: datetime | None = None,
    before_commit: Callable[[], None] | None = None,
    max_drop_bytes: int = DEFAULT_MAX_DROP_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    scrub: str = SCRUB_STORE,
) -> FileIngestResult:
    """Load the label drop ``path`` into the raw review tables, all or nothing; with ``scrub``
    ``store`` the corrected texts and quarantined raw texts are scrubbed (``scrub.py``).

    ``before_commit`` runs inside the transaction just before it commits (see ``ingest_once``).
    A line over ``max_line_bytes`` is quarantined as ``too_large:line``; a drop over
    ``max_drop_bytes`` raises ``ValueError``.
    """
    if not path.name.lower().endswith(REVIEW_DROP_SUFFIXES):
        raise UnsupportedFileError(f"{path.name}: review drops are JSON lines (.jsonl)")

    def load_labels(ingested_at: datetime) -> RowCounts:
        # Only broken CSV records are redacted by the reader; labels carry no user ids.
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
        con.execute(_INSERT_LABELS_SQL, params)
        con.execute(_INSERT_QUARANTINE_SQL, params)
        return _row_counts(con)

    return ingest_once(
        con,
        path,
        ledger=REVIEW_LEDGER,
        load=load_labels,
        ingested_at=ingested_at,
        before_commit=before_commit,
    )


def _row_counts(con: duckdb.DuckDBPyConnection) -> RowCounts:
    scrubbed = replacements(
        con.execute(_LABEL_SCRUB_COUNTS_SQL).fetchone(), ("corrected_text",)
    ) | replacements(con.execute(_QUARANTINE_SCRUB_COUNTS_SQL).fetchone(), ("raw_text",))
    return checked_row_counts(con, "checked_labels")._replace(scrubbed=scrubbed)
