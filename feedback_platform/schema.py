"""The tables the platform's Python writes, in one place, and ``ensure_schema`` that creates them.

dbt owns its own schemas (staging, intermediate, marts, and reports: the weekly report's
tables); everything here is written by the platform itself: the raw tables and ledgers
ingestion fills, the review loop's tables and the training schema. ``ensure_schema`` runs once
per connection, when the warehouse is opened for writing (``warehouse.py``); every statement is
``if not exists``, so existing warehouses keep their tables and rows.
"""

from __future__ import annotations

import duckdb

EVENTS_LEDGER = "raw.ingested_files"
REVIEW_LEDGER = "raw.ingested_review_files"
PRIVACY_LEDGER = "raw.ingested_privacy_files"
PRIVACY_REQUESTS_TABLE = "raw.privacy_requests"
ANCHOR_LEDGER = "raw.ingested_anchor_files"
ANCHOR_EXAMPLES_TABLE = "raw.anchor_examples"

AGREEMENT_TABLE = "review.agreement"

RAW_SCHEMA_DDL = """
create schema if not exists raw;

create table if not exists raw.feedback_events (
    event_id varchar not null,
    event_type varchar not null,
    occurred_at timestamp not null,  -- UTC
    user_id varchar not null,        -- HMAC-SHA256 of the product's user id, never the raw id
    session_id varchar,
    user_segment varchar,
    app varchar,
    locale varchar,
    schema_version varchar not null,
    generation_id varchar,
    parent_generation_id varchar,
    other_generation_id varchar,
    model_version varchar,
    prompt varchar,
    output varchar,
    edited_text varchar,
    comment varchar,
    rating integer,
    dwell_ms bigint,
    properties json,
    source_file varchar not null,
    line_number bigint not null,
    ingested_at timestamp not null
);

create table if not exists raw.quarantined_events (
    source_file varchar not null,
    line_number bigint not null,
    raw_text varchar,
    reason varchar not null,
    event_id varchar,
    ingested_at timestamp not null
);
"""


def ledger_ddl(table: str) -> str:
    """A ledger of ingested files: one row per file, its sha256 and what its rows became."""
    return f"""
create table if not exists {table} (
    file_name varchar not null,
    sha256 varchar not null,
    rows_read bigint not null,
    rows_valid bigint not null,
    rows_quarantined bigint not null,
    rows_duplicate bigint not null,
    ingested_at timestamp not null
);
"""


def scrub_ledger(ledger: str) -> str:
    """The table beside ``ledger`` that counts, per file, what scrubbing replaced."""
    return f"{ledger}_scrubbed"


def scrub_ledger_ddl(ledger: str) -> str:
    """How many values of each kind of personal data (``ingest/scrub.py``) scrubbing replaced in
    each field of a file's stored rows (``raw_text``: its quarantined rows), keyed like the
    ledger; a file, field or kind with none has no row. Never the matched text."""
    return f"""
create table if not exists {scrub_ledger(ledger)} (
    file_name varchar not null,
    sha256 varchar not null,
    field varchar not null,           -- prompt | output | edited_text | comment | corrected_text
                                      -- | raw_text
    kind varchar not null,            -- secret | email | iban | card | ip | phone
    replacements bigint not null,
    ingested_at timestamp not null,
    primary key (sha256, field, kind)
);
"""


#: The sha256 of each drop by folder, name, size, modification time, inode and inode change
#: time, so an ingested file that stays in the landing folder is recognised without being read
#: again: re-hashing months of drops costs more than ingesting a new one (27 files, 4 GB: ~6 s a
#: run at 10M events). The change time cannot be set back, so a rewrite that restores size and
#: mtime is still a new key.
DROP_SHA256_DDL = """
create table if not exists raw.drop_sha256 (
    drop_key varchar primary key,  -- <folder>/<name>:<size>:<mtime_ns>:<inode>:<ctime_ns>
    sha256 varchar not null
);
"""

REVIEW_LABELS_DDL = """
create schema if not exists raw;

create table if not exists raw.review_labels (
    item_id varchar not null,
    reviewer_id varchar not null,     -- a staff id, as given
    label varchar not null,           -- a | b | tie | neither
    corrected_text varchar,
    labeled_at timestamp not null,    -- UTC
    source_file varchar not null,     -- the review batch
    line_number bigint not null,
    ingested_at timestamp not null
);

create table if not exists raw.quarantined_review_labels (
    source_file varchar not null,
    line_number bigint not null,
    raw_text varchar,
    reason varchar not null,
    item_id varchar,
    ingested_at timestamp not null
);
"""

#: Every item ever queued is kept here (its texts never change, as its id is a hash of what it
#: is about), so a label returned long after the item left the open queue can still be checked
#: and used.
REVIEW_ITEMS_DDL = """
create schema if not exists review;

create table if not exists review.review_items (
    item_id varchar primary key,
    reason varchar not null,          -- high_retry | low_confidence_pair | conflicting_signals
                                      -- | negative_with_comment
    priority integer not null,        -- higher first
    user_segment varchar not null,    -- 'unknown' when the events did not say
    model_version varchar,
    prompt varchar,
    response_a varchar,               -- the model output under review
    response_b varchar,               -- the alternative (user's text, replacement), if any
    user_comment varchar,
    generation_ids varchar[] not null,
    source_event_ids varchar[] not null,
    occurred_at timestamp not null,   -- when the signal that raised the item happened
    first_queued_at timestamp not null
);
"""

