"""Runs whose process died: found and settled the next time anything starts.

A run killed by SIGKILL, the OOM killer or a machine restart never records its end. Dagster
then keeps it ``STARTED`` and keeps the ``duckdb`` pool slot its step had claimed, so every
later run waits for that slot forever (marking the run canceled does not free the slot). The
CLI (before each run) and the drop sensors (each tick) call ``settle_dead_runs``: a run whose
process is gone is marked failed and its slots are freed, and so are slots still held by runs
that have already ended.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from feedback_platform.processes import proc_stat

PID_TAG = "feedback_platform/pid"
HOST_TAG = "feedback_platform/host"

_RUNNING = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
POOL = "duckdb"


def process_tags() -> dict[str, str]:
    """Tags naming this process, for runs executed in it (the CLI's ``execute_in_process``)."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


@dataclass(frozen=True)
class SettledRun:
    run_id: str
    job_name: str
    pid: int

    def describe(self) -> str:
        return (
            f"Run {self.run_id} ({self.job_name}) died with its process {self.pid}: marked"
            " failed, its duckdb pool slot freed."
        )


def settle_dead_runs(instance: dg.DagsterInstance) -> list[SettledRun]:
    """Mark failed every running run of this machine whose process is gone, and free the pool
    slots of runs that are not running."""
    settled = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_RUNNING)):
        found = _run_pid(instance, run)
        if found is None:
            continue
        pid, seen_at = found
        if _alive(pid, since=seen_at):
            continue
        instance.report_run_failed(
            run, message=f"The run's process {pid} is gone (killed, out of memory or a restart)."
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        settled.append(SettledRun(run.run_id, run.job_name, pid))
    _free_slots_of_ended_runs(instance)
    return settled


def _free_slots_of_ended_runs(instance: dg.DagsterInstance) -> None:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    holders = {slot.run_id for slot in storage.get_concurrency_info(POOL).claimed_slots}
    for run_id in holders:
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)


def _run_pid(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[int, float | None] | None:
    """The process executing ``run`` on this machine, and a time it was known to be running:
    the CLI tags its runs (its process started before the run); a run worker that the UI's
    daemon launched logs "Started process for run (pid: N)" (it starts after the run is
    created, so only the time of that event tells a live worker from a reused pid)."""
    if PID_TAG in run.tags:
        if run.tags.get(HOST_TAG) != socket.gethostname():
            return None
        return int(run.tags[PID_TAG]), _started_at(instance, run)
    records = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=20
    ).records
    for record in records:
        data = record.event_log_entry.dagster_event.engine_event_data
        pid = data.metadata.get("pid") if data else None
        if pid is not None:
            return int(pid.value), record.event_log_entry.timestamp
    return None


def _started_at(instance: dg.DagsterInstance, run: dg.DagsterRun) -> float | None:
    record = instance.get_run_record_by_id(run.run_id)
    return record.start_time or record.create_timestamp.timestamp() if record else None


def _alive(pid: int, *, since: float | None) -> bool:
    """Whether ``pid`` is a live process that started before the run did (a process started
    later reuses the pid of the dead one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = _process_start(pid)
    return started is None or since is None or started <= since + 1.0


def _process_start(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch), from /proc; None where there is none."""
    fields = proc_stat(pid)
    if fields is None:
        return None
    try:
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, StopIteration, ValueError):
        return None
