"""The whole platform against a plain DuckDB baseline, at scale: wall time, events/s, peak RSS.

    python benchmarks/run.py --events 10000000 [--home DIR]

1. Generates N events with the project's generator as JSONL drops (not timed; a later run in the
   same ``--home`` reuses them).
2. Full run: the drops land in a fresh platform home and ``feedback-platform run``'s code path
   (``run_pipeline``) ingests and materializes everything, weekly reports included.
3. Baseline, in this same process: one hand-written DuckDB script doing the core of that work
   (read the JSONL with an explicit schema, sessionize, build the edit and regeneration pairs,
   write Parquet), on its own DuckDB file with the same memory limit.
4. Incremental run: a new drop of 1% of N (the same users, the day after) takes the path a
   drop takes in the UI: the ``ingest_events`` job the sensor starts (ingestion, dbt, review
   queue) and the report runs of the weeks it changed (``run_job``). Then, separately, the
   dataset publication (``publish_datasets``), which runs on its own cadence.
5. Fixed overhead: a tiny drop (1,000 events) in another fresh home, through the full
   ``run_pipeline``.

Prints a table per stage (wall time, events/s, peak RSS of this process and its children, such
as the dbt subprocess), the slowest dbt nodes of the full and the incremental run, and, as its
last line, one JSON object with the summary figures. A benchmark, not a test: the figures
depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from feedback_platform.cli import publish, run_job, run_pipeline
from feedback_platform.contract import EVENT_TYPES_SEED
from feedback_platform.instance import platform_instance
from feedback_platform.settings import Settings
from feedback_platform.synthetic.generate import DEFAULT_START, write_jsonl_events

GENERATED_DAYS = 14
TINY_EVENTS = 1_000


@dataclass
class Stage:
    name: str
    seconds: float
    events: int | None
    peak_rss_mb: float


class RssSampler:
    """Peak resident memory of this process and all its descendants, sampled every 50 ms."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), _tree_rss(os.getpid())))
            self._stop.wait(0.05)

    def peak_mb(self, start: float, end: float) -> float:
        inside = [rss for at, rss in self.samples if start <= at <= end]
        return max(inside, default=0) / 2**20


def _tree_rss(pid: int) -> int:
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    pending.extend(int(child) for child in handle.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors, so subprocesses too) to
    ``path``: the pipeline's logs stay out of the figures."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def platform_settings(home: Path, memory_limit: str) -> Settings:
    os.environ["FEEDBACK_PLATFORM_HOME"] = str(home)
    os.environ["FEEDBACK_PLATFORM_USER_SALT"] = "benchmark-salt"
    os.environ["FEEDBACK_PLATFORM_DUCKDB_MEMORY_LIMIT"] = memory_limit
    os.environ.pop("DAGSTER_HOME", None)
    settings = Settings.from_env()
    settings.ensure_dirs()
    return settings


def land(files: list[Path], settings: Settings) -> None:
    """Hard-link (or copy) the drops into the landing folder: the generated ones stay, so a
    later run in the same work folder can reuse them."""
    for path in files:
        target = settings.events_landing_dir / path.name
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


def generated_drops(folder: Path, events: int, **options: object) -> list[Path]:
    """The drops of ``write_jsonl_events(folder, events, **options)``, generated once per work
    folder: a finished set is recorded in ``folder/COMPLETE`` and read back by the next run."""
    marker = folder / "COMPLETE"
    expected = json.dumps({"events": events, **options}, default=str, sort_keys=True)
    if marker.exists() and marker.read_text().splitlines()[0] == expected:
        return [folder / name for name in marker.read_text().splitlines()[1:]]
    shutil.rmtree(folder, ignore_errors=True)
    files = write_jsonl_events(folder, events, **options)
    marker.write_text("\n".join([expected, *(path.name for path in files)]))
    return files


def fresh_home(home: Path) -> Path:
    shutil.rmtree(home, ignore_errors=True)
    return home


def timed_pipeline(
    label: str,
    settings: Settings,
    events: int | None,
    sampler: RssSampler,
    run: Callable[[Settings], int] = run_pipeline,
) -> tuple[float, list[Stage]]:
    """``run`` (the whole pipeline by default); its wall time, and one stage per Dagster step
    of its runs plus the time spent outside steps (instance, definitions, dbt parse)."""
    started = time.time()
    with output_to(settings.home / "benchmark.log"):
        code = run(settings)
    ended = time.time()
    if code != 0:
        raise SystemExit(f"{label}: the run failed; see {settings.home / 'benchmark.log'}")
    stages = [
        Stage(
            f"{label}: {step}",
            seconds,
            events if step == "raw_feedback_events" else None,
            sampler.peak_mb(first, last),
        )
        for step, (seconds, first, last) in _step_times(settings, started).items()
    ]
    outside = ended - started - sum(stage.seconds for stage in stages)
    stages.append(Stage(f"{label}: outside steps", outside, None, sampler.peak_mb(started, ended)))
    return ended - started, stages


