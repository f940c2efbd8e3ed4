"""The platform's Dagster instance: its storage in the instance folder, the pooled event log."""

from __future__ import annotations

import dagster as dg

from feedback_platform.instance import (
    PooledSqliteEventLogStorage,
    ensure_instance_home,
    platform_instance,
)

#: What an earlier platform wrote: no storage section, so Dagster's default storage.
EARLIER_DAGSTER_YAML = """\
# Written by feedback-platform. DuckDB allows one writer per file, so every step that opens
# the warehouse is in the `duckdb` pool and at most one such step runs at a time.
concurrency:
  pools:
    granularity: op
    default_limit: 1
telemetry:
  enabled: false
"""


@dg.asset
def greeting() -> str:
    return "hello"


def test_runs_and_their_events_are_kept_where_the_default_storage_keeps_them(settings):
    with platform_instance(settings) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        for _ in range(2):  # the second run's events reuse the engines of the first's
            assert dg.materialize([greeting], instance=instance).success

    # the layout of Dagster's default SQLite storage, so older homes keep their history
    history = settings.dagster_home / "history"
    assert (history / "runs.db").is_file() and (history / "runs" / "index.db").is_file()
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert len(instance.get_run_records()) == 2
        events = instance.fetch_materializations(dg.AssetKey("greeting"), limit=10).records
        assert len(events) == 2


def test_an_earlier_platforms_instance_config_is_upgraded_and_a_users_kept(settings):
    config = settings.dagster_home / "dagster.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(EARLIER_DAGSTER_YAML)
    ensure_instance_home(settings)
    assert "PlatformSqliteStorage" in config.read_text()

    users_own = "# my instance\ntelemetry:\n  enabled: false\n"
    config.write_text(users_own)
    ensure_instance_home(settings)
    assert config.read_text() == users_own
