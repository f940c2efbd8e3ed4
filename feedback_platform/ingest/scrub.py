"""Free-text scrubbing: personal data in what users typed becomes a typed placeholder before it
is stored (``FEEDBACK_PLATFORM_SCRUB=store``, the default).

The one home of the patterns: event texts (``prompt``, ``output``, ``edited_text``,
``comment``), review ``corrected_text`` and the raw text of quarantined rows all go through the
``scrub_text`` macro defined here, in the same vectorized statement that validates a drop; no
text is scrubbed row by row in Python. A placeholder carries the kind only (``<PHONE>``, never a
number or a hash), so the same text always scrubs the same way: a chosen and a rejected answer
that differed only in a phone number become equal, which the pair rules read as no edit at all.

Kinds are applied in ``PII_KINDS`` order, each to the text the previous ones left: secrets
first (a key holds digit runs and letters), then e-mail addresses (a local part or domain may
hold digits or an IP address), IBANs (their digits could pass for a card), cards (their groups
for a phone number), IP addresses (a dotted quad for phone groups) and phone numbers last. A
card number must pass the Luhn check and an IBAN its ISO 7064 mod-97 check, so a 16-digit order
number that fails Luhn stays. Phone numbers are matched only in written phone shapes (a ``+``
and country code, ``(555) 123-4567``, ``555-123-4567``, a national ``0`` trunk prefix with
groups): a bare run of digits is an order number as often as a phone number.

``scrub_counts(original, scrubbed)`` says how many of each kind a value lost, by counting each
placeholder before and after (placeholders match no pattern, so none is ever replaced again, and
one a user typed is not counted); the ledger keeps those counts per file, field and kind, never
the matched text.
"""

from __future__ import annotations

from dataclasses import dataclass

from feedback_platform.settings import SCRUB_OFF


@dataclass(frozen=True)
class PiiKind:
    """One kind of personal data: its placeholder, the RE2 pattern of a candidate, and the SQL
    macro (taking one match) that must accept a candidate before it is replaced, if any."""

    name: str
    placeholder: str
    pattern: str
    check: str | None = None


_HEX4 = "[0-9A-Fa-f]{1,4}"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

#: OpenAI-style ``sk-`` keys, GitHub tokens (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``,
#: ``github_pat_``) and AWS access key ids (``AKIA``, temporary ``ASIA``).
SECRET = (
    r"\bsk-[A-Za-z0-9_-]{20,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b"
    r"|\bgithub_pat_[A-Za-z0-9_]{22,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
)
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
#: Two letters, two check digits and 11 to 30 letters or digits, written whole or in groups of
#: four (``DE89 3704 0044 0532 0130 00``).
IBAN = r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)\b"
#: 13 to 19 digits starting with a card network's first digit (2 to 6), whole or in groups of
#: four (or Amex's 4-6-5), separated by a space or a dash. A ``+`` before it is matched too, so
#: that the check can leave an international phone number (``+4915112345678``) to the phone step.
CARD = (
    r"\+?\b[2-6](?:\d{12,18}"
    r"|\d{3}[ -]\d{4}[ -]\d{4}[ -]\d{1,7}"
    r"|\d{3}[ -]\d{6}[ -]\d{5})\b"
)
#: IPv4 dotted quads; IPv6 written in full (eight groups) or with one ``::`` inside (at least
#: one group on each side, so ``std::cout``-like text and times such as ``12:30:45`` stay).
IP = (
    rf"\b(?:{_OCTET}\.){{3}}{_OCTET}\b"
    rf"|\b(?:{_HEX4}:){{7}}{_HEX4}\b"
    rf"|\b(?:{_HEX4}:){{1,6}}(?::{_HEX4}){{1,6}}\b"
)
#: ``+`` and a country code then two to five groups; North American ``(555) 123-4567`` and
#: ``555-123-4567`` / ``555.123.4567``; national numbers with a ``0`` trunk prefix in groups
#: (``020 7946 0958``, ``030-1234-5678``; ``06 12 34 56 78`` or ``06.12.34.56.78``). Dates
#: (``2026-10-05``, ``05.10.2026``) fit none; the trunk form takes no dots, as number lists do
#: (SVG path data in real code: ``.071.316.137``).
PHONE = (
    r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}\b"
    r"|\(\d{3}\) ?\d{3}[ .-]\d{4}\b"
    r"|\b\d{3}[.-]\d{3}[.-]\d{4}\b"
    r"|\b0\d{2,4}[ -]\d{3,4}[ -]\d{3,4}\b"
    r"|\b0[1-9](?:[ .]\d{2}){4}\b"
)

