"""SQL that turns ``staged_rows`` into typed events, each with the first contract breach found.

The whole file is validated in one vectorized DuckDB statement built from ``contract.py``;
there is no per-row Python. The first failing rule names the row's quarantine reason, in the
order a person would fix them: parse, identity, type, time, then type-specific fields. The
public pieces (fields read from JSON, the parse rules, timestamps) validate review labels too.
"""

from __future__ import annotations

from feedback_platform import contract
from feedback_platform.ingest.scrub import scrubs_column

#: An offset is at most 18 hours either way (RFC 3339 allows any two digits; ISO 8601 and every
#: real zone stay within +-18:00).
_OFFSET = r"([Zz]|[+-]((0\d|1[0-7])(:?[0-5]\d)?|18(:?00)?))"
_RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?" + _OFFSET + "$"
_EPOCH_MS = r"^-?\d{1,15}$"
_INTEGER = r"^-?\d{1,18}$"

#: Timestamps outside this window are almost always a unit mistake (seconds sent as ms).
EARLIEST_TIMESTAMP = "2000-01-01"
LATEST_TIMESTAMP = "2100-01-01"

_JSON_FIELDS = (*contract.TEXT_FIELDS, *contract.INTEGER_FIELDS, "occurred_at", "properties")

#: The first rules for a row of any kind of drop: it decodes, parses as JSON and is an object.
PARSE_RULES: tuple[tuple[str, str], ...] = (
    ("reject_reason is not null", "reject_reason"),
    ("doc is null", "'invalid_json'"),
    # ltrim copies the text; the first test spares that for almost every row
    ("not starts_with(doc, '{') and not starts_with(ltrim(doc), '{')", "'not_an_object'"),
)


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(f"'{value}'" for value in values) + "]"


#: What users typed: free text may legitimately be empty (a user can delete a whole answer),
#: ids may not; and only free text is scrubbed of personal data (``scrub.py``).
FREE_TEXT_FIELDS = ("prompt", "output", "edited_text", "comment")


def present(field: str) -> str:
    """``v_<field>`` holds a value: any text for free text, more than white space for the rest."""
    if field in FREE_TEXT_FIELDS:
        return f"(v_{field} is not null)"
    # trim copies the text; a value starting with printable non-space ASCII needs no trim
    return (
        f"(case when v_{field} >= '!' and v_{field} < chr(127) then true"
        f" else nullif(trim(v_{field}), '') is not null end)"
    )


def not_text_rule(field: str) -> tuple[str, str]:
    """A field given as a JSON value other than a string (or null) is ``bad_value:<field>``."""
    return (
        f"t_{field} is not null and t_{field} not in ('VARCHAR', 'NULL')",
        f"'bad_value:{field}'",
    )


def reason_case(rules: list[tuple[str, str]]) -> str:
    """One ``when`` per (condition, reason) rule, first match wins, as the column ``reason``."""
    whens = "\n".join(f"            when {condition} then {reason}" for condition, reason in rules)
    return f"        case\n{whens}\n        end as reason"


def _extract_columns(fields: tuple[str, ...]) -> str:
    paths = _sql_list([f"$.{field}" for field in fields])
    return ",\n".join(
        [
            f"        json_extract_string(doc, {paths}) as vals",
            f"        json_type(doc, {paths}) as types",
        ]
    )


def _unpack_columns(fields: tuple[str, ...]) -> str:
    lines = []
    for index, field in enumerate(fields, start=1):
        lines.append(f"        vals[{index}] as v_{field}, types[{index}] as t_{field}")
    return ",\n".join(lines)


def _types_requiring_each_field() -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for event_type, required in contract.REQUIRED_BY_TYPE.items():
        for field in required:
            fields.setdefault(field, []).append(event_type)
    return fields


def too_large_rules(fields: tuple[str, ...]) -> list[tuple[str, str]]:
    """A text field longer than ``$max_text_chars`` characters is ``too_large:<field>``
    (``strlen``, its bytes, spares counting the characters of almost every value)."""
    return [
        (
            f"strlen(v_{field}) > $max_text_chars and length(v_{field}) > $max_text_chars",
            f"'too_large:{field}'",
        )
        for field in fields
    ]


def _reason_case() -> str:
    rules = list(PARSE_RULES)
    rules.extend(too_large_rules(contract.TEXT_FIELDS))
    for field in contract.COMMON_REQUIRED:
        rules.append((f"not {present(field)}", f"'missing_field:{field}'"))
    rules.append(
        (
            f"v_event_type not in ({', '.join(repr(t) for t in contract.EVENT_TYPES)})",
            "'unknown_event_type'",
        )
    )
    rules.append(
        (
            f"v_schema_version is not null and v_schema_version <> '{contract.SCHEMA_VERSION}'",
            "'unsupported_schema_version'",
        )
    )
    rules.append(("occurred_at is null", "'bad_timestamp'"))
    rules.extend(not_text_rule(field) for field in contract.TEXT_FIELDS)
    for field, event_types in _types_requiring_each_field().items():
        rules.append(
            (
                f"not {present(field)} and v_event_type in ({', '.join(map(repr, event_types))})",
                f"'missing_field:{field}'",
            )
        )
    for field, (low, high) in contract.INTEGER_FIELDS.items():
        value = f"try_cast(trim(v_{field}) as bigint)"
        bounds = [f"not regexp_matches(trim(v_{field}), '{_INTEGER}')"]
        if low is not None:
            bounds.append(f"{value} < {low}")
        if high is not None:
            bounds.append(f"{value} > {high}")
        rules.append((f"{present(field)} and ({' or '.join(bounds)})", f"'bad_value:{field}'"))
    rules.append(
        (
            "t_properties is not null and t_properties <> 'NULL' and properties is null",
            "'bad_value:properties'",
        )
    )
    return reason_case(rules)


