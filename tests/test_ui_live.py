"""The real UI (`feedback-platform ui`, dg dev) at a tiny size: drops already ingested start no
run, and SIGINT stops the UI and every process under it within 10 s. The latencies of the live
path are measured by benchmarks/live.py, never asserted here."""

from __future__ import annotations

import time

from benchmarks import live
from feedback_platform.cli import main
from tests.conftest import event, write_jsonl


def test_ui_starts_no_run_for_ingested_drops_and_stops_on_sigint(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("FEEDBACK_PLATFORM_SENSOR_INTERVAL_SECONDS", "5")  # two ticks sooner
    landing = settings.events_landing_dir
    write_jsonl(landing / "day1.jsonl", [event("e1", "generation"), event("e2", "copy")])
    write_jsonl(landing / "day2.jsonl", [event("e3", "thumbs_up")])
    assert main(["run"]) == 0

    # started as `make ui &` from a script would be: with SIGINT ignored, which the dagster
    # processes must not inherit
    ui = live.start_ui(settings.home, live.free_port(), tmp_path / "ui.log", ignore_sigint=True)
    try:
        live.wait_until_loaded(ui)
        ticks = live.wait_for_ticks(ui, ui.started, 2)
        assert all(tick["status"] != "FAILURE" for tick in ticks), ticks
        assert live.drop_runs(live.runs_since(ui, ui.started)) == []

        assert _ui_tree(ui), "the UI started no processes"
        seconds, left = live.stop_ui(ui, timeout=10)
    except BaseException:
        live.kill_ui(ui)
        raise
    assert left == [], f"alive {seconds:.1f} s after SIGINT: {[p.command[:80] for p in left]}"
    assert ui.process.returncode == 0


def _ui_tree(ui, wanted=("dagster_webserver", "dagster._daemon"), seconds: float = 10.0):
    """The UI's process tree once it shows every wanted process (a walk of /proc on a loaded
    machine once missed the webserver while it was answering), or the last walk."""
    deadline = time.monotonic() + seconds
    while True:
        tree = ui.note_processes()
        found = all(any(name in proc.command for proc in tree) for name in wanted)
        if found or time.monotonic() > deadline:
            return tree
        time.sleep(0.5)
