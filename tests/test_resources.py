"""The shared resources, as the assets use them."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import dagster_dbt.core.resource
import duckdb
import pytest

from feedback_platform.dbt_project import dbt_environment
from feedback_platform.resources import build_resources


def test_dbt_commands_do_not_ask_dbt_for_its_version_first(settings, monkeypatch):
    """dagster-dbt spawns `dbt --version` before a run's first dbt command (1.7 s); the
    platform's dbt resource knows the version of the dbt-core it runs."""

    def no_subprocess(command, *args, **kwargs):
        pytest.fail(f"spawned {command}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_subprocess)
    for name, value in dbt_environment(settings).items():
        monkeypatch.setenv(name, value)

    dbt = build_resources(settings)["dbt"]
    invocation = dbt.cli(["parse"], target_path=settings.dbt_target_dir).wait()

    assert invocation.is_successful()
    assert str(dbt._cli_version) == version("dbt-core")


def test_a_step_that_fails_holding_the_warehouse_releases_it(settings):
    """A failed step's error (kept by Dagster, as here) must not keep its connection open: with
    the in-process executor, the next step's dbt process would wait on this process's lock."""
    warehouse = build_resources(settings)["duckdb"]
    with (
        pytest.raises(duckdb.OutOfRangeException) as failure,
        warehouse.get_connection() as con,
    ):
        con.execute("select 9999999999999999::bigint * 1000")
    assert failure.traceback  # the error and its frames are still alive

    other_process = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(settings.warehouse_path)!r})"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other_process.returncode == 0, other_process.stderr[-500:]
