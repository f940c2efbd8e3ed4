"""Every test gets a real platform home in a temp dir: landing folders, DuckDB file, instance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from feedback_platform.settings import Settings

TEST_SALT = "test-salt-not-secret"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The Spark tests first, the rest in their usual order. `make test` gives each file to one
    of two workers (``--dist loadfile``) in this order, and the Spark end-to-end file is the
    longest by far (about 420 s): reached half-way through, it ran on alone while the other
    worker sat idle (pytest 923.8 s for 1474 s of test time). Started first, the other worker
    runs the rest beside it; in the one run measured so far that gained nothing, as the two
    cores were saturated (pytest 1005.1 s, benchmarks/RESULTS.md): keep it only if more runs
    show a gain."""
    items.sort(key=lambda item: item.get_closest_marker("spark") is None)


@contextmanager
def platform_home(home: Path) -> Iterator[Settings]:
    """A real platform home in ``home`` (for a test, or a module-scoped fixture): the
    environment points at it while the block runs."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FEEDBACK_PLATFORM_HOME", str(home))
        env.setenv("FEEDBACK_PLATFORM_USER_SALT", TEST_SALT)
        env.delenv("DAGSTER_HOME", raising=False)
        # the default engine, whatever an earlier test of this process set (a test on Spark
        # sets FEEDBACK_PLATFORM_ENGINE inside its home)
        env.delenv("FEEDBACK_PLATFORM_ENGINE", raising=False)
        settings = Settings.from_env()
        settings.ensure_dirs()
        yield settings


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    with platform_home(tmp_path / "home") as settings:
        yield settings


def write_jsonl(path: Path, events: list[dict | str]) -> Path:
    """Events as JSON lines; a str is written verbatim (for malformed lines)."""
    lines = [event if isinstance(event, str) else json.dumps(event) for event in events]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def ingest_drop(settings: Settings, path: Path, **kwargs):
    """``ingest_file`` on a connection of its own, as one ingestion step makes it."""
    from feedback_platform.ingest.load import ingest_file
    from feedback_platform.warehouse import connect

    con = connect(settings)
    try:
        return ingest_file(con, path, user_salt=TEST_SALT, **kwargs)
    finally:
        con.close()


def quarantine_reasons(settings: Settings) -> dict[int, str]:
    """The reason of every quarantined row, by line number."""
    return dict(query(settings, "select line_number, reason from raw.quarantined_events"))


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def event(event_id: str, event_type: str = "thumbs_up", **fields) -> dict:
    """A contract-valid event of ``event_type`` with sensible defaults for its required fields."""
    defaults = {
        "generation": {
            "generation_id": "g1",
            "model_version": "m1",
            "prompt": "What is DuckDB?",
            "output": "An in-process analytical database.",
        },
        "rating": {"generation_id": "g1", "rating": 4},
        "view": {"generation_id": "g1", "dwell_ms": 1500},
        "edit": {"generation_id": "g1", "edited_text": "An embedded analytical database."},
        "correction": {"generation_id": "g1", "edited_text": "An embedded OLAP database."},
        "comment": {"generation_id": "g1", "comment": "too short"},
        "prefer": {"generation_id": "g1", "other_generation_id": "g2"},
        "task_complete": {},
    }.get(event_type, {"generation_id": "g1"})
    return {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": "2026-10-05T09:00:00Z",
        "user_id": "user-alice",
        "session_id": "s1",
        "user_segment": "pro/en",
        **defaults,
        **fields,
    }
