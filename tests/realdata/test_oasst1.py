"""oasst1, real human conversations, converted to events and ingested without a rejected row."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from feedback_platform.ingest.load import ingest_file
from feedback_platform.realdata.oasst1 import oasst1_events, write_oasst1_drop
from feedback_platform.warehouse import connect
from tests.conftest import TEST_SALT, query


def expected_counts(path) -> Counter:
    """Counted straight from the raw messages, independently of the converter."""
    messages = [json.loads(line) for line in path.open(encoding="utf-8")]
    by_id = {m["message_id"]: m for m in messages}
    replies = [
        m
        for m in messages
        if m["role"] == "assistant"
        and not m["deleted"]
        and m["parent_id"] in by_id
        and not by_id[m["parent_id"]]["deleted"]
    ]
    counts = Counter(generation=len(replies))
    ranked = defaultdict(list)
    for reply in replies:
        emojis = dict(
            zip(*(reply.get("emojis") or {"name": [], "count": []}).values(), strict=True)
        )
        counts["thumbs_up"] += emojis.get("+1", 0)
        counts["thumbs_down"] += emojis.get("-1", 0)
        if reply["rank"] is not None:
            ranked[reply["parent_id"]].append(reply["rank"])
    counts["prefer"] = sum(
        sum(rank != 0 for rank in ranks) for ranks in ranked.values() if 0 in ranks
    )
    return counts


def test_conversion_matches_the_raw_messages(oasst1_path):
    events = list(oasst1_events(oasst1_path))
    assert Counter(e["event_type"] for e in events) == expected_counts(oasst1_path)
    assert len({e["event_id"] for e in events}) == len(events)
    assert list(oasst1_events(oasst1_path)) == events  # deterministic


def test_real_data_ingests_with_zero_quarantined_rows(settings, oasst1_path):
    drop = settings.events_landing_dir / "oasst1.jsonl"
    written = write_oasst1_drop(oasst1_path, drop)

    con = connect(settings)
    result = ingest_file(con, drop, user_salt=TEST_SALT)
    con.close()

    assert (result.rows_read, result.rows_valid, result.rows_quarantined) == (written, written, 0)
    # long multilingual markdown survives byte for byte
    [(stored,)] = query(
        settings,
        "select output from raw.feedback_events where event_type = 'generation' "
        "order by length(output) desc limit 1",
    )
    longest = max(
        (e["output"] for e in oasst1_events(oasst1_path) if e["event_type"] == "generation"),
        key=len,
    )
    assert stored == longest
