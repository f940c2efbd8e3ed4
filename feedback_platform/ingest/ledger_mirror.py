"""A small file beside the landing folders that says which drops there the warehouse has seen.

Sensors must not open the DuckDB file (one writer per file: a sensor tick would block, or be
blocked by, every run). Ingestion therefore writes, after each run, what the ledger knows about
the files still in the landing folder: the drops ingested (or recognised as already ingested)
and the drops that failed (could not be read or ingested). A sensor reads this file and asks
for a run only for the other drops. The mirror is a cache of the ledger, never the truth: a lost
or stale mirror costs one run that ingests nothing and writes it again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from feedback_platform.ingest.landing import drop_key

MIRROR_VERSION = 1


def mirror_key(path: Path) -> str:
    """The drop as the sensor sees it: name, size, modification time and inode change time, so
    a file rewritten in place (even with its old size and mtime restored) is a new drop."""
    stat = path.stat()
    return f"{drop_key(path)}:{stat.st_ino}:{stat.st_ctime_ns}"


@dataclass(frozen=True)
class LedgerMirror:
    """Mirror keys of the drops the ledger holds and of the drops that failed (with the
    reason): a run for them would fail the same way until the file changes. A key in neither
    is a new drop."""

    ingested: frozenset[str] = frozenset()
    failed: dict[str, str] = field(default_factory=dict)

    def is_settled(self, path: Path) -> bool:
        key = mirror_key(path)
        return key in self.ingested or key in self.failed


def mirror_path(landing: Path) -> Path:
    """``landing/.ledger/<folder>.json``: beside the drop folders, so it is never a drop."""
    return landing.parent / ".ledger" / f"{landing.name}.json"


def read_mirror(landing: Path) -> LedgerMirror:
    """The mirror of ``landing``; empty when it was never written or cannot be read."""
    try:
        data = json.loads(mirror_path(landing).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return LedgerMirror()
    if not isinstance(data, dict) or data.get("version") != MIRROR_VERSION:
        return LedgerMirror()
    return LedgerMirror(
        ingested=frozenset(data.get("ingested", [])), failed=dict(data.get("failed", {}))
    )


def write_mirror(landing: Path, mirror: LedgerMirror) -> Path:
    """Replace the mirror atomically (write a temporary file, then rename): a sensor reads either
    the old mirror or the new one, never half of one."""
    path = mirror_path(landing)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = {
        "version": MIRROR_VERSION,
        "ingested": sorted(mirror.ingested),
        "failed": dict(sorted(mirror.failed.items())),
    }
    temporary.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path
