"""The weeks of the weekly participation report: its partitions, and which of them are stale.

Apart from the report's assets (reporting.py) because the core dbt step asks for the stale
weeks right after each build (transformation.py), and the report's dbt assets run through that
module's ``dbt_build``: one module each way, no import cycle.
"""

from datetime import date

import dagster as dg
import duckdb

#: The report's files; its observations (a week made stale) and its runs are per week.
PARTICIPATION_WEEKLY = dg.AssetKey("participation_weekly")

#: When the newest row each week's report reads was ingested: now (a dbt view, rebuilt with the
#: marts) and as recorded when the week's report was built (a dbt table, models/reporting).
WEEKLY_REPORT_INPUTS = "intermediate.int_weekly_report_inputs"
WEEKLY_REPORT_INPUTS_KEY = dg.AssetKey(["intermediate", "int_weekly_report_inputs"])
REPORT_INPUTS_TABLE = "reports.participation_report_inputs"

#: Weeks start on Monday 00:00 UTC. The first week is early enough for any demo data.
weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date="2026-01-05", day_offset=1, timezone="UTC"
)


def weeks_with_new_inputs(con: duckdb.DuckDBPyConnection) -> set[date]:
    """Weeks with sessions whose report was never written or read rows that have since been
    rebuilt: the weeks a run has to report again."""
    stamps = dict(
        con.execute(
            f"select week_start, newest_input_ingested_at from {WEEKLY_REPORT_INPUTS}"
        ).fetchall()
    )
    try:
        built = dict(
            con.execute(
                f"select week_start, newest_input_ingested_at from {REPORT_INPUTS_TABLE}"
            ).fetchall()
        )
    except duckdb.CatalogException:  # no week was ever reported: dbt has not created it yet
        built = {}
    return {
        week
        for week, stamp in stamps.items()
        if week not in built or (stamp is not None and (built[week] is None or built[week] < stamp))
    }


def stale_report_weeks(con: duckdb.DuckDBPyConnection, *, every_week: bool = False) -> list[str]:
    """Partition keys of the complete weeks (ended, with sessions) whose report is missing or
    read rows rebuilt since; with ``every_week``, of every complete week. The dbt step asks this
    after each build, so reports follow the data in the UI as in the CLI."""
    weeks = sorted(
        week for (week,) in con.execute(f"select week_start from {WEEKLY_REPORT_INPUTS}").fetchall()
    )
    ended = set(weekly_partitions.get_partition_keys())
    changed = set() if every_week else weeks_with_new_inputs(con)
    return [
        week.isoformat()
        for week in weeks
        if week.isoformat() in ended and (every_week or week in changed)
    ]
