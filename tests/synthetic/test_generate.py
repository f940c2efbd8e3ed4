"""The demo generator: deterministic, every event type and format, realistic proportions."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from feedback_platform.contract import EVENT_TYPES
from feedback_platform.synthetic.generate import generate_drops

EXPLICIT = {"thumbs_up", "thumbs_down", "rating", "comment", "correction", "prefer"}


def read_drop(path: Path) -> tuple[list[dict], int]:
    """(parseable events, malformed line count) of one drop in any format."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist(), 0
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle)), 0
    opener = gzip.open if path.suffix == ".gz" else open
    events, malformed = [], 0
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                malformed += 1
    return events, malformed


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> list[Path]:
    return generate_drops(tmp_path_factory.mktemp("drops"), users=120, days=10, seed=3)


@pytest.fixture(scope="module")
def events(drops) -> list[dict]:
    return [event for path in drops for event in read_drop(path)[0]]


def test_same_arguments_give_identical_bytes(tmp_path, drops):
    again = generate_drops(tmp_path / "again", users=120, days=10, seed=3)
    assert [p.name for p in again] == [p.name for p in drops]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(again, drops, strict=True))
    other = generate_drops(tmp_path / "other", users=120, days=10, seed=4)
    # another seed never takes a name of these drops (copying it in overwrites none)
    assert not {p.name for p in other} & {p.name for p in drops}
    assert other[0].read_bytes() != drops[0].read_bytes()


def test_every_event_type_and_format_appears(drops, events):
    assert {e["event_type"] for e in events} >= set(EVENT_TYPES)
    assert {"".join(p.suffixes[-2:]) if p.suffix == ".gz" else p.suffix for p in drops} == {
        ".jsonl",
        ".jsonl.gz",
        ".parquet",
        ".csv",
    }


def test_explicit_feedback_is_rare_and_implicit_common(events):
    counts = Counter(e["event_type"] for e in events)
    generations = counts["generation"]
    explicit = sum(counts[t] for t in EXPLICIT)
    assert 0.005 < explicit / generations < 0.15
    assert counts["view"] / generations > 0.5


def test_one_model_version_is_visibly_worse(events):
    model_of = {
        e["generation_id"]: e["model_version"] for e in events if e["event_type"] == "generation"
    }
    per_model: dict[str, Counter] = {}
    for e in events:
        model = model_of.get(e.get("generation_id"))
        if model:
            per_model.setdefault(model, Counter())[e["event_type"]] += 1
    rates = {
        m: (c["regenerate"] / c["generation"], c["thumbs_down"] / c["generation"])
        for m, c in per_model.items()
    }
    worst = max(rates, key=lambda m: rates[m][0])
    assert worst == "assistant-2026-10-exp"
    assert all(rates[worst][1] > r[1] for m, r in rates.items() if m != worst)


def test_some_regeneration_chains_reach_three(events):
    parent = {
        e["generation_id"]: e.get("parent_generation_id")
        for e in events
        if e["event_type"] == "generation"
    }

    def depth(generation: str) -> int:
        steps = 0
        while parent.get(generation):
            generation, steps = parent[generation], steps + 1
        return steps

    assert max(depth(g) for g in parent) >= 3


def test_a_few_malformed_lines_and_a_late_file(drops, events):
    malformed = sum(read_drop(path)[1] for path in drops)
    assert 1 <= malformed <= 10
    late = drops[-1]
    assert late.name.startswith("events-late-")
    late_events, _ = read_drop(late)
    last_regular = max(e["occurred_at"] for e in read_drop(drops[-2])[0])
    assert late_events and all(e["occurred_at"] < last_regular for e in late_events)


def test_refuses_to_overwrite(tmp_path):
    generate_drops(tmp_path, users=5, days=2, seed=1)
    with pytest.raises(FileExistsError):
        generate_drops(tmp_path, users=5, days=2, seed=1)


def test_benchmark_drops_hold_exactly_the_events_asked_for(tmp_path):
    from feedback_platform.synthetic.generate import write_jsonl_events

    files = write_jsonl_events(tmp_path, 2_000, seed=5, users_per_drop=10)
    assert len(files) > 1  # one slice of users is not enough
    events = [json.loads(line) for path in files for line in path.open(encoding="utf-8")]
    assert len(events) == 2_000
    assert len({event["event_id"] for event in events}) == len(events)
    # each drop has its own users
    users = [{event["user_id"] for event in read_drop(path)[0]} for path in files]
    assert not users[0] & users[1]
