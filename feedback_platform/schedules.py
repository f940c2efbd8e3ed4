"""Schedules: the weekly participation report, and dataset publication on its own cadence."""

import dagster as dg

from feedback_platform.jobs import participation_report_job, publish_datasets_job
from feedback_platform.settings import DEFAULT_PUBLISH_CRON, Settings

#: Mondays at 01:00 UTC, for the complete week (Monday to Sunday) that ended an hour before.
participation_weekly_schedule = dg.build_schedule_from_partitioned_job(
    participation_report_job,
    name="participation_weekly_schedule",
    hour_of_day=1,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Materialize participation_weekly for the last complete week.",
)

PUBLISH_SCHEDULE_OFF = "off"


def publish_datasets_schedule(settings: Settings) -> dg.ScheduleDefinition:
    """Publish the datasets on ``FEEDBACK_PLATFORM_PUBLISH_CRON`` (default daily at 02:00 UTC;
    ``off`` keeps the schedule stopped, for deployments that publish only on demand). Drops
    rebuild the marts as they come; a trainer gets at most one new version a day."""
    off = settings.publish_cron.strip().lower() == PUBLISH_SCHEDULE_OFF
    return dg.ScheduleDefinition(
        name="publish_datasets_schedule",
        job=publish_datasets_job,
        cron_schedule=DEFAULT_PUBLISH_CRON if off else settings.publish_cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED
        if off
        else dg.DefaultScheduleStatus.RUNNING,
        description="Publish new dataset versions (preference pairs, KTO signals) when their"
        " content changed, and contributor impact.",
    )
