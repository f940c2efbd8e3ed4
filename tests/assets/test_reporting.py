"""The weekly participation report on handcrafted sessions with known answers.

Week 1 (2026-10-05): four sessions of three users, one with explicit feedback.
Week 2 (2026-10-12): three sessions, two with explicit feedback (a rating and a correction).
Week 3 (2026-10-19): no activity at all.
The segment team/de never gives explicit feedback: its rate is 0, not missing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import dagster as dg
import pytest
from pytest import approx

from feedback_platform.assets.ingestion import raw_feedback_events
from feedback_platform.assets.reporting import (
    ImplicitHumanAgreement,
    SignalTypes,
    Skew,
    WeekFigures,
    WeekRow,
    participation_weekly,
    render_markdown,
    reporting_models,
)
from feedback_platform.assets.transformation import dbt_models
from feedback_platform.definitions import build_definitions
from feedback_platform.resources import build_resources
from tests.conftest import event, platform_home, query, write_jsonl

WEEK_1, WEEK_2, EMPTY_WEEK = "2026-10-05", "2026-10-12", "2026-10-19"

ALICE = {"user_id": "alice", "user_segment": "pro/en"}
BOB = {"user_id": "bob", "user_segment": "free/en"}
CAROL = {"user_id": "carol", "user_segment": "team/de"}


def session(prefix: str, user: dict, day: str, generation: str, model: str, *signals: tuple):
    """A session: one generation at 09:00 on ``day``, then its signals a minute apart."""
    events = [
        event(f"{prefix}-gen", "generation", occurred_at=f"{day}T09:00:00Z",
              generation_id=generation, model_version=model, session_id=prefix,
              output=f"answer {generation}", **user),
    ]  # fmt: skip
    for minute, (event_type, fields) in enumerate(signals, start=1):
        events.append(
            event(f"{prefix}-{event_type}", event_type, occurred_at=f"{day}T09:0{minute}:00Z",
                  generation_id=generation, session_id=prefix, **fields, **user)
        )  # fmt: skip
    return events


def known_drop() -> list[dict]:
    return [
        # week 1: only alice's session has explicit feedback (and she copied: completed)
        *session("a1", ALICE, "2026-10-05", "g1", "m1", ("thumbs_up", {}), ("copy", {})),
        *session("b1", BOB, "2026-10-06", "g2", "m1", ("edit", {"edited_text": "better g2"})),
        *session("c1", CAROL, "2026-10-07", "g3", "m2", ("view", {"dwell_ms": 800})),
        *session("c2", CAROL, "2026-10-08", "g4", "m2"),
        # week 2: alice rates, bob corrects, carol only reads
        *session("a2", ALICE, "2026-10-12", "g5", "m1", ("rating", {"rating": 5})),
        *session("b2", BOB, "2026-10-13", "g6", "m2", ("correction", {"edited_text": "fixed"})),
        *session("c3", CAROL, "2026-10-14", "g7", "m2", ("view", {"dwell_ms": 500})),
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One ingest + dbt build, then the report (its dbt models and files) for three weeks (week 1
    twice: idempotent)."""
    home = tmp_path_factory.mktemp("reporting") / "home"
    with platform_home(home) as settings:
        write_jsonl(settings.events_landing_dir / "known.jsonl", known_drop())
        resources = build_resources(settings)
        instance = dg.DagsterInstance.ephemeral()
        assert dg.materialize(
            [raw_feedback_events, dbt_models], resources=resources, instance=instance
        ).success
        results = {}
        for week in (WEEK_1, WEEK_2, EMPTY_WEEK, WEEK_1):
            result = dg.materialize(
                [reporting_models, participation_weekly],
                resources=resources,
                instance=instance,
                partition_key=week,
            )
            assert result.success
            results[week] = result
        yield settings, results


def rows(settings, week: str) -> dict[tuple[str, str], tuple]:
    found = query(
        settings,
        """
        select dimension, dimension_value, sessions, sessions_with_explicit_feedback,
               explicit_participation_rate, users, users_with_explicit_feedback, generations,
               implicit_coverage, explicit_participation_rate_change
        from reports.participation_weekly where week_start = ?
        """,
        [week],
    )
    return {(row[0], row[1]): row[2:] for row in found}


def test_week_one_has_the_exact_rates(built):
    settings, _ = built
    week = rows(settings, WEEK_1)
    # sessions, explicit, rate, users, users explicit, generations, implicit coverage, change
    assert week == {
        ("all", "all"): (4, 1, 0.25, 3, 1, 4, 0.75, None),  # nothing the week before
        ("user_segment", "pro/en"): (1, 1, 1.0, 1, 1, 1, 1.0, None),
        ("user_segment", "free/en"): (1, 0, 0.0, 1, 0, 1, 1.0, None),
        ("user_segment", "team/de"): (2, 0, 0.0, 1, 0, 2, 0.5, None),  # 0, not missing
        ("model_version", "m1"): (2, 1, 0.5, 2, 1, 2, 1.0, None),
        ("model_version", "m2"): (2, 0, 0.0, 1, 0, 2, 0.5, None),
    }


def test_week_two_changes_week_over_week(built):
    settings, _ = built
    week = rows(settings, WEEK_2)
    assert week[("all", "all")] == (
        3,
        2,
        approx(2 / 3),
        3,
        2,
        3,
        approx(1 / 3),
        approx(2 / 3 - 0.25),
    )
    assert week[("user_segment", "team/de")] == (1, 0, 0.0, 1, 0, 1, 1.0, 0.0)
    assert week[("user_segment", "free/en")] == (1, 1, 1.0, 1, 1, 1, 0.0, 1.0)
    assert week[("model_version", "m2")] == (2, 1, 0.5, 2, 1, 2, 0.5, 0.5)
    assert week[("model_version", "m1")] == (1, 1, 1.0, 1, 1, 1, 0.0, 0.5)
    assert len(week) == 6


