"""Settings come from the environment, with every path under the platform home."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedback_platform import settings as settings_module
from feedback_platform.definitions import build_definitions
from feedback_platform.settings import DEV_USER_SALT, Settings


def test_everything_lives_under_the_home(tmp_path):
    settings = Settings.from_env(
        {"FEEDBACK_PLATFORM_HOME": str(tmp_path), "FEEDBACK_PLATFORM_USER_SALT": "s"}
    )
    assert settings.warehouse_path == tmp_path / "warehouse.duckdb"
    assert settings.events_landing_dir == tmp_path / "landing" / "events"
    assert settings.reviews_landing_dir == tmp_path / "landing" / "reviews"
    assert settings.dagster_home == tmp_path / "dagster"
    assert {settings.datasets_dir, settings.review_dir, settings.reports_dir} == {
        tmp_path / "datasets",
        tmp_path / "review",
        tmp_path / "reports",
    }


def test_default_home_is_data_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"FEEDBACK_PLATFORM_USER_SALT": "s"})
    assert settings.home == tmp_path / "data"


def test_an_explicit_dagster_home_wins(tmp_path):
    settings = Settings.from_env(
        {
            "FEEDBACK_PLATFORM_HOME": str(tmp_path),
            "FEEDBACK_PLATFORM_USER_SALT": "s",
            "DAGSTER_HOME": str(tmp_path / "elsewhere"),
        }
    )
    assert settings.dagster_home == Path(tmp_path / "elsewhere")


def test_a_missing_salt_warns_once_and_uses_the_dev_salt(tmp_path, monkeypatch):
    monkeypatch.setattr(settings_module, "_dev_salt_warned", False)
    with pytest.warns(UserWarning, match="FEEDBACK_PLATFORM_USER_SALT") as warned:
        for _ in range(9):  # every asset and resource of a run reads the settings
            settings = Settings.from_env({"FEEDBACK_PLATFORM_HOME": str(tmp_path)})
    assert len(warned) == 1
    assert "reverse" in str(warned[0].message)  # it says plainly what the public salt means
    assert settings.user_salt == DEV_USER_SALT


def test_the_engine_is_duckdb_unless_set_and_spark_builds_dbt_on_the_thrift_target(tmp_path):
    home = {"FEEDBACK_PLATFORM_HOME": str(tmp_path)}
    assert Settings.from_env(home).engine == "duckdb"
    assert build_definitions(Settings.from_env(home)).resources["dbt"].target == "duckdb"
    with pytest.raises(ValueError, match="expected one of duckdb, spark"):
        Settings.from_env({**home, "FEEDBACK_PLATFORM_ENGINE": "trino"})
    spark = Settings.from_env({**home, "FEEDBACK_PLATFORM_ENGINE": "spark"})
    assert build_definitions(spark).resources["dbt"].target == "spark_thrift"
