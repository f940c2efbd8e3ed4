"""Schedules: the weekly participation report for the week that just ended."""

import dagster as dg

from feedback_platform.jobs import participation_report_job

#: Mondays at 01:00 UTC, for the complete week (Monday to Sunday) that ended an hour before.
participation_weekly_schedule = dg.build_schedule_from_partitioned_job(
    participation_report_job,
    name="participation_weekly_schedule",
    hour_of_day=1,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Materialize participation_weekly for the last complete week.",
)