def test_an_empty_week_still_has_its_all_row_and_report(built):
    settings, results = built
    assert rows(settings, EMPTY_WEEK) == {("all", "all"): (0, 0, None, 0, 0, 0, None, None)}
    report = settings.reports_dir / "participation" / f"{EMPTY_WEEK}.md"
    assert "There was no activity" in report.read_text()
    assert report.with_suffix(".png").is_file()
    [materialization] = results[EMPTY_WEEK].asset_materializations_for_node("participation_weekly")
    assert math.isnan(materialization.metadata["explicit_participation_rate"].value)
    assert materialization.metadata["sessions"].value == 0


def test_selection_bias_of_explicit_feedback(built):
    settings, _ = built
    skew = query(
        settings,
        """
        select week_start::varchar, sessions, sessions_with_explicit_feedback,
               completed_share_all, completed_share_explicit, completed_share_diff_pp,
               edit_rate_all, edit_rate_explicit, edit_rate_diff_pp
        from reports.participation_skew_weekly order by week_start
        """,
    )
    assert skew == [
        # week 1: alice (explicit) completed by copying; 1 of 4 outputs edited, not hers
        (WEEK_1, 4, 1, 0.25, 1.0, 75.0, 0.25, 0.0, -25.0),
        # week 2: nobody completed; bob's correction is the only edit, in an explicit session
        (WEEK_2, 3, 2, 0.0, 0.0, 0.0, approx(1 / 3), 0.5, approx(100 * (0.5 - 1 / 3))),
        (EMPTY_WEEK, 0, 0, None, None, None, None, None, None),
    ]


def test_rematerializing_a_week_replaces_its_rows(built):
    settings, _ = built
    assert query(
        settings,
        "select week_start::varchar, count(*) from reports.participation_weekly group by 1 "
        "order by 1",
    ) == [(WEEK_1, 6), (WEEK_2, 6), (EMPTY_WEEK, 1)]


def test_report_file_chart_and_ui_metadata(built):
    settings, results = built
    report = settings.reports_dir / "participation" / f"{WEEK_1}.md"
    chart = report.with_suffix(".png")
    assert chart.read_bytes().startswith(b"\x89PNG")
    text = report.read_text()
    assert "1 of 4 sessions (25.0%) had explicit feedback" in text
    assert f"]({WEEK_1}.png)" in text  # the chart beside the report
    assert "| user_segment | team/de | 2 | 0 | 0.0% |" in text
    assert "| completed share | 100.0% | 25.0% | +75.0 pp |" in text

    [materialization] = results[WEEK_1].asset_materializations_for_node("participation_weekly")
    metadata = materialization.metadata
    assert metadata["explicit_participation_rate"].value == 0.25
    assert metadata["report_path"].value == str(report)
    assert "](data:image/png;base64,iVBOR" in metadata["report"].value  # the UI shows the chart


def test_a_week_without_reviews_has_no_agreement_rows_and_says_so(built):
    settings, results = built
    assert query(settings, "select count(*) from reports.implicit_human_agreement_weekly") == [(0,)]
    for week in (WEEK_1, EMPTY_WEEK):
        report = (settings.reports_dir / "participation" / f"{week}.md").read_text()
        assert "- No output shown this week was reviewed against its implicit signals." in report
        assert "Warning" not in report
    [materialization] = results[WEEK_1].asset_materializations_for_node("participation_weekly")
    assert materialization.metadata["models_with_low_implicit_human_agreement"].value == "none"


def test_the_report_warns_for_the_model_whose_signals_people_overrule():
    """m1's signals agree with reviewers on 6 of 10 outputs (flagged by its dbt model), m2's on
    18 of 20: a warning for m1 under the summary and in the list, a plain line for m2."""
    week = WeekFigures(
        rows=[WeekRow("all", "all", 1, 0, 0.0, 1, 0, 1, 1.0, None)],
        skew=Skew(*[None] * 6),
        history=[],
        signal_types=SignalTypes(explicit=["thumbs_up"], implicit=["copy"]),
        agreement=[
            ImplicitHumanAgreement("m1", 10, 6, 0.6, 0.7, is_agreement_low=True),
            ImplicitHumanAgreement("m2", 20, 18, 0.9, 0.7, is_agreement_low=False),
        ],
    )

    report = render_markdown(datetime(2026, 10, 5).date(), week, chart_src="chart.png")

    warning = (
        "**Warning: implicit signals stopped agreeing with people for model m1**: they agreed"
        " with reviewers on 6 of 10 reviewed outputs of model m1 (60.0%), below the 70% floor;"
        " check its signals before training on them."
    )
    assert report.count(warning) == 2
    assert report.index(warning) < report.index("## Participation")
    assert (
        "- Implicit signals agreed with reviewers on 18 of 20 reviewed outputs of model m2"
        " (90.0%)." in report
    )
    assert report.count("Warning") == 2  # none for m2


def test_the_schedule_reports_the_week_that_just_ended(settings):
    defs = build_definitions(settings)
    schedule = defs.resolve_schedule_def("participation_weekly_schedule")
    assert schedule.cron_schedule == "0 1 * * 1"  # Mondays 01:00
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 10, 19, 1, 0, tzinfo=UTC)
    )
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == WEEK_2  # Monday 19 Oct reports the week of 12 Oct
