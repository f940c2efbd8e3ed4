"""The Dagster instance the platform runs on, kept under the platform home by default."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance

from feedback_platform.settings import Settings

#: Every asset that opens the DuckDB file is in the ``duckdb`` pool; the file has one writer.
DAGSTER_YAML = """\
# Written by feedback-platform. DuckDB allows one writer per file, so every step that opens
# the warehouse is in the `duckdb` pool and at most one such step runs at a time.
concurrency:
  pools:
    granularity: op
    default_limit: 1
telemetry:
  enabled: false
"""


def ensure_instance_home(settings: Settings) -> Path:
    """Create the instance folder with its ``dagster.yaml`` unless one is there already."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def platform_instance(settings: Settings) -> DagsterInstance:
    return DagsterInstance.from_config(str(ensure_instance_home(settings)))
