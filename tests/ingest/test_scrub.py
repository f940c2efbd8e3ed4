"""Scrubbing free text at ingestion: hand-made drops with every kind of personal data, with
lookalikes that must stay, and without any, ingested for real into DuckDB."""

from __future__ import annotations

import json

import pytest

from feedback_platform.ingest.pseudonymize import user_key
from feedback_platform.settings import SCRUB_OFF, Settings
from tests.conftest import TEST_SALT, event, ingest_drop, query, write_jsonl

SECRET_KEY = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0k1L2"
GITHUB_TOKEN = "ghp_" + "0123456789abcdefghijABCDEFGHIJ012345"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"

#: Every kind, in the fields they are scrubbed in: the text sent and the text stored.
PII_EVENTS = [
    (
        event(
            "e1",
            "generation",
            prompt="Mail jane.doe+work@example.co.uk or JOHN@corp.example.com, or call"
            " +1 415 555 0100 / (555) 123-4567 / 020 7946 0958 / +4915112345678.",
            output="Paid with 4111 1111 1111 1111 and 378282246310005; refund to"
            " DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432.",
        ),
        {
            "prompt": "Mail <EMAIL> or <EMAIL>, or call <PHONE> / <PHONE> / <PHONE> / <PHONE>.",
            "output": "Paid with <CARD> and <CARD>; refund to <IBAN> or <IBAN>.",
        },
    ),
    (
        event(
            "e2",
            "edit",
            edited_text="Blocked 192.168.1.10, 2001:db8::8a2e:370:7334 and"
            " fe80:0:0:0:202:b3ff:fe1e:8329 at the firewall.",
        ),
        {"edited_text": "Blocked <IP>, <IP> and <IP> at the firewall."},
    ),
    (
        event("e3", "comment", comment=f"my keys: {SECRET_KEY}, {GITHUB_TOKEN} and {AWS_KEY}"),
        {"comment": "my keys: <SECRET>, <SECRET> and <SECRET>"},
    ),
]

PII_COUNTS = [
    ("comment", "secret", 3),
    ("edited_text", "ip", 3),
    ("output", "card", 2),
    ("output", "iban", 2),
    ("prompt", "email", 2),
    ("prompt", "phone", 4),
]

#: Text that looks like personal data but is not, stored as sent.
LOOKALIKES = (
    "Card 4111 1111 1111 1112 and 4111111111111112 fail Luhn; order #100234567 and"
    " ORD-2026-000123 shipped on 2026-10-05 (05.10.2026) at 12:30:45 with dagster 1.13.2,"
    " v2.0.10 and sk-learn; GB82WEST12345698765433 fails mod 97; std::cout, 999.1.1.1,"
    " 3.5% of 1,234,567 users, @mentions, a hash 3f786850e387550fdab836ed7e6dc881de23001b"
    " and SVG path data c.157.071.316.137.478.198 (seen in real code)."
)


def _stored_texts(settings: Settings) -> dict[str, dict[str, str]]:
    rows = query(
        settings,
        "select event_id, prompt, output, edited_text, comment from raw.feedback_events",
    )
    names = ("prompt", "output", "edited_text", "comment")
    return {
        event_id: {name: text for name, text in zip(names, texts, strict=True) if text is not None}
        for event_id, *texts in rows
    }


def _scrub_ledger(settings: Settings, table: str = "raw.ingested_files_scrubbed") -> list[tuple]:
    return query(settings, f"select field, kind, replacements from {table} order by 1, 2")


def test_each_kind_of_personal_data_becomes_its_placeholder_with_exact_counts(settings):
    drop = write_jsonl(settings.events_landing_dir / "pii.jsonl", [e for e, _ in PII_EVENTS])

    result = ingest_drop(settings, drop)

    assert _stored_texts(settings) == {sent["event_id"]: stored for sent, stored in PII_EVENTS}
    assert result.scrubbed == {
        "comment": {"secret": 3},
        "edited_text": {"ip": 3},
        "output": {"card": 2, "iban": 2},
        "prompt": {"email": 2, "phone": 4},
    }
    assert _scrub_ledger(settings) == PII_COUNTS
    [(file_name, sha256)] = query(
        settings, "select distinct file_name, sha256 from raw.ingested_files_scrubbed"
    )
    assert (file_name, sha256) == ("pii.jsonl", result.sha256)


def test_lookalikes_are_left_alone(settings):
    drop = write_jsonl(
        settings.events_landing_dir / "lookalikes.jsonl",
        [event("e1", "generation", prompt=LOOKALIKES, output=LOOKALIKES)],
    )

    result = ingest_drop(settings, drop)

    assert _stored_texts(settings) == {"e1": {"prompt": LOOKALIKES, "output": LOOKALIKES}}
    assert result.scrubbed == {}
    assert _scrub_ledger(settings) == []