#: The known answer of every gold item ever queued (``review/gated/gold_items``), kept by the
#: ``review_queue`` asset beside the item itself in ``review.review_items``, so a label returned
#: after the anchor left the anchor set is still checked against it. No text, no user.
GOLD_ANSWERS_TABLE = "review.gold_answers"
GOLD_ANSWERS_DDL = f"""
create schema if not exists review;

create table if not exists {GOLD_ANSWERS_TABLE} (
    item_id varchar primary key,      -- the item in review.review_items
    answer varchar not null,          -- a | b: the side the anchor's person chose
    anchor_id varchar not null,       -- the anchor (publication.anchor_set_rows) it shows
    first_queued_at timestamp not null
);
"""

#: Replaced whole (``create or replace``) by each agreement run, inside its transaction, so
#: not part of ``ensure_schema``; every job that samples the queue runs that asset first.
AGREEMENT_DDL = f"""
create or replace table {AGREEMENT_TABLE} (
    batch varchar not null,           -- the review drop the labels came in
    reason varchar not null,          -- 'all', or one review reason
    items integer not null,           -- items labeled in the batch
    items_with_two_or_more integer not null,
    labels integer not null,
    reviewers integer not null,
    alpha double,                     -- null when no item has two labels
    is_usable boolean not null        -- the batch's overall alpha is at or above the threshold
)
"""

#: Privacy requests keep no user id. ``user_key`` (the HMAC the events store) is kept until the
#: request is carried out, since finding the user's rows in raw text needs it, and then cleared
#: for an erasure; ``subject_hash`` (``sha256`` of the key) stays, so the record of an erasure
#: does not name the erased user yet recognises their late events (privacy/requests.py). What was
#: done is written back to the request: ``completed_at`` and ``outcome`` (counts of rows and
#: files removed or rewritten, never their content), null while the request waits.
PRIVACY_DDL = f"""
create schema if not exists raw;

create table if not exists {PRIVACY_REQUESTS_TABLE} (
    request_id varchar primary key,
    user_key varchar,                 -- the HMAC the events store; null once an erasure is done
    subject_hash varchar not null,    -- sha256 of the user key
    kind varchar not null,            -- erase | opt_out_training | opt_in_training
    requested_at timestamp not null,  -- UTC
    source_file varchar not null,
    line_number bigint not null,
    ingested_at timestamp not null,
    completed_at timestamp,
    outcome json
);

create table if not exists raw.quarantined_privacy_requests (
    source_file varchar not null,
    line_number bigint not null,
    raw_text varchar,                 -- user ids replaced by their keys, as in events
    reason varchar not null,
    request_id varchar,
    ingested_at timestamp not null
);
"""

#: Curated anchor examples (``landing/anchors/*.jsonl``): human-labeled pairs a curator vouches
#: for, held out of every training split as part of the anchor set (models/publication). Their
#: texts are scrubbed like event texts; ``labeled_by`` is a staff id, as given.
ANCHORS_DDL = f"""
create schema if not exists raw;

create table if not exists {ANCHOR_EXAMPLES_TABLE} (
    prompt varchar not null,
    chosen varchar not null,
    rejected varchar not null,
    source varchar,                   -- where the curator took the example from, as given
    labeled_by varchar not null,      -- the curator's staff id
    source_file varchar not null,
    line_number bigint not null,
    ingested_at timestamp not null
);

create table if not exists raw.quarantined_anchor_examples (
    source_file varchar not null,
    line_number bigint not null,
    raw_text varchar,                 -- scrubbed as an event's
    reason varchar not null,
    ingested_at timestamp not null
);
"""

#: The training tables are built whole (``create or replace ... as``) by their assets.
TRAINING_SCHEMA_DDL = "create schema if not exists training;"

SCHEMA_DDL = "\n".join(
    [
        RAW_SCHEMA_DDL,
        ledger_ddl(EVENTS_LEDGER),
        scrub_ledger_ddl(EVENTS_LEDGER),
        DROP_SHA256_DDL,
        REVIEW_ITEMS_DDL,
        GOLD_ANSWERS_DDL,
        REVIEW_LABELS_DDL,
        ledger_ddl(REVIEW_LEDGER),
        scrub_ledger_ddl(REVIEW_LEDGER),
        PRIVACY_DDL,
        ledger_ddl(PRIVACY_LEDGER),
        ANCHORS_DDL,
        ledger_ddl(ANCHOR_LEDGER),
        scrub_ledger_ddl(ANCHOR_LEDGER),
        TRAINING_SCHEMA_DDL,
    ]
)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table the platform's Python writes that does not exist yet."""
    con.execute(SCHEMA_DDL)