def drop_path(settings: Settings) -> int:
    """What a new drop costs in the UI: the sensor's ``ingest_events`` run, then the report
    runs ``stale_reports_sensor`` asks for."""
    return run_job(settings, "ingest_events")


def _step_times(settings: Settings, since: float) -> dict[str, tuple[float, float, float]]:
    """Per step of the runs created since ``since``: (seconds, first start, last end), in the
    order the steps started. The weekly report runs add up under one name."""
    steps: dict[str, tuple[float, float, float]] = {}
    wanted = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
    with platform_instance(settings) as instance:
        for run in instance.get_runs(dg.RunsFilter(created_after=_utc(since))):
            starts: dict[str, float] = {}
            for record in instance.get_records_for_run(run.run_id, of_type=wanted).records:
                entry = record.event_log_entry
                if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
                    starts[entry.step_key] = entry.timestamp
                    continue
                start = starts[entry.step_key]
                name = "weekly reports" if run.tags.get("dagster/partition") else entry.step_key
                seconds, first, last = steps.get(name, (0.0, start, start))
                steps[name] = (
                    seconds + entry.timestamp - start,
                    min(first, start),
                    max(last, entry.timestamp),
                )
    return dict(sorted(steps.items(), key=lambda item: item[1][1]))


def dbt_node_seconds(settings: Settings) -> dict[str, float]:
    """Seconds per dbt model in the last build of each dbt step (``run_results/<step>.json``),
    slowest first, then the data tests and the unit tests as two totals."""
    results = [
        result
        for path in sorted((settings.dbt_target_dir / "run_results").glob("*.json"))
        for result in json.loads(path.read_text())["results"]
    ]
    totals: dict[str, float] = {}
    for result in results:
        kind, _, *_, name = result["unique_id"].split(".")
        key = {"test": "data tests", "unit_test": "unit tests"}.get(kind, name)
        totals[key] = totals.get(key, 0.0) + result["execution_time"]
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


#: The baseline reads exactly the columns its work needs, typed up front.
_BASELINE_COLUMNS = {
    "event_id": "VARCHAR",
    "event_type": "VARCHAR",
    "occurred_at": "TIMESTAMPTZ",
    "user_id": "VARCHAR",
    "session_id": "VARCHAR",
    "user_segment": "VARCHAR",
    "generation_id": "VARCHAR",
    "parent_generation_id": "VARCHAR",
    "model_version": "VARCHAR",
    "prompt": "VARCHAR",
    "output": "VARCHAR",
    "edited_text": "VARCHAR",
}

_BASELINE_STAGES = {
    "load": """
        create table events as
        select * from read_json($files, format = 'newline_delimited', columns = $columns)
    """,
    "sessionize": """
        create table sessionized as
        with ordered as (
            select
                *,
                lag(occurred_at) over by_user as previous_at,
                lag(session_id) over by_user as previous_client_session
            from events
            window by_user as (partition by user_id order by occurred_at, event_id)
        ),
        flagged as (
            select
                *,
                (previous_at is null
                    or occurred_at - previous_at > interval 30 minute
                    or previous_client_session is distinct from session_id)::int as starts
            from ordered
        )
        select
            *,
            md5(user_id || sum(starts) over (
                partition by user_id order by occurred_at, event_id rows unbounded preceding
            )::varchar) as session_key
        from flagged
    """,
    "pairs": """
        create table pairs as
        with generations as (
            select generation_id, parent_generation_id, prompt, output
            from sessionized where event_type = 'generation'
        ),
        final_texts as (
            select generation_id, arg_max(edited_text, occurred_at) as final_text
            from sessionized where event_type in (
                select event_type from read_csv($seed)
                where contains(required_fields, 'edited_text')
            )
            group by generation_id
        ),
        accepted as (
            select distinct generation_id from sessionized
            where event_type in (select event_type from read_csv($seed) where accepts_output)
        ),
        regenerated as (
            select generation_id from sessionized where event_type = 'regenerate'
            union
            select parent_generation_id from generations where parent_generation_id is not null
        )
        select 'edit' as source, g.prompt, f.final_text as chosen, g.output as rejected
        from generations as g
        join final_texts as f using (generation_id)
        where trim(regexp_replace(f.final_text, '\s+', ' ', 'g'))
            <> trim(regexp_replace(g.output, '\s+', ' ', 'g'))
        union all
        select 'regeneration', discarded.prompt, replacement.output, discarded.output
        from generations as replacement
        join generations as discarded
            on replacement.parent_generation_id = discarded.generation_id
        where replacement.generation_id in (select generation_id from accepted)
            and replacement.generation_id not in (select generation_id from regenerated)
    """,
    "write parquet": "copy pairs to $path (format parquet, compression zstd)",
}


