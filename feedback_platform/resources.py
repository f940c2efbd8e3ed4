"""Resources shared by every asset: where the platform lives, the warehouse, and dbt."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as package_version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging.version import Version

from feedback_platform.dbt_project import dbt_project
from feedback_platform.engine import engine_for
from feedback_platform.settings import Settings
from feedback_platform.warehouse import duckdb_resource


class PlatformResource(dg.ConfigurableResource):
    """The platform home. The user-id salt is read from the environment at use, so it never
    appears in run config or the UI."""

    home: str

    def settings(self) -> Settings:
        return Settings.from_env({**os.environ, "FEEDBACK_PLATFORM_HOME": self.home})


def executable(name: str) -> str:
    """A console script from this interpreter's environment, so a venv works off PATH."""
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else name


class PlatformDbtResource(DbtCliResource):
    """dbt as dagster-dbt runs it, without two in-process set-ups the platform never uses.

    dagster-dbt runs ``dbt --version`` in a subprocess once per run to tell dbt-core from the
    Fusion engine: 1.7 s of every run, as long as a small drop's whole dbt build. The executable
    here is dbt-core from this environment, so its package metadata gives the same version.

    Before each ``dbt`` command it also loads the project and profile in this process and
    registers a dbt adapter, for ``fetch_row_counts``/``fetch_column_metadata`` only. The
    platform reads row counts and columns itself once dbt has exited (dbt_metadata.py: those
    methods keep the DuckDB file open under another configuration), so the adapter is never
    made: 1.5-2.6 s of every dbt step (cProfile of `feedback-platform run`).
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(package_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def build_resources(settings: Settings) -> dict[str, object]:
    return {
        "platform": PlatformResource(home=str(settings.home)),
        "duckdb": duckdb_resource(settings),
        "dbt": PlatformDbtResource(
            project_dir=dbt_project,
            dbt_executable=executable("dbt"),
            target=engine_for(settings).dbt_target,
        ),
    }
