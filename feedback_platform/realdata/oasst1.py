"""OpenAssistant Conversations (oasst1) messages as contract events (schema version 1).

The mapping, following ``shared/realdata/README.md``:

* every non-deleted assistant message whose parent prompt exists and is not deleted becomes a
  ``generation``: prompt = the parent's text, output = the reply, model_version
  ``oasst1-human`` (replies were written by volunteers), session = the conversation tree;
* the event's user is the *prompter* (the parent message's author): the person who asked and
  whose choices the feedback stands for;
* the reply's ``+1`` / ``-1`` emoji counts become that many ``thumbs_up`` / ``thumbs_down``
  events; oasst1 does not say who reacted, so each reaction gets its own reactor id;
* sibling replies under one prompt that were ranked: the rank-0 reply is preferred over each
  other ranked sibling, one ``prefer`` event per pair. Siblings were written by different
  people: they are alternatives shown side by side, not regenerations.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

MODEL_VERSION = "oasst1-human"
SEGMENT = "oasst1/en"


def _load(messages_path: Path) -> list[dict]:
    with open(messages_path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _replies_with_prompt(messages: list[dict]) -> list[tuple[dict, dict]]:
    by_id = {message["message_id"]: message for message in messages}
    pairs = []
    for message in messages:
        parent = by_id.get(message["parent_id"])
        is_reply = message["role"] == "assistant" and not message["deleted"]
        if is_reply and parent and not parent["deleted"]:
            pairs.append((message, parent))
    return pairs


def _at(timestamp: str, seconds: float = 0) -> str:
    return (datetime.fromisoformat(timestamp) + timedelta(seconds=seconds)).isoformat()


def _common(reply: dict, user_id: str, occurred_at: str) -> dict:
    return {
        "occurred_at": occurred_at,
        "user_id": user_id,
        "session_id": reply["message_tree_id"],
        "user_segment": SEGMENT,
        "locale": reply["lang"],
        "schema_version": "1",
    }


def _emoji_counts(message: dict) -> dict[str, int]:
    emojis = message.get("emojis") or {"name": [], "count": []}
    return dict(zip(emojis["name"], emojis["count"], strict=True))


def oasst1_events(messages_path: Path) -> Iterator[dict]:
    """Yield contract events (schema v1) converted from oasst1 messages."""
    replies = _replies_with_prompt(_load(messages_path))
    siblings: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for reply, prompt in replies:
        generation_id = reply["message_id"]
        yield {
            "event_id": f"oasst1-gen-{generation_id}",
            "event_type": "generation",
            **_common(reply, prompt["user_id"], _at(reply["created_date"])),
            "generation_id": generation_id,
            "model_version": MODEL_VERSION,
            "prompt": prompt["text"],
            "output": reply["text"],
            "properties": {
                "source": "oasst1",
                "message_tree_id": reply["message_tree_id"],
                "review_count": reply["review_count"],
                "rank": reply["rank"],
            },
        }
        counts = _emoji_counts(reply)
        for emoji, event_type, tag in (("+1", "thumbs_up", "up"), ("-1", "thumbs_down", "down")):
            for k in range(counts.get(emoji, 0)):
                yield {
                    "event_id": f"oasst1-{tag}-{generation_id}-{k}",
                    "event_type": event_type,
                    **_common(
                        reply,
                        f"oasst1-reactor-{generation_id}-{tag}-{k}",
                        _at(reply["created_date"], k + 1),
                    ),
                    "generation_id": generation_id,
                }
        if reply["rank"] is not None:
            siblings[prompt["message_id"]].append((reply, prompt))
    for parent_id, ranked in siblings.items():
        yield from _prefer_events(parent_id, ranked)


def _prefer_events(parent_id: str, ranked: list[tuple[dict, dict]]) -> Iterator[dict]:
    best = [reply for reply, _ in ranked if reply["rank"] == 0]
    if len(best) != 1:
        return
    winner, prompt = best[0], ranked[0][1]
    decided_at = _at(max(reply["created_date"] for reply, _ in ranked), 1)
    for other, _ in ranked:
        if other["rank"] != 0:
            yield {
                "event_id": f"oasst1-prefer-{parent_id}-{other['message_id']}",
                "event_type": "prefer",
                **_common(winner, prompt["user_id"], decided_at),
                "generation_id": winner["message_id"],
                "other_generation_id": other["message_id"],
            }


def write_oasst1_drop(messages_path: Path, out_path: Path) -> int:
    """Write the events as one JSONL drop; return the number of events written."""
    written = 0
    with open(out_path, "w", encoding="utf-8") as handle:
        for event in oasst1_events(messages_path):
            handle.write(json.dumps(event, ensure_ascii=False) + "\n")
            written += 1
    return written
