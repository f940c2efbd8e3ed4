"""The dbt project as Dagster sees it: where it is and where its manifest comes from."""

from __future__ import annotations

import yaml
from dagster_dbt import DbtProject

from feedback_platform.contract import DBT_PROJECT_DIR
from feedback_platform.ingest.pseudonymize import user_key
from feedback_platform.settings import Settings

# DBT_PROJECT_DIR: the repository's dbt_project/, or the folder FEEDBACK_PLATFORM_DBT_PROJECT_DIR
# names, read once at import; the contract reads its taxonomy seed from the same folder.

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

#: What a dbt parse reads: a manifest older than any of these is stale.
_DBT_SOURCES = ("dbt_project.yml", "models/**/*", "macros/**/*", "seeds/**/*")


def manifest_is_stale(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(
        path.is_file() and path.stat().st_mtime > built
        for pattern in _DBT_SOURCES
        for path in project.project_dir.glob(pattern)
    )


# Under `dg dev` the manifest is rebuilt from the SQL when the code location loads, if the SQL
# changed since it was built; elsewhere (CI, `make`) it is prepared ahead with `dagster-dbt
# project prepare-and-package`. Not on every load: each run worker of `dg dev` loads the code
# location too, and `prepare_if_dev()` spent 5-8 s of every run on `dbt --version` and
# `dbt parse` (and rewrote the manifest other runs were reading).
if dbt_project.preparer.using_dagster_dev() and manifest_is_stale(dbt_project):
    dbt_project.preparer.prepare(dbt_project)


def gold_item_key(settings: Settings) -> str:
    """The key gold review items' ids are hashed with (``review/gated/gold_items``): derived
    from the platform's secret salt (an HMAC of a fixed label), so a reviewer cannot tell a
    gold item by its id, and dbt's compiled SQL, which holds this key, never holds the salt."""
    return user_key("feedback-platform:gold-items", settings.user_salt)


def dbt_environment(settings: Settings) -> dict[str, str]:
    """Environment the dbt profile and models read: the absolute warehouse path of these
    settings, the DuckDB memory limit, which dbt's own connection must keep too, and the gold
    items' key; on Spark, the port of the home's Thrift server (target ``spark_thrift``)."""
    return {
        "FEEDBACK_PLATFORM_WAREHOUSE_PATH": str(settings.warehouse_path),
        "FEEDBACK_PLATFORM_SPARK_THRIFT_PORT": str(settings.spark_thrift_port),
        "FEEDBACK_PLATFORM_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "FEEDBACK_PLATFORM_GOLD_ITEM_KEY": gold_item_key(settings),
    }


def dbt_vars() -> dict:
    """The project's vars (thresholds of the pair and review rules, the datasets' half-life
    and holdout share), as in dbt_project.yml."""
    config = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return config.get("vars", {})
