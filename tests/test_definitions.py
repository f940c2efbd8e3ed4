"""The code location loads as `dagster dev` loads it, with the manifest prepared as in CI."""

from __future__ import annotations

import dagster as dg
import yaml

from feedback_platform.definitions import build_definitions
from feedback_platform.instance import ensure_instance_home

EXPECTED_ASSETS = {
    "raw_feedback_events",
    "raw_quarantined_events",
    "raw_ingested_files",
    "raw_review_labels",
    "raw_quarantined_review_labels",
    "raw_ingested_review_files",
    "staging/stg_feedback_events",
    "intermediate/int_events_sessionized",
    "intermediate/int_generation_chains",
    "intermediate/int_event_texts",
    "marts/fct_sessions",
    "marts/fct_generations",
    "marts/fct_signal_metrics_daily",
    "participation_weekly",
}


def test_definitions_load_with_every_stage(settings):
    defs = build_definitions(settings)
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys >= EXPECTED_ASSETS

    # dbt's source on raw.feedback_events is the ingestion asset itself, not a stray external
    stg = graph.get(dg.AssetKey(["staging", "stg_feedback_events"]))
    assert dg.AssetKey("raw_feedback_events") in stg.parent_keys

    checks = {check.name for check in graph.asset_check_keys}
    assert "source_unique_raw_feedback_events_event_id" in checks  # dbt source test
    assert "not_null_stg_feedback_events_event_id" in checks  # dbt model test
    assert "unique_fct_sessions_session_id" in checks
    assert "relationships_fct_generations_session_id__session_id__ref_fct_sessions_" in checks
    assert "ledger_balances" in checks
    assert "review_ledger_balances" in checks


def test_a_review_drop_rebuilds_what_depends_on_labels_only(settings):
    job = build_definitions(settings).resolve_job_def("ingest_reviews")
    keys = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert keys >= {
        "raw_review_labels",
        "raw_quarantined_review_labels",
        "raw_ingested_review_files",
    }
    assert not keys & {"raw_feedback_events", "participation_weekly"}


def test_every_warehouse_asset_is_in_the_duckdb_pool(settings):
    defs = build_definitions(settings)
    for assets_def in defs.resolve_asset_graph().assets_defs:
        if assets_def.is_executable:
            assert assets_def.op.pool == "duckdb", assets_def.keys


def test_raw_events_carry_the_freshness_policy(settings):
    graph = build_definitions(settings).resolve_asset_graph()
    policy = graph.get(dg.AssetKey("raw_feedback_events")).freshness_policy
    assert policy is not None
    assert policy.fail_window.to_timedelta().total_seconds() == 24 * 3600
    assert policy.warn_window.to_timedelta().total_seconds() == 12 * 3600


def test_instance_home_limits_the_duckdb_pool(settings):
    home = ensure_instance_home(settings)
    assert home == settings.home / "dagster"
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_dg_dev_rebuilds_the_manifest_only_when_the_dbt_sources_changed(tmp_path):
    """Every run worker of `dg dev` loads the code location; only a changed model (or macro,
    seed, project file) is worth a `dbt parse`."""
    import os
    import shutil

    from dagster_dbt import DbtProject

    from feedback_platform.dbt_project import DBT_PROJECT_DIR, manifest_is_stale

    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("logs"))
    project = DbtProject(project_dir=copy, profiles_dir=copy)
    built = project.manifest_path.stat().st_mtime
    for path in copy.rglob("*"):
        if path.is_file() and "target" not in path.parts:
            os.utime(path, (built - 10, built - 10))
    assert not manifest_is_stale(project)
    os.utime(copy / "models" / "marts" / "fct_sessions.sql", (built + 10, built + 10))
    assert manifest_is_stale(project)


def test_every_check_says_what_it_checks(settings):
    """The UI shows a check's description; dbt tests carry theirs from the yml."""
    graph = build_definitions(settings).resolve_asset_graph()
    specs = [spec for assets_def in graph.assets_defs for spec in assets_def.check_specs]
    assert specs and [spec.name for spec in specs if not spec.description] == []