#: Every kind, in the order they are applied (see the module docstring for why).
PII_KINDS: tuple[PiiKind, ...] = (
    PiiKind("secret", "<SECRET>", SECRET),
    PiiKind("email", "<EMAIL>", EMAIL),
    PiiKind("iban", "<IBAN>", IBAN, check="_iban_valid"),
    PiiKind("card", "<CARD>", CARD, check="_card_valid"),
    PiiKind("ip", "<IP>", IP),
    PiiKind("phone", "<PHONE>", PHONE),
)

#: Any kind's candidate: a text without one (almost every text) is returned after this one
#: pass instead of one per kind (2.5 times less work on texts with digits but no personal data).
_PREFILTER = "|".join(f"(?:{kind.pattern})" for kind in PII_KINDS)


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _step_macro(kind: PiiKind) -> str:
    """``_scrub_<kind>(text)``: ``text`` with every match of the kind replaced. A checked kind
    splices: the pieces between the matches, each match replaced only if its check accepts it
    (the one-element list binds ``text`` once, as a macro argument is pasted where it is used)."""
    pattern = _sql(kind.pattern)
    if kind.check is None:
        body = f"regexp_replace(text, {pattern}, {_sql(kind.placeholder)}, 'g')"
    else:
        body = f"""list_transform([text], lambda t: case
        when not regexp_matches(t, {pattern}) then t
        else list_transform(
            [{{'hits': regexp_extract_all(t, {pattern}),
              'pieces': regexp_split_to_array(t, {pattern})}}],
            lambda s: array_to_string(
                list_transform(
                    range(1, len(s.pieces) + 1),
                    lambda i: s.pieces[i] || coalesce(
                        case when {kind.check}(s.hits[i]) then {_sql(kind.placeholder)}
                        else s.hits[i] end, '')
                ),
                ''
            )
        )[1]
    end)[1]"""
    return f"create or replace temp macro _scrub_{kind.name}(text) as\n    {body};"


def _chain(text: str) -> str:
    """Every kind's step applied to ``text`` in ``PII_KINDS`` order (the innermost is first)."""
    for kind in PII_KINDS:
        text = f"_scrub_{kind.name}({text})"
    return text


def _placeholders(text: str, placeholder: str) -> str:
    """How many times ``placeholder`` occurs in ``text`` (SQL)."""
    return (
        f"((strlen({text}) - strlen(replace({text}, {_sql(placeholder)}, '')))"
        f" // {len(placeholder)})"
    )


#: The checks: Luhn over a card number's digits (every second digit from the right doubled,
#: its digits summed), and ISO 7064 mod 97 over an IBAN with its first four characters moved to
#: the end and letters read as 10 to 35 (remainder 1).
_CHECK_MACROS = """
create or replace temp macro _luhn_valid(number) as
    list_transform([reverse(regexp_replace(number, '[^0-9]', '', 'g'))], lambda d:
        list_sum(list_transform(range(length(d)), lambda i: list_transform(
            [(ascii(d[i + 1]) - 48) * (1 + i % 2)], lambda v: v // 10 + v % 10)[1]
        )) % 10 = 0
    )[1];

create or replace temp macro _card_valid(number) as
    not starts_with(number, '+') and _luhn_valid(number);

create or replace temp macro _iban_valid(iban) as
    list_transform([replace(iban, ' ', '')], lambda s:
        list_reduce(
            list_transform(
                string_split(substr(s, 5) || left(s, 4), ''),
                lambda c: case when c between '0' and '9' then ascii(c) - 48 else ascii(c) - 55 end
            ),
            lambda remainder, v: (remainder * case when v > 9 then 100 else 10 end + v) % 97,
            0
        ) = 1
    )[1];
"""


