"""`feedback-platform run` end to end: real instance, real DuckDB file, real dbt build."""

from __future__ import annotations

import gzip
import json

import duckdb
from dagster import DagsterInstance

from feedback_platform.cli import main
from tests.conftest import event, query, write_jsonl


def test_run_ingests_new_drops_and_builds_downstream(settings, capsys):
    write_jsonl(
        settings.events_landing_dir / "day1.jsonl",
        [event("e1", "generation"), event("e2", "copy"), "{oops"],
    )
    assert main(["run"]) == 0
    output = capsys.readouterr().out
    assert "materialized staging/stg_feedback_events" in output
    assert "succeeded" in output

    assert query(settings, "select count(*) from staging.stg_feedback_events") == [(2,)]
    assert query(settings, "select count(*) from raw.quarantined_events") == [(1,)]

    # the runs are on the platform's own instance, so the UI shows them afterwards: the
    # pipeline, then the weekly report for the (complete) week of the drop
    with DagsterInstance.from_config(str(settings.home / "dagster")) as instance:
        runs = [record.dagster_run for record in instance.get_run_records()]
        assert sorted((run.job_name, run.tags.get("dagster/partition")) for run in runs) == [
            ("feedback_pipeline", None),
            ("participation_report", "2026-10-05"),
        ]
    assert "report for the week of 2026-10-05: 0.0% of sessions" in output
    report = settings.reports_dir / "participation" / "2026-10-05.md"
    assert report.is_file() and report.with_suffix(".png").is_file()

    # running again with nothing new changes nothing, and reports no week again
    before = query(settings, "select * from raw.feedback_events order by all")
    assert main(["run"]) == 0
    assert query(settings, "select * from raw.feedback_events order by all") == before
    assert "0 weeks with data newer than their report" in capsys.readouterr().out


def report_runs(settings) -> list[str]:
    """The week of every report run so far."""
    with DagsterInstance.from_config(str(settings.home / "dagster")) as instance:
        runs = [record.dagster_run for record in instance.get_run_records()]
    return sorted(
        run.tags["dagster/partition"] for run in runs if run.job_name == "participation_report"
    )


def test_run_reports_again_only_the_weeks_with_new_data_and_full_refresh_every_week(
    settings, capsys
):
    # (that a run with nothing new reports no week again is the first test's)
    write_jsonl(settings.events_landing_dir / "week1.jsonl", [event("e1", "generation")])
    assert main(["run"]) == 0
    assert report_runs(settings) == ["2026-10-05"]

    # another user's events two weeks later: only their week is reported
    later = event("e2", "generation", generation_id="g2", user_id="bob",
                  occurred_at="2026-10-20T09:00:00Z")  # fmt: skip
    write_jsonl(settings.events_landing_dir / "week3.jsonl", [later])
    assert main(["run"]) == 0
    assert report_runs(settings) == ["2026-10-05", "2026-10-19"]

    # a late event in the first week reports it again, and the weeks whose chart shows it
    late = event("e3", "copy", occurred_at="2026-10-05T09:05:00Z")
    write_jsonl(settings.events_landing_dir / "late.jsonl", [late])
    assert main(["run"]) == 0
    assert report_runs(settings) == ["2026-10-05", "2026-10-05", "2026-10-19", "2026-10-19"]

    # an incremental model whose stored columns no longer match its SQL (as after an upgrade)
    # fails the run rather than mixing shapes, and reports no week
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("alter table intermediate.int_events_sessionized add column dropped_text text")
    write_jsonl(settings.events_landing_dir / "day2.jsonl", [event("e4", "share")])
    capsys.readouterr()
    assert main(["run"]) == 1
    output = capsys.readouterr().out
    assert "step FAILED: dbt_models" in output
    assert "Weekly reports not refreshed: the run failed." in output

    # `run --full-refresh` rebuilds it, and reports every week
    assert main(["run", "--full-refresh"]) == 0
    assert "2 weeks with data newer than their report" in capsys.readouterr().out
    columns = query(
        settings,
        "select column_name from information_schema.columns"
        " where table_name = 'int_events_sessionized'",
    )
    assert ("dropped_text",) not in columns
    assert query(settings, "select count(*) from intermediate.int_events_sessionized") == [(4,)]


def test_an_unreadable_drop_is_named_and_does_not_block_the_others(settings, capsys):
    write_jsonl(settings.events_landing_dir / "good.jsonl", [event("e1", "generation")])
    truncated = gzip.compress(b'{"event_id": "e2"}\n' * 1000)[:100]
    (settings.events_landing_dir / "cut.jsonl.gz").write_bytes(truncated)

    assert main(["run"]) == 0  # the good drop and everything downstream still run
    output = capsys.readouterr().out
    assert "check warning: raw_ingested_files every_drop_ingested" in output
    assert "cut.jsonl.gz" in output  # the summary names the file to fix
    assert "materialized marts/fct_generations" in output
    assert query(settings, "select event_id from raw.feedback_events") == [("e1",)]
    assert query(settings, "select file_name from raw.ingested_files") == [("good.jsonl",)]

    # it stays out of the ledger, so the next run retries it
    (settings.events_landing_dir / "cut.jsonl.gz").write_bytes(
        gzip.compress(json.dumps(event("e2", "copy")).encode() + b"\n")
    )
    assert main(["run"]) == 0
    assert query(settings, "select event_id from raw.feedback_events order by 1") == [
        ("e1",),
        ("e2",),
    ]


def test_publish_publishes_the_datasets_on_demand(settings, capsys):
    write_jsonl(
        settings.events_landing_dir / "day1.jsonl",
        [event("e1", "generation"), event("e2", "edit")],
    )
    assert main(["run"]) == 0
    latest = settings.datasets_dir / "preference_pairs" / "LATEST"
    first = latest.read_text().strip()

    # nothing changed: publishing again makes no new version
    assert main(["publish"]) == 0
    output = capsys.readouterr().out
    assert "materialized preference_pairs" in output and "materialized contributor_impact" in output
    assert latest.read_text().strip() == first
    with DagsterInstance.from_config(str(settings.home / "dagster")) as instance:
        jobs = [record.dagster_run.job_name for record in instance.get_run_records()]
    assert "publish_datasets" in jobs


def test_docs_builds_one_offline_page_with_every_model(settings, capsys):
    assert main(["docs"]) == 0
    page = settings.home / "dbt_docs" / "static_index.html"
    assert str(page) in capsys.readouterr().out
    html = page.read_text()
    for model in ("stg_feedback_events", "int_events_sessionized", "fct_sessions",
                  "fct_generations", "fct_signal_metrics_daily"):  # fmt: skip
        assert model in html
    assert "strictly greater than" in html  # the session rules doc block
