"""The event taxonomy is one table, dbt_project/seeds/event_types.csv: a new row is a new signal
for validation and for every model, with no other change."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg

from feedback_platform import contract
from feedback_platform.assets.ingestion import raw_feedback_events
from feedback_platform.resources import build_resources
from tests.conftest import TEST_SALT, event, query, write_jsonl

REPO = Path(__file__).resolve().parent.parent
WEEK = "2026-10-05"


def seed_rows(project: Path) -> list[dict[str, str]]:
    with (project / "seeds" / "event_types.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_the_contract_is_the_seed():
    rows = seed_rows(contract.DBT_PROJECT_DIR)
    assert tuple(row["event_type"] for row in rows) == contract.EVENT_TYPES
    for row in rows:
        required = tuple(row["required_fields"].split())
        assert contract.REQUIRED_BY_TYPE[row["event_type"]] == required


def bookmark_drop(landing: Path) -> Path:
    """One generation the user bookmarked, and one nobody did anything with."""
    return write_jsonl(
        landing / "bookmarks.jsonl",
        [
            event("e1", "generation", generation_id="g1", occurred_at="2026-10-05T09:00:00Z"),
            event("e2", "bookmark", generation_id="g1", occurred_at="2026-10-05T09:01:00Z"),
            event("e3", "generation", generation_id="g2", occurred_at="2026-10-05T09:02:00Z"),
        ],
    )


def test_an_unknown_event_type_is_quarantined(settings):
    """Without a row in the seed, a bookmark is an unknown type (the control of the next test)."""
    bookmark_drop(settings.events_landing_dir)
    result = dg.materialize(
        [raw_feedback_events],
        resources=build_resources(settings),
        run_config={"ops": {"raw_feedback_events": {"config": {"files": []}}}},
    )
    assert result.success
    assert query(settings, "select event_id, reason from raw.quarantined_events") == [
        ("e2", "unknown_event_type")
    ]


#: Run in a fresh process, since the dbt project's folder is read at import: prepare the copy's
#: manifest, then ingest and build as the pipeline does, then the week's report.
BUILD_WITH_THE_COPY = textwrap.dedent(
    f"""
    import dagster as dg

    from feedback_platform.dbt_project import dbt_project

    dbt_project.preparer.prepare(dbt_project)

    from feedback_platform.assets.ingestion import raw_feedback_events
    from feedback_platform.assets.reporting import participation_weekly, reporting_models
    from feedback_platform.assets.transformation import dbt_models
    from feedback_platform.resources import build_resources
    from feedback_platform.settings import Settings

    resources = build_resources(Settings.from_env())
    instance = dg.DagsterInstance.ephemeral()
    config = {{"ops": {{"raw_feedback_events": {{"config": {{"files": []}}}}}}}}
    assert dg.materialize(
        [raw_feedback_events, dbt_models], resources=resources, instance=instance,
        run_config=config,
    ).success
    assert dg.materialize(
        [reporting_models, participation_weekly], resources=resources, instance=instance,
        partition_key="{WEEK}",
    ).success
    """
)


def test_a_new_seed_row_is_a_new_signal_everywhere(settings, tmp_path):
    """A copy of the dbt project with one more row, `bookmark` (implicit, positive, accepts the
    output): a bookmark is ingested, accepts its generation and counts in implicit coverage."""
    project = tmp_path / "dbt_project"
    ignore = shutil.ignore_patterns("target", "logs", "dbt_packages")
    shutil.copytree(REPO / "dbt_project", project, ignore=ignore)
    with (project / "seeds" / "event_types.csv").open("a", encoding="utf-8") as seed:
        seed.write("bookmark,implicit,positive,true,false,generation_id\n")
    bookmark_drop(settings.events_landing_dir)

    env = {
        **os.environ,
        "FEEDBACK_PLATFORM_DBT_PROJECT_DIR": str(project),
        "FEEDBACK_PLATFORM_HOME": str(settings.home),
        "FEEDBACK_PLATFORM_USER_SALT": TEST_SALT,
        # dagster-dbt runs the `dbt` of this interpreter's environment
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    env.pop("DAGSTER_HOME", None)
    completed = subprocess.run(
        [sys.executable, "-c", BUILD_WITH_THE_COPY],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-5000:]

    # ingested, not quarantined
    assert query(settings, "select count(*) from raw.quarantined_events") == [(0,)]
    assert query(
        settings, "select event_id from raw.feedback_events where event_type = 'bookmark'"
    ) == [("e2",)]
    assert query(
        settings,
        "select signal_class, is_implicit_signal, is_explicit_feedback, accepts_output"
        " from staging.stg_feedback_events where event_id = 'e2'",
    ) == [("implicit", True, False, True)]

    # it accepts its generation and counts as an implicit signal
    assert query(
        settings,
        "select generation_id, is_accepted, has_implicit_signal, has_explicit_feedback, outcome"
        " from marts.fct_generations order by generation_id",
    ) == [("g1", True, True, False, "accepted"), ("g2", False, False, False, "no_signal")]
    # it does not complete the session (completes_session false): the seed's flag, not a rule
    assert query(settings, "select implicit_signal_count, outcome from marts.fct_sessions") == [
        (1, "abandoned")
    ]
    # implicit coverage of the week's report: one of the two generations
    assert query(
        settings,
        "select generations, implicit_coverage from reports.participation_weekly"
        " where week_start = ? and dimension = 'all'",
        [WEEK],
    ) == [(2, 0.5)]
