"""Fixtures of the asset tests: the known drop run through the whole pipeline once per module."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.assets.test_training import known_drop, run_pipeline
from tests.conftest import platform_home, write_jsonl


@pytest.fixture(scope="module")
def first_run_home(tmp_path_factory) -> tuple[Path, dg.ExecuteInProcessResult]:
    """The known drop run through the pipeline once per module (a dbt build, ~10 s); each test
    gets a copy of the home it left."""
    home = tmp_path_factory.mktemp("first-run") / "home"
    with platform_home(home) as settings:
        write_jsonl(settings.events_landing_dir / "day1.jsonl", known_drop())
        return home, run_pipeline(settings)


@pytest.fixture
def first_run(settings, first_run_home) -> dg.ExecuteInProcessResult:
    home, result = first_run_home
    shutil.copytree(home, settings.home, dirs_exist_ok=True, symlinks=True)
    return result
