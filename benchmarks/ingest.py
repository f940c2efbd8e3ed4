"""Ingestion throughput: JSONL events/s and peak memory for one drop file, scrubbing off and on.

    python benchmarks/ingest.py [--events 1000000] [--keep DIR] [--scrub both|off|store]

Writes a drop of realistic event lines (0.1% malformed, 0.1% exact duplicates, 0.4% conflicting
ids; texts with numbers in them, and one generation in 20 with an e-mail address and a phone
number in its prompt), ingests it into a fresh warehouse through the same code path as the
``raw_feedback_events`` asset, once per scrub mode (``FEEDBACK_PLATFORM_SCRUB``: ``off``, then
``store``, each in a warehouse of its own), and prints the figures. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from feedback_platform.ingest.load import ingest_file
from feedback_platform.settings import SCRUB_MODES, SCRUB_OFF, SCRUB_STORE, Settings
from feedback_platform.warehouse import connect

EVENT_TYPES = ["generation", "view", "copy", "edit", "regenerate", "thumbs_up", "rating"]


def write_drop(path: Path, events: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    previous = ""
    with path.open("w", encoding="utf-8") as handle:
        for i in range(events):
            # every 1000th line is cut short; the other 500th lines re-send the previous event
            # unchanged: an exact duplicate
            line = previous if i % 500 == 499 and i % 1000 != 999 else _line(i, rng)
            handle.write(line + "\n")
            previous = line


def _line(i: int, rng: random.Random) -> str:
    if i % 1000 == 999:
        return f'{{"event_id": "broken-{i}", "event_type": "co'
    event_id = f"evt-{i - 1 if i % 200 == 199 else i:012d}"
    event_type = EVENT_TYPES[i % len(EVENT_TYPES)]
    seconds = 1_791_158_400 + i // 10
    record = {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)),
        "user_id": f"user-{rng.randrange(50_000):05d}",
        "session_id": f"s-{i // 12}",
        "user_segment": rng.choice(["free/en", "pro/en", "pro/de", "edu/fr"]),
        "generation_id": f"g-{i // 7}",
    }
    if event_type == "generation":
        record |= {
            "model_version": "m-2026-10",
            "prompt": _prompt(i),
            "output": "Shard by user so that sessions stay local; rebalance every 30 days. " * 3,
        }
    elif event_type == "view":
        record["dwell_ms"] = rng.randrange(100, 60_000)
    elif event_type == "edit":
        record["edited_text"] = "Shard by user; rebalance weekly."
    elif event_type == "rating":
        record["rating"] = rng.randrange(1, 6)
    return json.dumps(record, separators=(",", ":"))


def _prompt(i: int) -> str:
    if i % 140 == 0:  # one generation in 20 (every 7th line is one)
        return f"Mail user{i}@example.com or call +1 415 555 {i % 10_000:04d} about 12 shards."
    return "Explain the sharding strategy for our 12 events tables."


def ingest_timed(home: Path, drop: Path, scrub: str) -> dict:
    """Ingest ``drop`` into a fresh warehouse under ``home`` with scrub mode ``scrub``."""
    settings = Settings.from_env(
        {
            "FEEDBACK_PLATFORM_HOME": str(home),
            "FEEDBACK_PLATFORM_USER_SALT": "benchmark",
            "FEEDBACK_PLATFORM_SCRUB": scrub,
        }
    )
    settings.ensure_dirs()
    con = connect(settings)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = ingest_file(con, drop, user_salt=settings.user_salt, scrub=settings.scrub)
    ingest_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    con.close()
    return {
        "scrub": scrub,
        "events": result.rows_read,
        "valid": result.rows_valid,
        "quarantined": result.rows_quarantined,
        "duplicate": result.rows_duplicate,
        "scrubbed": sum(sum(by_kind.values()) for by_kind in result.scrubbed.values()),
        "ingest_s": round(ingest_s, 3),
        "events_per_s": round(result.rows_read / ingest_s),
        # CPU seconds of every thread: the figure other processes on the machine disturb least
        "cpu_s": round(cpu_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="use this folder instead of a temp dir")
    parser.add_argument("--scrub", choices=["both", *SCRUB_MODES], default="both")
    args = parser.parse_args()
    modes = [SCRUB_OFF, SCRUB_STORE] if args.scrub == "both" else [args.scrub]

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        drop = root / "bench.jsonl"
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        write_drop(drop, args.events)
        written_s = time.perf_counter() - started
        runs = [ingest_timed(root / f"home-{mode}", drop, mode) for mode in modes]

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first = runs[0]
    print(f"events in drop      {first['events']:>12,}")
    print(f"valid / quarantined {first['valid']:>12,} / {first['quarantined']:,}")
    print(f"duplicates          {first['duplicate']:>12,}")
    print(f"write drop          {written_s:>12.2f} s (not part of ingestion)")
    for run in runs:
        print(f"scrub={run['scrub']:<6} ingest {run['ingest_s']:>11.2f} s")
        print(f"scrub={run['scrub']:<6} events/s {run['events_per_s']:>9,}")
        print(f"scrub={run['scrub']:<6} cpu {run['cpu_s']:>14.2f} s")
        print(f"scrub={run['scrub']:<6} replaced {run['scrubbed']:>9,}")
    if len(runs) == 2:
        off, store = runs
        print(f"store / off events/s {store['events_per_s'] / off['events_per_s']:>11.0%}")
        print(f"off / store cpu      {off['cpu_s'] / store['cpu_s']:>11.0%}")
    print(f"peak RSS            {peak_mb:>12,.0f} MB (the process, over every mode)")
    print(json.dumps({"runs": runs, "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main()
