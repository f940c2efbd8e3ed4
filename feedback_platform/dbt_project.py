"""The dbt project as Dagster sees it: where it is and where its manifest comes from."""

from __future__ import annotations

import yaml
from dagster_dbt import DbtProject

from feedback_platform.contract import DBT_PROJECT_DIR
from feedback_platform.settings import Settings

# DBT_PROJECT_DIR: the repository's dbt_project/, or the folder FEEDBACK_PLATFORM_DBT_PROJECT_DIR
# names, read once at import; the contract reads its taxonomy seed from the same folder.

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Under `dagster dev` the manifest is rebuilt from the SQL on load; elsewhere (CI, `make`)
# it is prepared ahead with `dagster-dbt project prepare-and-package`.
dbt_project.prepare_if_dev()


def dbt_environment(settings: Settings) -> dict[str, str]:
    """Environment the dbt profile reads: the absolute warehouse path of these settings and the
    DuckDB memory limit, which dbt's own connection must keep too."""
    return {
        "FEEDBACK_PLATFORM_WAREHOUSE_PATH": str(settings.warehouse_path),
        "FEEDBACK_PLATFORM_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
    }


def dbt_vars() -> dict:
    """The project's vars (thresholds of the pair and review rules), as in dbt_project.yml."""
    config = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return config.get("vars", {})
