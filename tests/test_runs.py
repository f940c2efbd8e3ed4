"""A run killed at any moment (SIGKILL: no chance to record its end) never wedges the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dagster as dg

from feedback_platform.instance import platform_instance
from feedback_platform.runs import POOL, settle_dead_runs
from feedback_platform.synthetic.generate import generate_drops
from tests.conftest import query


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "feedback_platform.cli", *args]


def wait_for_claimed_slot(settings, process: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it claimed the pool"
        with platform_instance(settings) as instance:
            claimed = instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
        if claimed:
            return claimed[0].run_id
        time.sleep(0.2)
    raise AssertionError("no step claimed the duckdb pool")


def test_a_killed_run_is_settled_and_the_next_run_completes(settings):
    generate_drops(settings.events_landing_dir, users=30, days=3, seed=11)
    first = subprocess.Popen(cli("run"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dead_run = wait_for_claimed_slot(settings, first)
    first.send_signal(signal.SIGKILL)
    first.wait()

    again = subprocess.run(cli("run"), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"Run {dead_run} (feedback_pipeline) died with its process {first.pid}" in again.stdout
    with platform_instance(settings) as instance:
        assert instance.get_run_by_id(dead_run).status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info(POOL).claimed_slots == []
    # nothing lost, nothing twice: every drop's ledger row balances and ids are unique
    assert query(
        settings,
        "select count(*), count(*) filter (where rows_valid + rows_quarantined + rows_duplicate"
        " = rows_read) from raw.ingested_files",
    ) == [(4, 4)]
    [(rows, ids)] = query(
        settings, "select count(*), count(distinct event_id) from raw.feedback_events"
    )
    assert rows == ids > 0


def test_a_live_run_is_left_alone(settings):
    with platform_instance(settings) as instance:
        run = dg.DagsterRun(
            job_name="feedback_pipeline",
            run_id="live-run",
            tags={
                "feedback_platform/pid": str(os.getpid()),
                "feedback_platform/host": os.uname().nodename,
            },
        )
        instance.add_run(run.with_status(dg.DagsterRunStatus.STARTED))
        assert settle_dead_runs(instance) == []
        assert instance.get_run_by_id("live-run").status == dg.DagsterRunStatus.STARTED


def test_sigterm_stops_the_cli_and_its_dbt_child(settings):
    generate_drops(settings.events_landing_dir, users=30, days=3, seed=12)
    process = subprocess.Popen(
        cli("run"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 180
    while not _children(process.pid, "dbt") and time.monotonic() < deadline:
        assert process.poll() is None
        time.sleep(0.2)
    assert _children(process.pid, "dbt"), "dbt never started"
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    process.wait(timeout=30)
    while _group_alive(process.pid) and time.monotonic() - started < 10:
        time.sleep(0.2)
    assert not _group_alive(process.pid), "a child of the CLI outlived it by 10 s"


def _children(pid: int, name: str) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    return [int(line.split()[0]) for line in out.splitlines() if name in line]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
