"""The live path through the real UI: a drop lands within a minute, exactly once, and the UI stops.

    python benchmarks/live.py [--home DIR] [--port N] [--events 10000] [--burst 10]

1. Fills the platform home with the demo (``feedback-platform demo``) if it has no drops yet.
2. Starts the UI the way a user does, ``feedback-platform ui --port N``, in a process group of
   its own, and waits until the GraphQL API answers and the code location is loaded.
3. Waits for two ticks of ``event_drop_sensor`` and counts the runs started: the drops there
   were already ingested, so there must be none.
4. One new drop of N events (the project's generator, a seed of its own, so its name and ids
   are new), written under a hidden name and renamed into ``landing/events/`` (a half-written
   file must not be picked up): seconds from the rename until a run tagged with it succeeded,
   the runs started for it, and whether its events are in ``raw.feedback_events`` and its
   generations in ``marts.fct_generations`` (the warehouse is opened read-only, after the run).
5. The same for a burst of drops renamed in together: seconds until all are in the marts, and
   the runs started for them.
6. SIGINT to the UI's process group (what Ctrl-C in a terminal sends): seconds until the UI and
   every process under it (webserver, daemon, code servers, run workers) are gone.

Prints each figure with its target and whether it was met, where the drop's latency went (the
sensor's pickup, the run queue, the run worker's start-up, each step), and, as its last line,
one JSON object. Exits non-zero on errors only, never on a missed target: a benchmark, not a
test. ``tests/test_ui_live.py`` uses the helpers here at a tiny size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import duckdb

LOCATION = "feedback_platform"
REPOSITORY = "__repository__"
EVENT_SENSOR = "event_drop_sensor"
DROP_JOBS = {"ingest_events", "ingest_reviews"}
#: Tags whose value names the drops of a run (one name, or several joined by ", ").
DROP_TAG_PREFIX = "feedback_platform/drop"
UNFINISHED = {"QUEUED", "NOT_STARTED", "MANAGED", "STARTING", "STARTED", "CANCELING"}
FAILED = {"FAILURE", "CANCELED"}

TARGETS = {
    "runs_for_ingested_drops": 0,
    "drop_s": 60.0,
    "drop_runs": 1,
    "burst_s": 120.0,
    "burst_runs": 2,
    "shutdown_s": 10.0,
    "processes_left": 0,
}

# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def platform_env(home: Path) -> dict[str, str]:
    """This environment, pointed at ``home``; the instance lives under it."""
    env = {**os.environ, "FEEDBACK_PLATFORM_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    return env


def cli() -> list[str]:
    """The project's own ``feedback-platform`` console script (this interpreter's)."""
    script = Path(sys.executable).parent / "feedback-platform"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "feedback_platform.cli"]


@dataclass
class Ui:
    """``feedback-platform ui`` running in a process group (and session) of its own."""

    process: subprocess.Popen
    port: int
    log: Path
    started: float
    #: process groups and sessions seen under it (the ``ui`` command puts dg dev in its own)
    groups: set[int] = field(default_factory=set)
    sessions: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def note_processes(self) -> list[Process]:
        """Record the groups and sessions of the UI's process tree; return the tree."""
        tree = descendants(self.process.pid)
        self.groups.update(proc.pgid for proc in tree)
        self.sessions.update(proc.sid for proc in tree)
        return tree

    def alive(self) -> list[Process]:
        """Processes still running (zombies are dead) in any group or session of the UI."""
        return [
            proc
            for proc in processes()
            if (proc.pgid in self.groups or proc.sid in self.sessions) and proc.state != "Z"
        ]


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    command: str


