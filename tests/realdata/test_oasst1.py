"""oasst1, real human conversations, converted to events and ingested without a rejected row."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

from feedback_platform.ingest.load import ingest_file
from feedback_platform.realdata.oasst1 import oasst1_events, write_oasst1_drop
from feedback_platform.settings import SCRUB_OFF
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
    # as sent: scrubbing would replace the e-mail address in it (see the next test)
    result = ingest_file(con, drop, user_salt=TEST_SALT, scrub=SCRUB_OFF)
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


def test_real_data_is_scrubbed_of_its_one_email_address_and_nothing_else(settings, oasst1_path):
    """The validation split holds one personal e-mail address (in a reply), found here by a
    pattern of Python's own; scrubbing replaces it and changes no other text."""
    drop = settings.events_landing_dir / "oasst1.jsonl"
    write_oasst1_drop(oasst1_path, drop)
    con = connect(settings)
    result = ingest_file(con, drop, user_salt=TEST_SALT)
    con.close()

    email = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
    fields = ("prompt", "output", "edited_text", "comment")
    sent = {e["event_id"]: [e.get(field) for field in fields] for e in oasst1_events(oasst1_path)}
    assert sum(len(email.findall(text or "")) for texts in sent.values() for text in texts) == 1
    stored = dict(
        query(settings, f"select event_id, [{', '.join(fields)}] from raw.feedback_events")
    )
    assert stored == {
        event_id: [None if text is None else email.sub("<EMAIL>", text) for text in texts]
        for event_id, texts in sent.items()
    }
    assert result.scrubbed == {"output": {"email": 1}}


def test_every_ranked_sibling_choice_becomes_exactly_one_prefer_pair(settings, oasst1_path):
    """Through the whole pipeline, as `feedback-platform run` executes it. One real choice is
    between two replies with the same text: a degenerate pair, which is never emitted. Each
    other choice is one pair, published or held out of training in the anchor set."""
    from tests.assets.test_training import published, run_pipeline

    write_oasst1_drop(oasst1_path, settings.events_landing_dir / "oasst1.jsonl")
    run_pipeline(settings)

    events = list(oasst1_events(oasst1_path))
    output = {e["generation_id"]: e["output"] for e in events if e["event_type"] == "generation"}
    choices = {
        (e["generation_id"], e["other_generation_id"])
        for e in events
        if e["event_type"] == "prefer"
    }
    distinct = {
        (chosen, rejected)
        for chosen, rejected in choices
        if " ".join(output[chosen].split()) != " ".join(output[rejected].split())
    }
    assert len(choices) == expected_counts(oasst1_path)["prefer"] == len(distinct) + 1
    root, latest, manifest = published(settings)
    pairs = query(
        settings,
        "select generation_ids[1], generation_ids[2] from read_parquet(?) where source = 'prefer'",
        [[str(root / latest / "train.parquet"), str(root / latest / "holdout.parquet")]],
    )
    # the choices the anchor set holds (drawn per segment) are in no split
    anchored = query(
        settings,
        "select generation_ids[1], generation_ids[2] from marts.fct_preference_candidates"
        " where pair_id in (select anchor_id from training.anchor_set)",
    )
    assert anchored
    assert sorted(pairs + anchored) == sorted(distinct)  # exactly one pair each
    assert manifest["row_counts"]["by_source"] == {"prefer": len(distinct) - len(anchored)}
    # prompts are split by hash: with hundreds of prompts both splits get some
    assert set(manifest["row_counts"]["by_split"]) == {"train", "holdout"}
