"""Keyed hashing of user ids: the platform stores ``HMAC-SHA256(salt, user_id)``, never the id.

Valid rows: hashing happens once per *distinct* id in a drop (users are far fewer than events),
so a vetted Python HMAC is both correct and cheap. Raw text (quarantined rows) and ``properties``
are redacted in SQL: every ``"user_id": <value>`` in the text, whatever the value's JSON type
and however the key is spelled (``\\u`` escapes, case), is replaced by the key of its value;
the same HMAC, computed from the salt's padded keys with DuckDB's ``sha256`` (see
``hmac_pads``), so a quarantined row and a valid one name a user alike.

Raw text in which a user-id-looking key remains that could not be replaced (a value nested too
deep, an unterminated object, JSON inside a string, ``user_id=...`` text) is cut at the first
such key: the stored text ends in ``[redacted]``. So "nothing is lost" never means "the raw id
is kept".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

#: One character of the key as written: itself, its other case, or a JSON ``\\u00XX`` escape.
_KEY_CHARS = {
    "u": r"(?:[uU]|\\u00[57]5)",
    "s": r"(?:[sS]|\\u00[57]3)",
    "e": r"(?:[eE]|\\u00[46]5)",
    "r": r"(?:[rR]|\\u00[57]2)",
    "i": r"(?:[iI]|\\u00[46]9)",
    "d": r"(?:[dD]|\\u00[46]4)",
}
_SEPARATOR = r"(?:_|-|\\u005[fF]|\\u002[dD])"


def _spelled(separator: str) -> str:
    c = _KEY_CHARS
    return f"{c['u']}{c['s']}{c['e']}{c['r']}{separator}{c['i']}{c['d']}"


#: ``user_id`` however a JSON writer may spell the key (``user_id``, ``userId``, ``USER-ID``,
#: ``user\\u005fid``); no regular-expression flags, so it embeds in any pattern.
USER_ID_KEY = _spelled(_SEPARATOR + "?")

_STRING = r'"(?:[^"\\]|\\.)*"'


def _nested(depth: int) -> str:
    """The inside of a JSON array or object whose brackets nest ``depth`` levels more."""
    parts = [_STRING, r'[^"\[\]{}]']
    if depth > 0:
        inner = _nested(depth - 1)
        parts += [rf"\[{inner}\]", rf"\{{{inner}\}}"]
    return "(?:" + "|".join(parts) + ")*"


#: An array or object value up to this many nested levels inside it is replaced whole; a deeper
#: one is not located (the text is cut there).
MAX_NESTING = 3
_BRACKETED = rf"\[{_nested(MAX_NESTING)}\]|\{{{_nested(MAX_NESTING)}\}}"

#: A user id in (possibly broken) JSON text. Group 1 is the key as written; the value is one of:
#: 2 a string's content as written (JSON-escaped; the closing quote may be missing, as in a
#: truncated line), 3 a number, 4 an array or object, 5 ``true``, ``false`` or ``null``.
USER_ID_IN_TEXT = (
    rf'(?s)("{USER_ID_KEY}")\s*:\s*(?:"((?:[^"\\]|\\.)*)"?|(-?[0-9][0-9.eE+-]*)'
    rf"|({_BRACKETED})|(true|false|null))"
)

#: A user id in JSON held inside a JSON string (``"{\"user_id\": \"x\"}"``): replaced by a marker.
USER_ID_IN_STRING = (
    rf'\\"{USER_ID_KEY}\\"\s*:\s*(?:\\"(?:[^"\\]|\\[^"])*\\"|-?[0-9][0-9.eE+-]*|true|false)'
)
STRING_MARKER = r"\"user_id\":\"[redacted]\""

#: What the redaction writes: a key, a colon and the value's key (or null), or the marker.
_REPLACED = rf'(?:"{USER_ID_KEY}":(?:"[0-9a-f]{{64}}"|null)|{re.escape(STRING_MARKER)})'

#: A user-id key in JSON as DuckDB writes it (a quote inside a string is always escaped).
_KEY_IN_JSON = rf'"{USER_ID_KEY}"\s*:'

#: Anything that looks like a user-id key: the key (its separator optional, or a space), then
#: quotes or spaces, then ``:`` or ``=``.
USER_ID_LIKE = _spelled(rf"(?:{_SEPARATOR}|\s)?") + r"""[\\"'\s]*[:=]"""

#: Stored in place of the text from the first user-id-looking key that could not be replaced.
CUT_MARKER = "[redacted]"


def user_key(user_id: str, salt: str) -> str:
    return hmac.new(salt.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def hmac_pads(salt: str) -> dict[str, bytes]:
    """The inner and outer padded keys of ``HMAC-SHA256(salt, ·)`` (RFC 2104), as the SQL
    parameters ``$ipad`` and ``$opad`` of the macros below."""
    key = salt.encode()
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return {
        "ipad": bytes(byte ^ 0x36 for byte in key),
        "opad": bytes(byte ^ 0x5C for byte in key),
    }


def json_unescape(text: str) -> str:
    """The value a JSON string literal's content stands for (as written if it is malformed)."""
    try:
        return json.loads(f'"{text}"')
    except json.JSONDecodeError:
        return text


def key_table(values: set[str], salt: str) -> dict[str, str]:
    """Map each id value to its key."""
    return {value: user_key(value, salt) for value in values}


def looks_like_user_id(text: str) -> bool:
    """True when ``text`` holds something that looks like a user-id key (Python side, for the
    cells of CSV records kept as text)."""
    return _USER_ID_LIKE.search(text) is not None


_USER_ID_LIKE = re.compile(USER_ID_LIKE)


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


#: DuckDB macros (``create temp macro``) for the redaction, each taking the pads of the salt:
#: ``user_key_sql(value, ipad, opad)`` is ``user_key``; ``redact_json_user_ids(text, ...)``
#: replaces every user id in JSON text (all occurrences, each by its own key);
#: ``redact_raw_user_ids(text, ...)`` also replaces those inside strings and cuts the text at a
#: user-id-looking key that remains; ``redact_properties(json, ...)`` is the same for the
#: ``properties`` of a valid row, null where an id remains; ``has_user_id_key(text)`` is a cheap
#: test for any of them.
REDACTION_MACROS = f"""
create or replace temp macro user_key_sql(value, ipad, opad) as
    sha256(opad || unhex(sha256(ipad || encode(value))));

create or replace temp macro _json_unescape(text) as
    case when json_valid('"' || text || '"') then json_extract_string('"' || text || '"', '$')
    else text end;

create or replace temp macro _replace_user_id(hit, ipad, opad) as
    list_transform(
        [[regexp_extract(hit, {_sql(USER_ID_IN_TEXT)}, ['key', 's', 'n', 'b', 'l'])]],
        lambda g: g[1].key || ':' || case
            when g[1].l = 'null' then 'null'
            else '"' || user_key_sql(
                case
                    when g[1].n <> '' then g[1].n
                    when g[1].b <> '' then g[1].b
                    when g[1].l <> '' then g[1].l
                    else _json_unescape(g[1].s)
                end, ipad, opad) || '"'
        end
    )[1];

-- one id (the usual case) is a plain replace; several are spliced between the split pieces
create or replace temp macro redact_json_user_ids(text, ipad, opad) as
    list_transform(
        [regexp_extract_all(text, {_sql(USER_ID_IN_TEXT)})],
        lambda hits: case len(hits)
            when 0 then text
            when 1 then replace(text, hits[1], _replace_user_id(hits[1], ipad, opad))
            else list_transform(
                [regexp_split_to_array(text, {_sql(USER_ID_IN_TEXT)})],
                lambda pieces: array_to_string(
                    list_transform(
                        range(1, len(pieces) + 1),
                        lambda i: pieces[i] || coalesce(_replace_user_id(hits[i], ipad, opad), '')
                    ),
                    ''
                )
            )[1]
        end
    )[1];

create or replace temp macro has_user_id_key(text) as
    regexp_matches(text::varchar, {_sql(USER_ID_LIKE)});

-- a macro's argument is pasted in where it is used: the one-element list binds it once
create or replace temp macro _cut_unreplaced(redacted) as
    list_transform([redacted], lambda text: case
        when len(regexp_extract_all(text, {_sql(USER_ID_LIKE)}))
            > len(regexp_extract_all(text, {_sql(_REPLACED)}))
            then regexp_extract(text, {_sql("(?s)^(.*?)" + USER_ID_LIKE)}, 1) || {_sql(CUT_MARKER)}
        else text
    end)[1];

create or replace temp macro redact_properties(properties, ipad, opad) as
    list_transform(
        [regexp_replace(
            redact_json_user_ids(properties::varchar, ipad, opad),
            {_sql(USER_ID_IN_STRING)},
            {_sql(STRING_MARKER.replace(chr(92), chr(92) * 2))},
            'g'
        )],
        lambda text: case
            when len(regexp_extract_all(text, {_sql(_KEY_IN_JSON)}))
                > len(regexp_extract_all(text, {_sql(_REPLACED)}))
                then null
            else text
        end
    )[1];

create or replace temp macro redact_raw_user_ids(text, ipad, opad) as
    case
        when text is null or not has_user_id_key(text) then text
        else _cut_unreplaced(regexp_replace(
            redact_json_user_ids(text, ipad, opad),
            {_sql(USER_ID_IN_STRING)},
            {_sql(STRING_MARKER.replace(chr(92), chr(92) * 2))},
            'g'
        ))
    end;
"""
