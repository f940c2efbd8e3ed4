"""The event contract, schema version 1 (see DESIGN.md), as data the ingestion SQL is built from.

The event types are not listed here: they are the rows of the dbt seed
``dbt_project/seeds/event_types.csv`` (the taxonomy: each type's signal class, polarity, flags and
required fields), read once at import. Validation (the types and the fields each requires) and
every dbt model read that one table, so a new event type is a new row there (see "Add a signal"
in the README). The common fields, the typed fields and the reason codes are below.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

SCHEMA_VERSION = "1"

#: The dbt project whose seed is the taxonomy: this repository's, unless
#: ``FEEDBACK_PLATFORM_DBT_PROJECT_DIR`` names another (a modified copy, as a test does).
#: feedback_platform.dbt_project builds the dbt assets from the same folder.
DBT_PROJECT_DIR = Path(
    os.environ.get("FEEDBACK_PLATFORM_DBT_PROJECT_DIR")
    or Path(__file__).resolve().parent.parent / "dbt_project"
).resolve()

#: The taxonomy seed.
EVENT_TYPES_SEED = DBT_PROJECT_DIR / "seeds" / "event_types.csv"

COMMON_REQUIRED = ("event_id", "event_type", "occurred_at", "user_id")

#: Fields every event may carry besides the required ones.
COMMON_OPTIONAL = ("session_id", "user_segment", "app", "locale", "schema_version", "properties")


def read_event_types(path: Path = EVENT_TYPES_SEED) -> list[dict[str, str]]:
    """The rows of the taxonomy seed, in file order, as text (the seed's own columns)."""
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


#: event_type -> fields it requires besides the common ones (the seed's ``required_fields``, in
#: its order, which is the order validation checks them in), for every type of the seed.
REQUIRED_BY_TYPE: dict[str, tuple[str, ...]] = {
    row["event_type"]: tuple((row["required_fields"] or "").split()) for row in read_event_types()
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