#: Raw text is JSON as written, where a value typed after a line break reads ``\n4111 ...``:
#: ``n4`` has no word boundary, so the card would stay. ``scrub_raw_text`` scrubs the text with
#: a private-use character put after every one-letter escape and takes each such one out again,
#: so the text is otherwise as written (an escape in ``\u`` form, ``\u0040``, is not read).
_ESCAPE_MARK = "\ue000"
_SCRUB_RAW_TEXT = f"""create or replace temp macro scrub_raw_text(text) as
    regexp_replace(
        scrub_text(regexp_replace(text, '(\\\\[nrtbf])', '\\1{_ESCAPE_MARK}', 'g')),
        '(\\\\[nrtbf]){_ESCAPE_MARK}', '\\1', 'g'
    );"""


def scrub_macros(mode: str) -> str:
    """The DuckDB macros ingestion calls, for the scrub ``mode``: ``scrub_text(text)`` (with
    ``off`` the text itself), ``scrub_raw_text(text)`` for JSON as written, and
    ``scrub_counts(original, scrubbed)``, null when the value did not change, else a struct of
    the replacements per kind (``PII_KINDS`` names)."""
    counts = ", ".join(
        f"'{kind.name}': "
        f"{_placeholders('scrubbed', kind.placeholder)} - "
        f"{_placeholders('original', kind.placeholder)}"
        for kind in PII_KINDS
    )
    if mode == SCRUB_OFF:
        scrubbing = [
            "create or replace temp macro scrub_text(text) as text;",
            "create or replace temp macro scrub_raw_text(text) as text;",
        ]
    else:
        prefilter = f"regexp_matches(text, {_sql(_PREFILTER)})"
        scrubbing = [
            _CHECK_MACROS,
            *(_step_macro(kind) for kind in PII_KINDS),
            "create or replace temp macro scrub_text(text) as"
            f" case when {prefilter} then {_chain('text')} else text end;",
            _SCRUB_RAW_TEXT,
        ]
    return "\n".join(
        [
            *scrubbing,
            "create or replace temp macro scrub_counts(original, scrubbed) as"
            f" case when original <> scrubbed then {{{counts}}} end;",
        ]
    )


def scrubs_column(texts: dict[str, tuple[str, str]]) -> str:
    """SQL for one row's replacements: for each field of ``texts`` (field -> its original and
    scrubbed columns) then each kind, the count (``scrub_counts``), as one list; null when none
    of the row's texts changed. A list that is almost always null costs next to nothing in a
    temp table (a struct writes every member of every row, null or not: 0.4 s a 1M drop)."""
    changed = " or ".join(f"{original} <> {scrubbed}" for original, scrubbed in texts.values())
    counts = ", ".join(
        f"coalesce(scrub_counts({original}, {scrubbed}).{kind.name}, 0)"
        for original, scrubbed in texts.values()
        for kind in PII_KINDS
    )
    return f"case when {changed} then [{counts}] end"


def counts_sql(relation: str, column: str, fields: tuple[str, ...]) -> str:
    """One row: the replacements in ``column`` (a ``scrubs_column``) of ``relation`` summed,
    for each field then each kind (``replacements`` reads it)."""
    positions = range(1, len(fields) * len(PII_KINDS) + 1)
    sums = ", ".join(f"coalesce(sum({column}[{position}]), 0)" for position in positions)
    return f"select {sums} from {relation} where {column} is not null"


def replacements(row: tuple, fields: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """The row of ``counts_sql`` as ``{field: {kind: replacements}}``, without the zeros."""
    kinds = len(PII_KINDS)
    result: dict[str, dict[str, int]] = {}
    for index, field in enumerate(fields):
        sums = row[index * kinds : (index + 1) * kinds]
        by_kind = {kind.name: int(n) for kind, n in zip(PII_KINDS, sums, strict=True) if n}
        if by_kind:
            result[field] = by_kind
    return result
