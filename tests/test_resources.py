"""The shared resources, as the assets use them."""

from __future__ import annotations

from importlib.metadata import version

import dagster_dbt.core.resource
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