def timestamp_candidate(field: str) -> str:
    """``field`` as a UTC timestamp if it is written as one: RFC 3339 with ``Z`` or an offset
    (converted by the session time zone, which must be UTC), or epoch milliseconds as an integer
    or a string of digits. Null otherwise; ``in_timestamp_window`` then bounds it."""
    # At most 15 digits, so the product cannot overflow (a longer integer is far outside the
    # window anyway); ``try`` makes any value DuckDB cannot represent null, never an error.
    return f"""        case
            when t_{field} in ('BIGINT', 'UBIGINT', 'VARCHAR')
                and regexp_matches(trim(v_{field}), '{_EPOCH_MS}')
                then try(make_timestamp(try_cast(trim(v_{field}) as bigint) * 1000))
            when t_{field} = 'VARCHAR' and regexp_matches(trim(v_{field}), '{_RFC3339}')
                then try_cast(trim(v_{field}) as timestamptz)::timestamp
        end"""


def in_timestamp_window(column: str) -> str:
    """``column`` lies from ``EARLIEST_TIMESTAMP`` up to, not including, ``LATEST_TIMESTAMP``."""
    return (
        f"{column} >= timestamp '{EARLIEST_TIMESTAMP}'"
        f" and {column} < timestamp '{LATEST_TIMESTAMP}'"
    )


#: The event columns of ``validated_rows``, the free texts scrubbed (``scrub_text``); beside
#: them ``scrubs``, the replacements made in the row's texts (``scrubs_column``).
#: ``user_id`` here is still the product's id; it is replaced by its key before anything is stored.
EVENT_COLUMNS = contract.FIELDS


def _typed_event_columns() -> str:
    columns = []
    for name in EVENT_COLUMNS:
        if name in contract.INTEGER_FIELDS:
            columns.append(f"try_cast(trim(v_{name}) as bigint) as {name}")
        elif name == "schema_version":
            columns.append(
                f"coalesce(v_schema_version, '{contract.SCHEMA_VERSION}') as schema_version"
            )
        elif name in ("occurred_at", "properties"):
            columns.append(name)
        elif name in FREE_TEXT_FIELDS:
            columns.append(f"s_{name} as {name}")
        else:
            columns.append(f"v_{name} as {name}")
    texts = {name: (f"v_{name}", f"s_{name}") for name in FREE_TEXT_FIELDS}
    columns.append(f"{scrubs_column(texts)} as scrubs")
    return ",\n".join(f"        {column}" for column in columns)


def _scrubbed_columns() -> str:
    return ",\n".join(f"        scrub_text(v_{name}) as s_{name}" for name in FREE_TEXT_FIELDS)


def json_field_ctes(fields: tuple[str, ...]) -> str:
    """The CTEs ``sized``, ``parsed``, ``extracted`` and ``unpacked`` over ``staged_rows``: a row
    longer than ``$max_line_bytes`` is rejected as ``too_large:line`` unparsed, each other row's
    text is ``doc`` when it is valid JSON, and per field its text ``v_<field>`` and JSON type
    ``t_<field>``, all fields read in one call per row."""
    return f"""sized as (
    select
        row_id,
        line_number,
        raw_text,
        case
            when reject_reason is null and strlen(raw_text) > $max_line_bytes
                then 'too_large:line'
            else reject_reason
        end as reject_reason
    from staged_rows
),

parsed as (
    select
        *,
        -- json_valid is a fast scan; extracting from the text below parses it once per call.
        case when reject_reason is null and json_valid(raw_text) then raw_text end as doc
    from sized
),

extracted as (
    select
        *,
{_extract_columns(fields)}
    from parsed
),

unpacked as (
    select
        * exclude (vals, types),
{_unpack_columns(fields)}
    from extracted
)"""


VALIDATE_SQL = f"""
create or replace temp table validated_rows as
with {json_field_ctes(_JSON_FIELDS)},

typed as (
    select
        *,
{timestamp_candidate("occurred_at")} as occurred_at_candidate,
        case
            when t_properties = 'OBJECT' then json_extract(doc, '$.properties')
            when t_properties = 'VARCHAR' then try(json(v_properties))
        end as properties_candidate
    from unpacked
),

checked as (
    select
        * exclude (occurred_at_candidate, properties_candidate),
        case when {in_timestamp_window("occurred_at_candidate")} then occurred_at_candidate end
            as occurred_at,
        case
            when json_type(properties_candidate) <> 'OBJECT' then null
            -- a user id inside properties is replaced by its key; one that cannot be located
            -- (nested too deep) makes the properties unusable: bad_value:properties
            when has_user_id_key(properties_candidate)
                then try(json(redact_properties(properties_candidate, $ipad, $opad)))
            else properties_candidate
        end as properties
    from typed
),

reasoned as (
    select
        *,
{_reason_case()}
    from checked
),

scrubbed as (
    select
        *,
{_scrubbed_columns()}
    from reasoned
),

final as (
    select
        row_id,
        line_number,
        reason,
{_typed_event_columns()}
    from scrubbed
)

select * from final
"""