def processes() -> list[Process]:
    listing = subprocess.run(
        ["ps", "-eo", "pid=,ppid=,pgid=,sid=,stat=,args="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = []
    for line in listing.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 5:
            continue
        pid, ppid, pgid, sid = (int(value) for value in parts[:4])
        command = parts[5] if len(parts) > 5 else ""
        result.append(Process(pid, ppid, pgid, sid, parts[4][:1], command))
    return result


def descendants(root: int) -> list[Process]:
    """``root`` and every process under it."""
    table = processes()
    children: dict[int, list[Process]] = {}
    for proc in table:
        children.setdefault(proc.ppid, []).append(proc)
    tree = [proc for proc in table if proc.pid == root]
    pending = list(tree)
    while pending:
        for child in children.get(pending.pop().pid, []):
            tree.append(child)
            pending.append(child)
    return tree


def start_ui(home: Path, port: int, log: Path, *, ignore_sigint: bool = False) -> Ui:
    """``feedback-platform ui --port PORT`` for ``home``, in a new session (its own process
    group), its output in ``log``. ``ignore_sigint`` starts it the way a background job of a
    non-interactive shell starts (``make ui &`` in a script): with SIGINT ignored."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*cli(), "ui", "--port", str(port)],
            env=platform_env(home),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_ignore_sigint if ignore_sigint else None,
        )
    ui = Ui(process, port, log, time.time())
    ui.groups.add(process.pid)
    ui.sessions.add(process.pid)
    return ui


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_ui(ui: Ui, timeout: float = 30.0) -> tuple[float, list[Process]]:
    """SIGINT to the UI's process group, as Ctrl-C in its terminal would send it; seconds until
    the UI and every process under it are gone, and what was left after ``timeout`` (then
    killed)."""
    ui.note_processes()
    started = time.monotonic()
    os.killpg(ui.process.pid, signal.SIGINT)
    left = ui.alive()
    while left and time.monotonic() - started < timeout:
        time.sleep(0.1)
        ui.process.poll()  # reap the ui command itself
        left = ui.alive()
    seconds = time.monotonic() - started
    if left:
        kill_ui(ui)
    with contextlib.suppress(subprocess.TimeoutExpired):
        ui.process.wait(timeout=5)  # gone, maybe not yet reaped
    return seconds, left


def kill_ui(ui: Ui) -> None:
    """SIGKILL to every group of the UI (cleanup after an error)."""
    ui.note_processes()
    for group in ui.groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    for proc in ui.alive():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        ui.process.wait(timeout=5)


# ---------------------------------------------------------------------------------------------
# GraphQL


class GraphQLError(RuntimeError):
    pass


def graphql(ui: Ui, query: str, variables: dict | None = None, timeout: float = 10.0) -> dict:
    request = urllib.request.Request(
        ui.url,
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise GraphQLError(json.dumps(body["errors"])[:2000])
    return body["data"]


_LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""


def wait_until_loaded(ui: Ui, timeout: float = 240.0) -> float:
    """Seconds until the GraphQL API answers and the code location is loaded."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ui.process.poll() is not None:
            raise RuntimeError(f"the UI exited with {ui.process.returncode}; see {ui.log}")
        try:
            data = graphql(ui, _LOCATIONS, timeout=5)
        except (OSError, GraphQLError):  # not serving yet
            time.sleep(0.5)
            continue
        entries = data["workspaceOrError"].get("locationEntries", [])
        for entry in entries:
            if entry["name"] != LOCATION or entry["loadStatus"] != "LOADED":
                continue
            loaded = entry["locationOrLoadError"] or {}
            if loaded.get("__typename") == "PythonError":
                raise RuntimeError(f"the code location failed to load: {loaded['message']}")
            if loaded.get("__typename") == "RepositoryLocation":
                ui.note_processes()
                return time.time() - ui.started
        time.sleep(0.5)
    raise TimeoutError(f"the code location was not loaded after {timeout:.0f} s; see {ui.log}")


_SENSOR = """
query ($selector: SensorSelector!, $after: Float) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      minIntervalSeconds
      sensorState { status ticks(afterTimestamp: $after, limit: 100) {
        timestamp status runIds skipReason error { message }
      } }
    }
    ... on PythonError { message }
  }
}
"""


def sensor_ticks(ui: Ui, after: float, sensor: str = EVENT_SENSOR) -> tuple[int, list[dict]]:
    """The sensor's minimum interval, and its ticks after ``after`` (oldest first)."""
    selector = {
        "repositoryLocationName": LOCATION,
        "repositoryName": REPOSITORY,
        "sensorName": sensor,
    }
    found = graphql(ui, _SENSOR, {"selector": selector, "after": after})["sensorOrError"]
    if found["__typename"] != "Sensor":
        raise GraphQLError(f"sensor {sensor}: {found}")
    ticks = sorted(found["sensorState"]["ticks"], key=lambda tick: tick["timestamp"])
    return found["minIntervalSeconds"], ticks


def wait_for_ticks(ui: Ui, after: float, count: int = 2) -> list[dict]:
    """Wait until ``count`` ticks of the event sensor happened after ``after``."""
    interval, ticks = sensor_ticks(ui, after)
    deadline = time.time() + 60 + count * interval * 2
    while len(ticks) < count:
        if time.time() > deadline:
            raise TimeoutError(f"{len(ticks)} ticks of {EVENT_SENSOR} in {count * interval * 2}s")
        time.sleep(1)
        interval, ticks = sensor_ticks(ui, after)
    return ticks


_RUNS = """
query ($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results {
      runId jobName status creationTime startTime endTime
      tags { key value }
      stepStats { stepKey status startTime endTime }
    } }
    ... on PythonError { message }
  }
}
"""


def runs_since(ui: Ui, after: float) -> list[dict]:
    """Every run created after ``after`` (a Unix time), oldest first."""
    found = graphql(ui, _RUNS, {"filter": {"createdAfter": after}})["runsOrError"]
    if found["__typename"] != "Runs":
        raise GraphQLError(f"runsOrError: {found}")
    return sorted(found["results"], key=lambda run: run["creationTime"])


def drops_of(run: dict) -> set[str]:
    """The drop names a run's tags carry."""
    names: set[str] = set()
    for tag in run["tags"]:
        if tag["key"].startswith(DROP_TAG_PREFIX):
            names.update(name.strip() for name in tag["value"].split(","))
    return names


def drop_runs(runs: list[dict]) -> list[dict]:
    """The runs that ingest drops: a drop job's, or tagged with drops."""
    return [run for run in runs if run["jobName"] in DROP_JOBS or drops_of(run)]


def wait_for_quiet(ui: Ui, after: float, timeout: float = 180.0) -> None:
    """Until no run created after ``after`` is queued or running."""
    deadline = time.time() + timeout
    while any(run["status"] in UNFINISHED for run in runs_since(ui, after)):
        if time.time() > deadline:
            raise TimeoutError(f"runs still unfinished after {timeout:.0f} s")
        time.sleep(1)


# ---------------------------------------------------------------------------------------------
# Drops and the warehouse


def next_seed(landing: Path) -> int:
    """A seed no drop in ``landing`` was made with (names ``live-seed<N>.jsonl``)."""
    used = [
        int(path.name.removeprefix("live-seed").removesuffix(".jsonl"))
        for path in landing.glob("live-seed*.jsonl")
        if path.name.removeprefix("live-seed").removesuffix(".jsonl").isdigit()
    ]
    return max([1000, *used]) + 1


def stage_drop(landing: Path, events: int, seed: int, day: int) -> tuple[Path, Path]:
    """A drop of ``events`` events written under a hidden name in ``landing``; returns (hidden
    path, final path). Seeds from 1000 up make event ids (``...-<seed*1000>-...``) and names
    no demo or benchmark drop has; ``day`` is days after the demo's start."""
    from feedback_platform.synthetic.generate import DEFAULT_START, write_jsonl_events

    [hidden] = write_jsonl_events(
        landing,
        events,
        seed=seed,
        days=1,
        start=DEFAULT_START + timedelta(days=day),
        name=f".live-seed{seed}",
        users_per_drop=max(1, events // 3),
    )
    return hidden, landing / f"live-seed{seed}.jsonl"


def drop_ids(path: Path) -> tuple[list[str], list[str]]:
    """Event ids, and generation ids of its generation events, in a JSONL drop."""
    events, generations = [], []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            event = json.loads(line)
            events.append(event["event_id"])
            if event["event_type"] == "generation":
                generations.append(event["generation_id"])
    return events, generations


def missing_from_marts(
    warehouse: Path, events: list[str], generations: list[str], timeout: float = 60.0
) -> tuple[int, int]:
    """(events not in raw.feedback_events, generations not in marts.fct_generations). The file
    is opened read-only, briefly; while a run holds it for writing, try again."""
    deadline = time.time() + timeout
    while True:
        try:
            with duckdb.connect(str(warehouse), read_only=True) as con:
                [(raw,)] = con.execute(
                    "select count(distinct event_id) from raw.feedback_events"
                    " where event_id in (select unnest($ids))",
                    {"ids": events},
                ).fetchall()
                [(marts,)] = con.execute(
                    "select count(distinct generation_id) from marts.fct_generations"
                    " where generation_id in (select unnest($ids))",
                    {"ids": generations},
                ).fetchall()
            return len(set(events)) - raw, len(set(generations)) - marts
        except duckdb.IOException:  # a run is writing
            if time.time() > deadline:
                raise
            time.sleep(0.5)


# ---------------------------------------------------------------------------------------------
# The benchmark


def fill_with_demo(home: Path, log: Path) -> float | None:
    """``feedback-platform demo`` if the home has no drops; its seconds, or None."""
    from feedback_platform.ingest.landing import drop_files
    from feedback_platform.settings import Settings

    settings = Settings.from_env(platform_env(home))
    if settings.events_landing_dir.exists() and drop_files(settings.events_landing_dir):
        return None
    started = time.time()
    with log.open("ab") as out:
        completed = subprocess.run(
            [*cli(), "demo"], env=platform_env(home), stdout=out, stderr=subprocess.STDOUT
        )
    if completed.returncode != 0:
        raise RuntimeError(f"feedback-platform demo failed; see {log}")
    return time.time() - started


@dataclass
class Landing:
    """What became of drops renamed into the landing folder at ``renamed``."""

    names: list[str]
    renamed: float
    rename_span_s: float
    seconds: float | None = None  # until the last of them was in a succeeded run
    runs: list[dict] = field(default_factory=list)  # runs tagged with any of them
    other_runs: list[dict] = field(default_factory=list)  # every other run meanwhile
    failed: list[str] = field(default_factory=list)
    missing_events: int = 0
    missing_generations: int = 0


def land_drops(
    ui: Ui, landing: Path, warehouse: Path, events: int, count: int, day: int, timeout: float
) -> Landing:
    seed = next_seed(landing)
    staged = [stage_drop(landing, events, seed + index, day + index) for index in range(count)]
    ids = [drop_ids(hidden) for hidden, _ in staged]
    renamed = time.time()
    for hidden, final in staged:
        hidden.rename(final)
    result = Landing([final.name for _, final in staged], renamed, time.time() - renamed)
    wanted = set(result.names)
    deadline = renamed + timeout
    while True:
        runs = runs_since(ui, renamed - 1)
        mine = [run for run in runs if drops_of(run) & wanted]
        done = set().union(*(drops_of(run) for run in mine if run["status"] == "SUCCESS"))
        result.failed = [run["runId"] for run in mine if run["status"] in FAILED]
        ended = set().union(*(drops_of(run) for run in mine if run["status"] not in UNFINISHED))
        if wanted <= done or time.time() > deadline:
            break
        if wanted <= ended and result.failed:
            # a run for the same drops is asked for once: a failed one is not retried by itself
            break
        time.sleep(0.5)
    ui.note_processes()
    result.runs = mine
    result.other_runs = [run for run in runs if run not in mine]
    if wanted <= done:
        ends = [run["endTime"] for run in mine if run["status"] == "SUCCESS"]
        result.seconds = max(ends) - renamed
    missing = missing_from_marts(
        warehouse, [i for e, _ in ids for i in e], [g for _, gs in ids for g in gs]
    )
    result.missing_events, result.missing_generations = missing
    return result


def latency_split(landing: Landing) -> list[tuple[str, float]]:
    """Where the first run of a landing spent its time, from the rename."""
    if not landing.runs or landing.runs[0]["startTime"] is None:
        return []
    run = landing.runs[0]
    split = [
        ("rename -> run created (sensor)", run["creationTime"] - landing.renamed),
        ("created -> run started (queue, launch)", run["startTime"] - run["creationTime"]),
    ]
    steps = sorted(
        (step for step in run["stepStats"] if step["startTime"]), key=lambda s: s["startTime"]
    )
    if steps:
        split.append(("run started -> first step", steps[0]["startTime"] - run["startTime"]))
        for step in steps:
            if step["endTime"]:
                split.append((f"step {step['stepKey']}", step["endTime"] - step["startTime"]))
        last = max(step["endTime"] or step["startTime"] for step in steps)
        if run["endTime"]:
            split.append(("last step -> run ended", run["endTime"] - last))
    return split


def verdict(name: str, value: float | None) -> str:
    target = TARGETS[name]
    met = value is not None and value <= target
    return "met" if met else "MISSED"


def report(label: str, name: str, value: float | int | None, unit: str = "") -> dict:
    shown = "none" if value is None else (f"{value:.1f}" if isinstance(value, float) else value)
    target = f"<= {TARGETS[name]}{unit}"
    print(f"  {label:<44} {f'{shown}{unit}':>9}   target {target:<9} {verdict(name, value)}")
    return {name: round(value, 2) if isinstance(value, float) else value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="platform home (default: a fresh temp dir)")
    parser.add_argument("--port", type=int, help="the UI's port (default: a free one)")
    parser.add_argument("--events", type=int, default=10_000, help="events in the one drop")
    parser.add_argument("--burst", type=int, default=10, help="drops in the burst")
    parser.add_argument(
        "--burst-events", type=int, help="events in each burst drop (default: --events)"
    )
    args = parser.parse_args()
    # stop cleanly (the UI too) on Ctrl-C or SIGTERM, even when started with SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    from feedback_platform.settings import Settings

    home = Path(args.home or tempfile.mkdtemp(prefix="feedback-platform-live-")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(platform_env(home))
    log = home / "live-benchmark.log"
    port = args.port or free_port()
    print(f"Platform home {home}; logs in {log}", flush=True)
    demo_s = fill_with_demo(home, log)
    if demo_s is not None:
        print(f"Filled it with the demo in {demo_s:.1f} s", flush=True)
    settings.ensure_dirs()
    landing = settings.events_landing_dir

    ui = start_ui(home, port, log)
    summary: dict = {"events": args.events, "burst": args.burst}
    try:
        loaded_s = wait_until_loaded(ui)
        print(f"UI on port {port}: code location loaded after {loaded_s:.1f} s", flush=True)
        interval, _ = sensor_ticks(ui, ui.started)
        ticks = wait_for_ticks(ui, ui.started, 2)
        before = runs_since(ui, ui.started)
        before_drops = drop_runs(before)
        print(f"{len(ticks)} ticks of {EVENT_SENSOR} (interval {interval} s)", flush=True)

        one = land_drops(ui, landing, settings.warehouse_path, args.events, 1, 14, 600)
        print(f"One drop of {args.events:,} events: {one.names[0]}", flush=True)
        wait_for_quiet(ui, ui.started)
        burst_events = args.burst_events or args.events
        burst = land_drops(ui, landing, settings.warehouse_path, burst_events, args.burst, 15, 900)
        print(f"Burst: {args.burst} drops of {burst_events:,} events renamed in"
              f" {burst.rename_span_s:.2f} s", flush=True)  # fmt: skip
        shutdown_s, left = stop_ui(ui)
    except BaseException:
        kill_ui(ui)
        raise

    print(f"\nLive UI path, {os.cpu_count()} cores (figures, targets)")
    summary.update(report("runs started for already-ingested drops", "runs_for_ingested_drops",
                          len(before_drops)))  # fmt: skip
    others = sorted({run["jobName"] for run in before if run not in before_drops})
    print(f"  before the new drop: other runs {len(before) - len(before_drops)} {others}")
    summary.update(report("one drop: rename -> its run succeeded", "drop_s", one.seconds, " s"))
    summary.update(report("one drop: runs started for it", "drop_runs", len(one.runs)))
    summary.update(report(f"burst of {args.burst}: rename -> all succeeded", "burst_s",
                          burst.seconds, " s"))  # fmt: skip
    summary.update(report(f"burst of {args.burst}: runs started for them", "burst_runs",
                          len(burst.runs)))  # fmt: skip
    summary.update(report("SIGINT -> UI and children gone", "shutdown_s", shutdown_s, " s"))
    summary.update(report("processes left after SIGINT", "processes_left", len(left)))
    for name, landed in (("one drop", one), ("burst", burst)):
        print(f"  {name}: events missing from raw.feedback_events {landed.missing_events},"
              f" generations missing from marts.fct_generations {landed.missing_generations},"
              f" failed runs {landed.failed or 'none'}")  # fmt: skip
        others = sorted({run["jobName"] for run in landed.other_runs})
        print(f"  {name}: other runs meanwhile: {len(landed.other_runs)} {others}")
    for proc in left:
        print(f"  left: {proc.pid} {proc.command[:100]}")
    print("\nWhere the one drop's time went")
    for label, seconds in latency_split(one):
        print(f"  {label:<44} {seconds:8.1f} s")
    if burst.runs:
        print("Burst runs (drops, seconds from the rename to their end)")
        for run in burst.runs:
            end = f"{run['endTime'] - burst.renamed:.1f} s" if run["endTime"] else run["status"]
            print(f"  {run['runId'][:8]} {len(drops_of(run) & set(burst.names))} drops, {end}")
    summary.update(
        {
            "ui_loaded_s": round(loaded_s, 1),
            "sensor_interval_s": interval,
            "drop_split_s": {label: round(s, 2) for label, s in latency_split(one)},
            "drop_missing_in_marts": one.missing_events + one.missing_generations,
            "burst_missing_in_marts": burst.missing_events + burst.missing_generations,
            "failed_runs": len(one.failed) + len(burst.failed),
            "ui_exit_code": ui.process.returncode,
        }
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
