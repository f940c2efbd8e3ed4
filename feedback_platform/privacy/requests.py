"""Ingest one privacy request drop (``landing/privacy/*.jsonl``) with the discipline of event
drops: one file is one transaction, a file whose sha256 is in ``raw.ingested_privacy_files``
is skipped under any name, and ``rows_valid + rows_quarantined + rows_duplicate = rows_read``.

A request names the product's raw user id. It is never stored: the request keeps the user key
(the HMAC the events store) until it is carried out, and the *subject hash*,
``sha256(user key)``, for good. The hash recognises the user's events arriving late and is not
the key itself, so once a user is erased and the key cleared, no file of the platform holds
their key, not even the record of the request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from feedback_platform.ingest.duplicates import checked_row_counts, duplicate_ctes
from feedback_platform.ingest.load import FileIngestResult, RowCounts, ingest_once
from feedback_platform.ingest.pseudonymize import REDACTION_MACROS, hmac_pads
from feedback_platform.ingest.readers import (
    OVERSIZE_PREVIEW_BYTES,
    UnsupportedFileError,
    read_rows,
    register_staged_rows,
)
from feedback_platform.ingest.scrub import scrub_macros
from feedback_platform.ingest.validate import (
    PARSE_RULES,
    in_timestamp_window,
    json_field_ctes,
    not_text_rule,
    present,
    reason_case,
    timestamp_candidate,
)
from feedback_platform.schema import PRIVACY_LEDGER, PRIVACY_REQUESTS_TABLE
from feedback_platform.settings import DEFAULT_MAX_DROP_BYTES, DEFAULT_MAX_LINE_BYTES, SCRUB_STORE

#: What a user may ask: to be erased everywhere, to keep their feedback out of training data
#: (review queue, datasets, contributor impact; analytics keep it), or to let it back in.
REQUEST_KINDS = ("erase", "opt_out_training", "opt_in_training")

#: Privacy drops are JSON lines only; anything else in ``landing/privacy/`` is not a drop.
PRIVACY_DROP_SUFFIXES = (".jsonl",)

_FIELDS = ("request_id", "user_id", "kind", "requested_at")
_TEXT_FIELDS = ("request_id", "user_id", "kind")


def _reason_case() -> str:
    kinds = ", ".join(f"'{kind}'" for kind in REQUEST_KINDS)
    return reason_case(
        [
            *PARSE_RULES,
            *((f"not {present(field)}", f"'missing_field:{field}'") for field in _FIELDS),
            *(not_text_rule(field) for field in _TEXT_FIELDS),
            (f"v_kind not in ({kinds})", "'bad_value:kind'"),
            (
                f"requested_at is null or not ({in_timestamp_window('requested_at')})",
                "'bad_timestamp'",
            ),
        ]
    )


# A request id names one request: a second line (in this drop or an earlier one) with the same
# id is an exact duplicate when it asks the same of the same user, else a conflict (the first
# one wins). The raw id is hashed here, in the statement that reads it, and goes no further.
_DUPLICATE_CTES = duplicate_ctes(
    identity=("request_id",),
    content=("subject_hash", "kind", "requested_at"),
    stored_table=PRIVACY_REQUESTS_TABLE,
    stored_using=("request_id",),
    stored_content=("subject_hash", "kind", "requested_at"),
)

_CHECK_SQL = f"""
create or replace temp table checked_requests as
with {json_field_ctes(_FIELDS)},

typed as (
    select
        *,
{timestamp_candidate("requested_at")} as requested_at
    from unpacked
),

reasoned as (
    select
        line_number,
        raw_text,
{_reason_case()},
        v_request_id as request_id,
        user_key_sql(v_user_id, $ipad, $opad) as user_key,
        sha256(user_key_sql(v_user_id, $ipad, $opad)) as subject_hash,
        v_kind as kind,
        requested_at
    from typed
),

{_DUPLICATE_CTES}
select * from final
"""

_INSERT_REQUESTS_SQL = f"""
insert into {PRIVACY_REQUESTS_TABLE} by name
select
    request_id,
    user_key,
    subject_hash,
    kind,
    requested_at,
    $source_file as source_file,
    line_number,
    $ingested_at as ingested_at
from checked_requests
where reason is null and not duplicate
"""

_INSERT_QUARANTINE_SQL = f"""
insert into raw.quarantined_privacy_requests by name
select
    $source_file as source_file,
    line_number,
    scrub_raw_text(
        redact_raw_user_ids(
            case
                when reason = 'too_large:line' then left(raw_text, {OVERSIZE_PREVIEW_BYTES})
                else raw_text
            end,
            $ipad,
            $opad
        )
    ) as raw_text,
    reason,
    request_id,
    $ingested_at as ingested_at
from checked_requests
where reason is not null
"""


def ingest_privacy_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    user_salt: str,
    ingested_at: datetime | None = None,
    before_commit: Callable[[], None] | None = None,
    max_drop_bytes: int = DEFAULT_MAX_DROP_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    scrub: str = SCRUB_STORE,
) -> FileIngestResult:
    """Record the requests of the drop ``path`` in ``raw.privacy_requests``, all or nothing
    (see ``ingest_once``); a quarantined line's raw text has its user ids replaced by their
    keys and, with ``scrub`` ``store``, personal data by placeholders (``scrub.py``). A line over
    ``max_line_bytes`` is quarantined as ``too_large:line``; a drop over ``max_drop_bytes``
    raises ``ValueError``."""
    if not path.name.lower().endswith(PRIVACY_DROP_SUFFIXES):
        raise UnsupportedFileError(f"{path.name}: privacy drops are JSON lines (.jsonl)")
    pads = hmac_pads(user_salt)

    def load_requests(ingested_at: datetime) -> RowCounts:
        # Only broken CSV records are redacted by the reader, and privacy drops are JSON lines.
        rows = read_rows(
            path,
            pseudonymize=lambda text: text,
            max_drop_bytes=max_drop_bytes,
            max_line_bytes=max_line_bytes,
        )
        register_staged_rows(con, rows)
        con.execute(REDACTION_MACROS)
        con.execute(scrub_macros(scrub))
        con.execute(_CHECK_SQL, {"max_line_bytes": max_line_bytes} | pads)
        con.unregister("staged_rows")
        params = {"source_file": path.name, "ingested_at": ingested_at}
        con.execute(_INSERT_REQUESTS_SQL, params)
        con.execute(_INSERT_QUARANTINE_SQL, params | pads)
        return checked_row_counts(con, "checked_requests")

    return ingest_once(
        con,
        path,
        ledger=PRIVACY_LEDGER,
        load=load_requests,
        ingested_at=ingested_at,
        before_commit=before_commit,
    )
