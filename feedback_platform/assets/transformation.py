"""Stage 2: the dbt project (staging -> intermediate -> marts) as Dagster assets.

dbt tests, source tests included, become asset checks. Each table model's materialization
carries its row count and column types, read once dbt has exited (dbt_metadata.py).
"""

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_duckdb import DuckDBResource

from feedback_platform.assets.dbt_metadata import with_table_metadata
from feedback_platform.assets.report_weeks import (
    PARTICIPATION_WEEKLY,
    WEEKLY_REPORT_INPUTS_KEY,
    stale_report_weeks,
)
from feedback_platform.dbt_project import dbt_environment, dbt_project
from feedback_platform.engine import Engine, engine_for
from feedback_platform.resources import PlatformResource


class FeedbackDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """Group models by their folder (staging, intermediate, marts)."""
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "ingestion"

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        """A dbt test's check carries the test's own ``description`` (what a failure means),
        which dagster-dbt 0.29 does not read (it takes the test's ``meta.description``)."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        description = manifest["nodes"].get(unique_id, {}).get("description")
        return spec._replace(description=description) if spec and description else spec


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False
    """Rebuild the incremental models from all raw events instead of the newest drops only."""
    dbt_vars: dict[str, float] = {}
    """dbt vars for this build only, over those of dbt_project.yml (e.g. ``half_life_days`` for
    the publication, ``review_queue_max_items`` for the gated review models): a run can try
    another threshold without a code change."""


translator = FeedbackDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
)


#: dbt models downstream of Python assets that are themselves downstream of the core models
#: (the review agreement gate, the weekly reports, dataset publication): each folder has its
#: own dbt assets, so the core build leaves them out (one ``dbt build`` cannot wait for a Python
#: step). The review models before the gate stay in the core build: a drop's run then makes two
#: dbt calls, not three (each costs 2.4 s and more under load).
LATER_MODEL_FOLDERS = ("review/gated", "reporting", "publication")
CORE_EXCLUDE = " ".join(f"path:models/{folder}" for folder in LATER_MODEL_FOLDERS)


def dbt_build(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    platform: PlatformResource,
    duckdb: DuckDBResource,
    dbt_env: Mapping[str, str] | None = None,
    indirect_selection: str | None = None,
) -> Iterator:
    """``dbt build`` of the step's selected models, with each table's row count and columns.
    Every dbt asset definition of the platform runs its models through this; with
    ``indirect_selection`` (dbt's ``--indirect-selection``) a test of several models runs only
    as that mode allows."""
    settings = platform.settings()
    # The dbt subprocess inherits this process's environment; its profile reads the path here.
    os.environ.update({**dbt_environment(settings), **(dbt_env or {})})
    args = ["build", "--full-refresh"] if config.full_refresh else ["build"]
    # dbt's unit tests check the rules' SQL on fixed inputs, not the data: as dbt advises for
    # production, the platform's builds leave them out (2.9 s of the core build's 9.1 s on the
    # demo, 0.7 s of a report week's), and `make test` runs them all (tests/test_dbt_unit_tests.py).
    args += ["--exclude-resource-type", "unit_test"]
    if indirect_selection:
        args += ["--indirect-selection", indirect_selection]
    if config.dbt_vars:
        args += ["--vars", json.dumps(config.dbt_vars)]
    # One target folder per home, not one per run: dbt finds the parse it saved last time
    # (about 2 s of every run). Runs that open the warehouse never overlap (pool "duckdb").
    # dbt parses again from scratch when the vars change (6 s, 9 s under load), so builds with
    # vars keep a folder of their own and the others keep their parse. (A report week is an
    # environment variable the models read only when they run, not a var: a week's build
    # parses nothing again, macros/report_week.sql.)
    target = settings.dbt_target_dir / "with_vars" if config.dbt_vars else settings.dbt_target_dir
    engine = engine_for(settings)
    engine.publish_sources(duckdb, source_tables(dbt_project.manifest_path))
    events = dbt.cli(args, context=context, target_path=target).stream()
    events = _then_fetch(events, engine, duckdb, target)
    yield from with_table_metadata(context, duckdb, events, dbt_project.manifest_path)
    keep_run_results(target, settings.dbt_target_dir, context.op_execution_context.op.name)


def _then_fetch(
    events: Iterator, engine: Engine, warehouse: DuckDBResource, target_dir: Path
) -> Iterator:
    """dbt's events, then (once dbt has exited, before the table metadata is read) the
    relations the build made brought into the warehouse; after a failed build too, so the
    models it did build are read (and the build's own error is the one reported)."""
    try:
        yield from events
    finally:
        engine.fetch_relations(warehouse, built_relations(target_dir, dbt_project.manifest_path))


def source_tables(manifest_path: Path) -> list[str]:
    """Every dbt source table, as schema.name."""
    sources = json.loads(manifest_path.read_text(encoding="utf-8"))["sources"].values()
    return sorted({f"{source['schema']}.{source['identifier']}" for source in sources})


def built_relations(target_dir: Path, manifest_path: Path) -> list[str]:
    """The models and seeds the last build in ``target_dir`` made, as schema.name (none when
    dbt stopped before writing its results)."""
    run_results = target_dir / "run_results.json"
    if not run_results.exists():
        return []
    nodes = json.loads(manifest_path.read_text(encoding="utf-8"))["nodes"]
    results = json.loads(run_results.read_text(encoding="utf-8"))
    return sorted(
        f"{nodes[result['unique_id']]['schema']}.{nodes[result['unique_id']]['alias']}"
        for result in results["results"]
        if result["status"] == "success"
        and nodes.get(result["unique_id"], {}).get("resource_type") in ("model", "seed")
    )


def keep_run_results(target_dir: Path, home_target_dir: Path, step: str) -> Path:
    """Copy the build's ``run_results.json`` to ``run_results/<step>.json``: a run makes one
    dbt build per dbt step (core, gated review, publication, a report week), each of which
    overwrites the last, and the timings of every node stay readable after the run."""
    kept = home_target_dir / "run_results" / f"{step}.json"
    kept.parent.mkdir(exist_ok=True)
    shutil.copyfile(target_dir / "run_results.json", kept)
    return kept


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    exclude=CORE_EXCLUDE,
    pool="duckdb",
)
def dbt_models(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    if config.full_refresh and platform.settings().retention_days is not None:
        context.log.warning(
            "full refresh with FEEDBACK_PLATFORM_RETENTION_DAYS set: the incremental models"
            " and the daily metrics are rebuilt from the raw events retention kept, so the"
            " days before the window are gone from them"
        )
    yield from dbt_build(context, config, dbt, platform, duckdb)
    # Only a build of what the reports read can make one stale (a privacy request's run
    # rebuilds who is out of training data, on a home that may have no marts yet).
    if WEEKLY_REPORT_INPUTS_KEY in context.selected_asset_keys:
        observe_stale_reports(context, duckdb, every_week=config.full_refresh)


def observe_stale_reports(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, *, every_week: bool
) -> None:
    """Observe ``participation_weekly`` for each complete week whose report the build made
    stale. The observations show on the report's partitions in the UI; ``stale_reports_sensor``
    and ``feedback-platform run`` turn them into report runs. Asked here, while this step holds
    the warehouse, because sensors never open it."""
    with warehouse.get_connection() as con:
        weeks = stale_report_weeks(con, every_week=every_week)
    for week in weeks:
        context.log_event(
            dg.AssetObservation(
                asset_key=PARTICIPATION_WEEKLY,
                partition=week,
                metadata={"stale": "the week's sessions, generations or reviews were rebuilt"},
            )
        )
    context.log.info(f"weekly reports to refresh: {', '.join(weeks) or 'none'}")
