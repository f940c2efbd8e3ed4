"""The platform run end to end on one engine, and what the Spark tests compare after each step:
the core dbt relations' rows and every published file (tests/spark/conftest.py)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from feedback_platform.assets.transformation import dbt_models
from feedback_platform.ingest import load
from feedback_platform.resources import build_resources
from feedback_platform.settings import Settings
from tests.assets.test_training import ALICE, CAROL, known_drop, run_pipeline, signal
from tests.assets.test_transformation import build
from tests.conftest import event, write_jsonl
from tests.spark.spark_dbt import core_models, environment

#: What a run publishes beside the dataset folders: the review queue's export.
REVIEW_EXPORT = "review/queue.jsonl"


def late_drop() -> list[dict]:
    """A copy that arrives after its session was built (it changes g1's outcome and the
    session's counts), and two events 29:59.966 apart: one session, as the gap is not over 30
    minutes (dbt-spark's own dateadd dropped the fraction and split them)."""
    return [
        signal("late1", "copy", "09:03:00", "g1", ALICE),
        event("late2", "view", occurred_at="2026-10-05T11:00:00.500Z", generation_id="g12",
              dwell_ms=700, **CAROL),
        event("late3", "view", occurred_at="2026-10-05T11:30:00.466Z", generation_id="g12",
              dwell_ms=800, **CAROL),
    ]  # fmt: skip


#: Each step, in order: its drop, what runs it, and when its drop is ingested. The known-answer
#: drop goes through the whole pipeline (ingestion, the dbt steps, review, publication); the
#: late drop through ingestion and the core dbt step, the incremental build it tests. The same
#: ingestion time on both engines, since the models carry it (``ingested_at``, the batch).
STEPS: dict[str, tuple[Callable[[], list[dict]], Callable[[Settings], object], datetime]] = {
    "first": (known_drop, run_pipeline, datetime(2026, 10, 6, 8, 0)),
    "late": (late_drop, build, datetime(2026, 10, 6, 9, 0)),
}

#: A relation's column names and rows, by schema.name.
Relations = dict[str, tuple[list[str], list]]


@dataclass(frozen=True)
class Snapshot:
    #: Every core relation of the warehouse (on Spark: the copies the dbt steps brought back).
    relations: Relations
    #: Every published file, by its path under the home (version folders named by their
    #: number, not their time): its bytes.
    files: dict[str, bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def spark_engine(port: int) -> Iterator[Settings]:
    """The environment with FEEDBACK_PLATFORM_ENGINE=spark and the Thrift server's port, and
    the settings it gives."""
    with environment(
        FEEDBACK_PLATFORM_ENGINE="spark", FEEDBACK_PLATFORM_SPARK_THRIFT_PORT=str(port)
    ):
        yield Settings.from_env()


def run_and_snapshot(settings: Settings) -> dict[str, Snapshot]:
    """Each step's drop landed and run; the snapshot after each."""
    snapshots = {}
    for step, (drop, run, ingested_at) in STEPS.items():
        write_jsonl(settings.events_landing_dir / f"{step}.jsonl", drop())
        with ingestion_clock(ingested_at):
            run(settings)
        snapshots[step] = snapshot(settings)
    return snapshots


@contextmanager
def ingestion_clock(now: datetime) -> Iterator[None]:
    """Ingestion stamps its rows with ``now`` (UTC) while the block runs."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return now.replace(tzinfo=tz)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(load, "datetime", Clock)
        yield


def full_refresh_core_models(settings: Settings) -> Snapshot:
    """The core dbt step again with ``full_refresh``: its relations after it."""
    result = dg.materialize(
        [dbt_models],
        resources=build_resources(settings),
        run_config={"ops": {"dbt_models": {"config": {"full_refresh": True}}}},
    )
    assert result.success
    return snapshot(settings)


def snapshot(settings: Settings) -> Snapshot:
    return Snapshot(
        relations=core_relations(settings.warehouse_path), files=published_files(settings)
    )


def core_relations(warehouse: Path) -> Relations:
    """Every table and view of the core dbt step in the warehouse, with its rows."""
    models = {f"{node['schema']}.{node['alias']}" for node in core_models()}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = {
            name
            for (name,) in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables"
            ).fetchall()
        }
        relations = {}
        for relation in sorted(models & stored):
            cursor = con.execute(f"select * from {relation}")
            relations[relation] = ([c[0] for c in cursor.description], cursor.fetchall())
        return relations


def published_files(settings: Settings) -> dict[str, bytes]:
    """Every file under the datasets folder and the review export. A version folder is named
    by its number alone (``v000001``): the rest of its name is the time it was published."""
    files = {
        _without_times(path.relative_to(settings.home)): path.read_bytes()
        for path in sorted(settings.datasets_dir.rglob("*"))
        if path.is_file()
    }
    files[REVIEW_EXPORT] = (settings.home / REVIEW_EXPORT).read_bytes()
    return files


def _without_times(relative: Path) -> str:
    return "/".join(
        part.split("-")[0] if part.startswith("v0") else part for part in relative.parts
    )