def test_a_drop_without_personal_data_is_stored_byte_for_byte(settings):
    texts = [
        "What is DuckDB?",
        "  Indented,\ttabbed\nand multi-line text \r\n with trailing space ",
        "Unicode: naïve café, 東京, emoji 🦆, RTL שלום, combining e\u0301",
        "Numbers: 42 shards, 3.14, 1e-9, -7, 100%, x=5; y_1 = a-b: c",
        'JSON-ish: {"a": [1, 2]} <b>html</b> `code` \\backslash\\ "quotes"',
        "",
    ]
    drop = write_jsonl(
        settings.events_landing_dir / "clean.jsonl",
        [
            event(f"e{i}", "generation", prompt=text, output=text[::-1])
            for i, text in enumerate(texts)
        ],
    )

    result = ingest_drop(settings, drop)

    stored = dict(query(settings, "select event_id, [prompt, output] from raw.feedback_events"))
    for i, text in enumerate(texts):
        prompt, output = stored[f"e{i}"]
        assert prompt.encode() == text.encode()
        assert output.encode() == text[::-1].encode()
    assert result.scrubbed == {}
    assert _scrub_ledger(settings) == []


def test_scrub_off_stores_text_as_sent(settings):
    drop = write_jsonl(settings.events_landing_dir / "pii.jsonl", [e for e, _ in PII_EVENTS])

    result = ingest_drop(settings, drop, scrub=SCRUB_OFF)

    assert _stored_texts(settings) == {
        sent["event_id"]: {
            name: sent[name]
            for name in ("prompt", "output", "edited_text", "comment")
            if name in sent
        }
        for sent, _ in PII_EVENTS
    }
    assert result.scrubbed == {}
    assert _scrub_ledger(settings) == []


def test_quarantined_raw_text_is_scrubbed_and_counted(settings):
    drop = write_jsonl(
        settings.events_landing_dir / "bad.jsonl",
        [
            # an unknown type: quarantined whole, its raw text kept
            event("x1", "dance", user_id="bob@example.com", comment="call +1 415 555 0100"),
            '{"event_id": "x2", "prompt": "mail ann@example.org", "truncated',
            # in JSON as written a value after a line break follows a letter: "\n4111 ..."
            event("x3", "generation", occurred_at="soon", prompt="card:\n4111 1111 1111 1111"),
        ],
    )

    result = ingest_drop(settings, drop)

    raw = dict(query(settings, "select line_number, raw_text from raw.quarantined_events"))
    first = json.loads(raw[1])
    # the user id is hashed as in a valid row, never turned into a placeholder
    assert first["user_id"] == user_key("bob@example.com", TEST_SALT)
    assert first["comment"] == "call <PHONE>"
    assert raw[2] == '{"event_id": "x2", "prompt": "mail <EMAIL>", "truncated'
    assert json.loads(raw[3])["prompt"] == "card:\n<CARD>"
    assert result.scrubbed == {"raw_text": {"card": 1, "email": 1, "phone": 1}}
    assert _scrub_ledger(settings) == [
        ("raw_text", "card", 1),
        ("raw_text", "email", 1),
        ("raw_text", "phone", 1),
    ]


def test_the_same_text_scrubs_alike_so_a_resent_event_is_a_duplicate(settings):
    """The placeholder carries the kind only: the same phone number in two fields, or in an
    event sent again in a later drop, scrubs to the same text."""
    phone_event = event(
        "e1", "generation", prompt="Call +1 415 555 0100", output="Calling +1 415 555 0100 now"
    )
    first = write_jsonl(settings.events_landing_dir / "a.jsonl", [phone_event])
    ingest_drop(settings, first)
    again = write_jsonl(settings.events_landing_dir / "b.jsonl", [phone_event, event("e2")])

    result = ingest_drop(settings, again)

    assert (result.rows_duplicate, result.rows_quarantined) == (1, 0)
    assert _stored_texts(settings)["e1"] == {
        "prompt": "Call <PHONE>",
        "output": "Calling <PHONE> now",
    }


def test_a_placeholder_the_user_typed_is_kept_and_not_counted(settings):
    drop = write_jsonl(
        settings.events_landing_dir / "typed.jsonl",
        [event("e1", "comment", comment="<EMAIL> stays, ann@example.org does not")],
    )

    result = ingest_drop(settings, drop)

    assert _stored_texts(settings)["e1"] == {"comment": "<EMAIL> stays, <EMAIL> does not"}
    assert result.scrubbed == {"comment": {"email": 1}}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("publish", "publish .* not supported yet"),
        ("everywhere", "expected one of store, off"),
    ],
)
def test_an_unknown_or_unbuilt_scrub_mode_is_refused(value, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env({"FEEDBACK_PLATFORM_SCRUB": value, "FEEDBACK_PLATFORM_USER_SALT": "s"})


def test_scrubbing_is_on_by_default():
    assert Settings.from_env({"FEEDBACK_PLATFORM_USER_SALT": "s"}).scrub == "store"
