"""Settings come from the environment, with every path under the platform home."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_a_missing_salt_warns_and_uses_the_dev_salt(tmp_path):
    with pytest.warns(UserWarning, match="FEEDBACK_PLATFORM_USER_SALT"):
        settings = Settings.from_env({"FEEDBACK_PLATFORM_HOME": str(tmp_path)})
    assert settings.user_salt == DEV_USER_SALT
