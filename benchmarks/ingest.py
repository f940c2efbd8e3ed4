"""Ingestion throughput: JSONL events/s and peak memory for one drop file.

    python benchmarks/ingest.py [--events 1000000] [--keep DIR]

Writes a drop of realistic event lines (0.1% malformed, 0.1% exact duplicates, 0.4% conflicting
ids), ingests it into a fresh warehouse through the same code path as the
``raw_feedback_events`` asset, and prints the figures. A benchmark, not a test.
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
from feedback_platform.settings import Settings
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
            "prompt": "Explain the sharding strategy for our events table.",
            "output": "Shard by user so that sessions stay local; rebalance monthly. " * 3,
        }
    elif event_type == "view":
        record["dwell_ms"] = rng.randrange(100, 60_000)
    elif event_type == "edit":
        record["edited_text"] = "Shard by user; rebalance weekly."
    elif event_type == "rating":
        record["rating"] = rng.randrange(1, 6)
    return json.dumps(record, separators=(",", ":"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="use this folder instead of a temp dir")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp)
        settings = Settings.from_env(
            {"FEEDBACK_PLATFORM_HOME": str(home), "FEEDBACK_PLATFORM_USER_SALT": "benchmark"}
        )
        settings.ensure_dirs()
        drop = settings.events_landing_dir / "bench.jsonl"
        started = time.perf_counter()
        write_drop(drop, args.events)
        written_s = time.perf_counter() - started

        con = connect(settings)
        started = time.perf_counter()
        result = ingest_file(con, drop, user_salt=settings.user_salt)
        ingest_s = time.perf_counter() - started
        con.close()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"events in drop      {result.rows_read:>12,}")
    print(f"valid / quarantined {result.rows_valid:>12,} / {result.rows_quarantined:,}")
    print(f"duplicates          {result.rows_duplicate:>12,}")
    print(f"write drop          {written_s:>12.2f} s (not part of ingestion)")
    print(f"ingest              {ingest_s:>12.2f} s")
    print(f"events/s            {result.rows_read / ingest_s:>12,.0f}")
    print(f"peak RSS            {peak_mb:>12,.0f} MB")
    print(
        json.dumps(
            {
                "events": result.rows_read,
                "ingest_s": round(ingest_s, 3),
                "events_per_s": round(result.rows_read / ingest_s),
                "peak_rss_mb": round(peak_mb),
            }
        )
    )


if __name__ == "__main__":
    main()
