"""Keyed hashing of user ids: the platform stores ``HMAC-SHA256(salt, user_id)``, never the id.

Hashing happens once per *distinct* id in a drop (users are far fewer than events), so a
vetted Python HMAC is both correct and cheap. The same key replaces the id inside the raw text
of quarantined rows, so "nothing is lost" never means "the raw id is kept".
"""

from __future__ import annotations

import hashlib
import hmac
import json

#: Finds the user id in (possibly broken) JSON text: a quoted string, closed or truncated, or a
#: bare number. Group 1 is the string content as written (JSON-escaped), group 2 a number.
USER_ID_IN_TEXT = r'"user_id"\s*:\s*(?:"((?:[^"\\]|\\.)*)"?|(-?[0-9][0-9.eE+-]*))'


def user_key(user_id: str, salt: str) -> str:
    return hmac.new(salt.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def json_unescape(text: str) -> str:
    """The value a JSON string literal's content stands for (as written if it is malformed)."""
    try:
        return json.loads(f'"{text}"')
    except json.JSONDecodeError:
        return text


def key_table(values: set[str], escaped: set[str], salt: str) -> dict[str, str]:
    """Map each id value, and each id as written in raw text, to its key."""
    keys = {value: user_key(value, salt) for value in values}
    for text in escaped:
        keys.setdefault(text, user_key(json_unescape(text), salt))
    return keys