def baseline(files: list[Path], workdir: Path, memory_limit: str, events: int,
             sampler: RssSampler) -> tuple[float, list[Stage]]:  # fmt: skip
    """The same core work as one hand-written DuckDB script, a stage at a time."""
    con = duckdb.connect(str(workdir / "baseline.duckdb"))
    con.execute(f"set memory_limit = '{memory_limit}'")
    con.execute("set preserve_insertion_order = false")
    con.execute("set TimeZone = 'UTC'")
    parameters = {
        "load": {"files": [str(path) for path in files], "columns": _BASELINE_COLUMNS},
        # the event types' meaning comes from the taxonomy seed, as in the dbt models
        "pairs": {"seed": str(EVENT_TYPES_SEED)},
        "write parquet": {"path": str(workdir / "baseline_pairs.parquet")},
    }
    stages = []
    for name, sql in _BASELINE_STAGES.items():
        start = time.time()
        con.execute(sql, parameters.get(name, {}))
        end = time.time()
        stages.append(Stage(f"baseline: {name}", end - start, events, sampler.peak_mb(start, end)))
    con.close()
    return sum(stage.seconds for stage in stages), stages


def print_dbt_table(runs: dict[str, dict[str, float]], rows: int = 10) -> None:
    """The slowest dbt nodes of the full run, with their time in each run."""
    print(f"\n{'dbt node':<40}" + "".join(f"{label:>16}" for label in runs))
    full = next(iter(runs.values()))
    for node in list(full)[:rows]:
        times = "".join(f"{seconds.get(node, 0.0):>16.2f}" for seconds in runs.values())
        print(f"{node:<40}{times}")


def print_table(stages: list[Stage]) -> None:
    print(f"{'stage':<52} {'wall s':>8} {'events/s':>12} {'peak RSS MB':>12}")
    for stage in stages:
        rate = f"{stage.events / stage.seconds:,.0f}" if stage.events and stage.seconds else ""
        print(f"{stage.name:<52} {stage.seconds:>8.2f} {rate:>12} {stage.peak_rss_mb:>12,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, help="work here instead of a temporary folder")
    parser.add_argument(
        "--memory-limit",
        default="6GB",
        help="DuckDB memory limit, for every connection on both sides",
    )
    args = parser.parse_args()

    work = Path(args.home or tempfile.mkdtemp(prefix="feedback-platform-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "baseline.duckdb").unlink(missing_ok=True)
    incremental_events = max(1, args.events // 100)
    print(f"Generating {args.events:,} + {incremental_events:,} events in {work} ...", flush=True)
    drops = generated_drops(work / "generated", args.events)
    later = DEFAULT_START + timedelta(days=GENERATED_DAYS)
    new_drop = generated_drops(
        work / "generated-next", incremental_events, seed=8, start=later, days=1, name="next"
    )
    tiny_drop = generated_drops(work / "generated-tiny", TINY_EVENTS, seed=9, name="tiny")

    stages: list[Stage] = []
    with RssSampler() as sampler:
        baseline_s, measured = baseline(drops, work, args.memory_limit, args.events, sampler)
        stages += measured
        settings = platform_settings(fresh_home(work / "home"), args.memory_limit)
        land(drops, settings)
        full_s, measured = timed_pipeline("full", settings, args.events, sampler)
        stages += measured
        dbt_runs = {"full": dbt_node_seconds(settings)}
        land(new_drop, settings)
        shutil.rmtree(settings.dbt_target_dir / "run_results")  # the next stage's builds only
        incremental_s, measured = timed_pipeline(
            "incremental 1%", settings, incremental_events, sampler, drop_path
        )
        stages += measured
        dbt_runs["incremental 1%"] = dbt_node_seconds(settings)
        publication_s, measured = timed_pipeline("publication", settings, None, sampler, publish)
        stages += measured
        tiny_settings = platform_settings(fresh_home(work / "tiny-home"), args.memory_limit)
        land(tiny_drop, tiny_settings)
        tiny_s, measured = timed_pipeline("tiny drop", tiny_settings, TINY_EVENTS, sampler)
        stages += measured
        peak = max(rss for _, rss in sampler.samples) / 2**20

    print_table(stages)
    print_dbt_table(dbt_runs)
    print(f"\n{'baseline (DuckDB script)':<28} {baseline_s:8.2f} s")
    print(f"{'full run':<28} {full_s:8.2f} s  ({args.events / full_s:,.0f} events/s)")
    print(f"{'incremental run (1%)':<28} {incremental_s:8.2f} s  (drop job + its reports)")
    print(f"{'publication':<28} {publication_s:8.2f} s  (datasets, on their own cadence)")
    print(f"{'tiny drop, fresh home':<28} {tiny_s:8.2f} s  (fixed overhead)")
    print(f"{'peak RSS':<28} {peak:8.0f} MB")
    print(f"work folder: {work}")
    summary = {
        "events": args.events,
        "full_s": round(full_s, 3),
        "baseline_s": round(baseline_s, 3),
        "ratio_full_vs_baseline": round(full_s / baseline_s, 2),
        "incremental_s": round(incremental_s, 3),
        "ratio_incremental_vs_full": round(incremental_s / full_s, 3),
        "publication_s": round(publication_s, 3),
        "peak_rss_mb": round(peak),
        "tiny_drop_s": round(tiny_s, 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
