"""The event contract, schema version 1 (see DESIGN.md), as data the ingestion SQL is built from.

Keeping the contract in one table-like module means a new event type or field is a one-line
change here, and validation, typing and documentation cannot drift apart.
"""

from __future__ import annotations

SCHEMA_VERSION = "1"

COMMON_REQUIRED = ("event_id", "event_type", "occurred_at", "user_id")

#: Fields every event may carry besides the required ones.
COMMON_OPTIONAL = ("session_id", "user_segment", "app", "locale", "schema_version", "properties")

#: event_type -> fields it requires besides the common ones.
REQUIRED_BY_TYPE: dict[str, tuple[str, ...]] = {
    "generation": ("generation_id", "model_version", "prompt", "output"),
    "regenerate": ("generation_id",),
    "edit": ("generation_id", "edited_text"),
    "correction": ("generation_id", "edited_text"),
    "thumbs_up": ("generation_id",),
    "thumbs_down": ("generation_id",),
    "rating": ("generation_id", "rating"),
    "comment": ("generation_id", "comment"),
    "copy": ("generation_id",),
    "share": ("generation_id",),
    "view": ("generation_id", "dwell_ms"),
    "prefer": ("generation_id", "other_generation_id"),
    "task_complete": (),
}

EVENT_TYPES = tuple(REQUIRED_BY_TYPE)

#: Text fields, in the column order of raw.feedback_events.
TEXT_FIELDS = (
    "event_id",
    "event_type",
    "user_id",
    "session_id",
    "user_segment",
    "app",
    "locale",
    "schema_version",
    "generation_id",
    "parent_generation_id",
    "other_generation_id",
    "model_version",
    "prompt",
    "output",
    "edited_text",
    "comment",
)

#: Integer fields and the closed range each must fall in (None = unbounded).
INTEGER_FIELDS: dict[str, tuple[int | None, int | None]] = {
    "rating": (1, 5),
    "dwell_ms": (0, None),
}

#: Every field of the contract, in the column order a flat (CSV or Parquet) drop uses.
FIELDS = (
    *TEXT_FIELDS[:2],
    "occurred_at",
    *TEXT_FIELDS[2:],
    *INTEGER_FIELDS,
    "properties",
)

#: Reason codes a quarantined row can carry (``missing_field:`` / ``bad_value:`` take a name).
REASON_CODES = (
    "invalid_json",
    "invalid_encoding",
    "invalid_csv",
    "not_an_object",
    "missing_field:<name>",
    "unknown_event_type",
    "unsupported_schema_version",
    "bad_timestamp",
    "bad_value:<name>",
    "duplicate_conflict",
)
