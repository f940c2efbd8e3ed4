"""Every dbt unit test of the project passes. The platform's own builds leave unit tests out
(they check the rules' SQL on fixed inputs, not the data), so this is where they run: against
a fresh home whose models dbt builds empty, since a unit test reads its inputs' columns from
the warehouse."""

from __future__ import annotations

import json
import os
import subprocess

from feedback_platform.dbt_project import DBT_PROJECT_DIR, dbt_environment
from feedback_platform.resources import executable
from feedback_platform.schema import AGREEMENT_DDL, ensure_schema
from feedback_platform.warehouse import connect


def test_every_dbt_unit_test_passes(settings, tmp_path):
    with connect(settings) as con:  # the tables the platform's Python writes, empty
        ensure_schema(con)
        con.execute(AGREEMENT_DDL)
    target = tmp_path / "dbt_target"
    environment = {
        **os.environ,
        **dbt_environment(settings),
        # the weekly reporting models build one week; any week does for empty models
        "FEEDBACK_PLATFORM_REPORT_WEEK_START": "2026-10-05",
        "FEEDBACK_PLATFORM_REPORT_WEEK_END": "2026-10-12",
    }
    completed = subprocess.run(
        [
            executable("dbt"),
            "build",
            "--empty",
            "--select",
            "+test_type:unit",
            "--exclude-resource-type",
            "test",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
        ],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout[-4000:]

    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())["results"]
    unit_results = {
        result["unique_id"]: result["status"]
        for result in results
        if result["unique_id"].startswith("unit_test.")
    }
    assert set(unit_results) == set(manifest["unit_tests"])
    assert set(unit_results.values()) == {"pass"}
