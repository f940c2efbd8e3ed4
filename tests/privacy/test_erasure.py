"""An erase request carried out for real: a user with events, a quarantined line, a review
label and rows in a published dataset version is gone from every table, file and dataset
version, from the warehouse file's bytes and from the run's event log, in the run that ingests
the request, while every other user's rows stay as they were. Then retention, on a copy of
the same home: old raw events go, the daily metrics built from them stay."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest
from dagster._serdes import serialize_value
from dagster_dbt import build_dbt_asset_selection

from feedback_platform.assets.ingestion import EVENT_TABLES, raw_feedback_events
from feedback_platform.assets.retention import raw_events_retention
from feedback_platform.assets.review_labels import raw_review_labels
from feedback_platform.assets.transformation import dbt_models
from feedback_platform.definitions import build_definitions
from feedback_platform.ingest.pseudonymize import user_key
from feedback_platform.resources import build_resources
from tests.assets.test_training import gen, known_drop, signal
from tests.conftest import TEST_SALT, event, platform_home, query, write_jsonl

#: What only the erased user typed: no other row, file or log line may hold it afterwards.
DISTINCT = "ZEPHYRINE-QUOKKA-77"
ERIN = {"user_id": "erin-the-erased", "user_segment": "pro/en", "session_id": "tab-9"}
ERIN_KEY = user_key(ERIN["user_id"], TEST_SALT)


def erins_events() -> list[dict | str]:
    """An edit (a preference pair), a thumbs up (a KTO row), a thumbs down with a comment (a
    review item) and a line quarantined for its rating, each quoting the distinctive text."""
    return [
        gen("x1", "11:00:00", "gx1", f"Paris is in Spain, says {DISTINCT}", ERIN,
            prompt=f"Where is Paris? asks {DISTINCT}"),
        signal("x2", "edit", "11:01:00", "gx1", ERIN,
               edited_text=f"Paris is in France, writes {DISTINCT} at length"),
        gen("x3", "11:05:00", "gx2", f"A fine poem for {DISTINCT}", ERIN,
            prompt=f"Poem please, from {DISTINCT}"),
        signal("x4", "thumbs_up", "11:06:00", "gx2", ERIN),
        gen("x5", "11:10:00", "gx3", "Two plus two is five", ERIN,
            prompt=f"Sum 2 + 2 for {DISTINCT}"),
        signal("x6", "thumbs_down", "11:11:00", "gx3", ERIN),
        signal("x7", "comment", "11:12:00", "gx3", ERIN, comment=f"wrong, {DISTINCT} says"),
        json.dumps(
            signal("x8", "rating", "11:13:00", "gx3", ERIN, rating="five",
                   comment=f"{DISTINCT} rates it")
        ),
    ]  # fmt: skip


def others(table: str, column: str) -> str:
    """Every row of ``table`` not of the erased user, as one order-independent fingerprint."""
    return (
        f"select count(*), bit_xor(hash(t::varchar)) from {table} as t"
        f" where {column} <> '{ERIN_KEY}'"
    )


def erins_item(settings) -> dict:
    for line in (settings.review_dir / "queue.jsonl").read_text().splitlines():
        item = json.loads(line)
        if DISTINCT in (item["prompt"] or ""):
            return item
    raise AssertionError("the erased user's review item is not queued")


def labels(item_id: str) -> list[dict | str]:
    """Two reviewers correct the erased user's item quoting them; a third line is quarantined."""
    return [
        {"item_id": item_id, "reviewer_id": reviewer, "label": "neither",
         "corrected_text": f"2 + 2 = 4, dear {DISTINCT}", "labeled_at": f"2026-10-06T10:0{n}:00Z"}
        for n, reviewer in enumerate(["rev-1", "rev-2"])
    ] + [{"item_id": item_id, "reviewer_id": "rev-3", "label": "maybe",
          "labeled_at": "2026-10-06T10:05:00Z"}]  # fmt: skip


def run_job(settings, instance, name: str) -> dg.ExecuteInProcessResult:
    result = build_definitions(settings).resolve_job_def(name).execute_in_process(instance=instance)
    assert result.success
    return result


def holds_erased(text: str | bytes) -> bool:
    if isinstance(text, bytes):
        return DISTINCT.encode() in text or ERIN_KEY.encode() in text
    return DISTINCT in text or ERIN_KEY in text


@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    """The known drop and the erased user's events through the pipeline, their review labels
    ingested, then their erase request dropped and the privacy job run, on one instance."""
    home = tmp_path_factory.mktemp("erasure") / "home"
    with platform_home(home) as settings, dg.DagsterInstance.ephemeral() as instance:
        write_jsonl(settings.events_landing_dir / "day1.jsonl", known_drop() + erins_events())
        run_job(settings, instance, "feedback_pipeline")
        item = erins_item(settings)
        write_jsonl(settings.reviews_landing_dir / "round-1.jsonl", labels(item["item_id"]))
        assert dg.materialize(
            [raw_review_labels], resources=build_resources(settings), instance=instance
        ).success
        before = {
            "events": query(settings, others("raw.feedback_events", "user_id")),
            "sessions": query(settings, others("marts.fct_sessions", "user_key")),
            "generations": query(settings, others("marts.fct_generations", "user_key")),
        }
        first_versions = {
            dataset: (settings.datasets_dir / dataset / "LATEST").read_text().strip()
            for dataset in ("preference_pairs", "kto_signals")
        }
        assert holds_erased(settings.warehouse_path.read_bytes())
        unerased = tmp_path_factory.mktemp("unerased") / "home"
        shutil.copytree(home, unerased)
        write_jsonl(
            settings.privacy_landing_dir / "requests-1.jsonl",
            [
                {"request_id": "req-erase-1", "user_id": ERIN["user_id"], "kind": "erase",
                 "requested_at": "2026-10-20T09:00:00Z"},
                # asked twice: one erasure, recorded on both
                {"request_id": "req-erase-2", "user_id": ERIN["user_id"], "kind": "erase",
                 "requested_at": "2026-10-21T09:00:00Z"},
            ],
        )  # fmt: skip
        run_job(settings, instance, "ingest_privacy_requests")
        yield settings, instance, before, first_versions, unerased


def test_the_erased_user_is_in_no_table_of_any_schema(erased):
    settings = erased[0]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        relations = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
        holding = [
            relation
            for (relation,) in relations
            if con.execute(
                f"select count(*) from {relation} as t"
                " where contains(t::varchar, ?) or contains(t::varchar, ?)",
                [DISTINCT, ERIN_KEY],
            ).fetchone()[0]
        ]
    assert len(relations) > 30
    assert holding == []


def test_no_file_under_the_home_holds_them_not_even_the_warehouse_bytes(erased):
    settings = erased[0]
    files = [path for path in settings.home.rglob("*") if path.is_file()]
    assert settings.warehouse_path in files
    assert [path for path in files if holds_erased(path.read_bytes())] == []
    parquet = [str(path) for path in files if path.suffix == ".parquet"]
    assert len(parquet) >= 4
    [(rows_holding,)] = query(
        settings,
        "select count(*) from read_parquet(?, union_by_name = true) as t"
        " where contains(t::varchar, ?) or contains(t::varchar, ?)",
        [parquet, DISTINCT, ERIN_KEY],
    )
    assert rows_holding == 0
    assert not list(settings.privacy_landing_dir.glob("*.jsonl"))  # it named the raw user id


def test_no_event_log_entry_of_any_run_holds_them(erased):
    instance = erased[1]
    runs = instance.get_runs()
    assert len(runs) == 3
    entries = [entry for run in runs for entry in instance.all_logs(run.run_id)]
    assert [
        serialize_value(entry) for entry in entries if holds_erased(serialize_value(entry))
    ] == []


def test_older_versions_are_rewritten_with_redacted_by_and_a_new_one_published(erased):
    settings = erased[0]
    for dataset, first_version in erased[3].items():
        root = settings.datasets_dir / dataset
        latest = (root / "LATEST").read_text().strip()
        assert latest != first_version
        old = json.loads((root / first_version / "manifest.json").read_text())
        new = json.loads((root / latest / "manifest.json").read_text())
        assert old["redacted_by"] == ["req-erase-1"]
        assert "redacted_by" not in new
        assert old["content_fingerprint"] == new["content_fingerprint"]
        assert old["row_counts"] == new["row_counts"]
        for name, file in old["files"].items():
            [(rows,)] = query(
                settings, "select count(*) from read_parquet(?)", [str(root / first_version / name)]
            )
            assert rows == file["rows"]


def test_privacy_status_reports_what_was_removed(erased, capsys):
    from feedback_platform.cli import main

    settings = erased[0]
    assert main(["privacy", "status", "req-erase-1"]) == 0
    out = capsys.readouterr().out
    assert "carried out at" in out
    assert "rows removed from raw.feedback_events: 7" in out
    assert "rows removed from raw.quarantined_events: 1" in out
    assert "rows removed from raw.review_labels: 2" in out
    assert "rows removed from raw.quarantined_review_labels: 1" in out
    assert "dataset versions rewritten (redacted_by): preference_pairs/v000001-" in out
    assert ", kto_signals/v000001-" in out
    assert "landing drops deleted: 3" in out
    assert query(
        settings,
        "select request_id, user_key, subject_hash is not null, completed_at is not null"
        " from raw.privacy_requests order by 1",
    ) == [("req-erase-1", None, True, True), ("req-erase-2", None, True, True)]
    assert main(["privacy", "status", "req-erase-2"]) == 0
    assert "rows removed from raw.feedback_events: 7" in capsys.readouterr().out


def test_every_other_users_rows_are_unchanged(erased):
    settings, before = erased[0], erased[2]
    assert query(settings, others("raw.feedback_events", "user_id")) == before["events"]
    assert query(settings, others("marts.fct_sessions", "user_key")) == before["sessions"]
    assert query(settings, others("marts.fct_generations", "user_key")) == before["generations"]
    assert before["events"][0][0] == len(known_drop())


def test_retention_deletes_old_raw_events_and_keeps_the_daily_metrics(erased, tmp_path):
    """The events of the home are from October 2026; a drop's ingestion with a 30-day window
    (the drop holds one event of yesterday), then dbt, deletes them from the raw tables
    only."""
    with platform_home(tmp_path / "home") as settings, pytest.MonkeyPatch.context() as env:
        shutil.copytree(erased[0].home, settings.home, dirs_exist_ok=True)
        env.setenv("FEEDBACK_PLATFORM_RETENTION_DAYS", "30")
        [(sessions_before,)] = query(settings, "select count(*) from marts.fct_sessions")
        yesterday = datetime.now(UTC) - timedelta(days=1)
        write_jsonl(
            settings.events_landing_dir / "recent.jsonl",
            [event("r1", "generation", occurred_at=yesterday.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   generation_id="gr1", user_id="fay", session_id="t")],
        )  # fmt: skip
        # the drop's ingestion, retention and the core dbt build of a drop's run (the review
        # steps after it read nothing retention touched)
        assert dg.materialize(
            [raw_feedback_events, raw_events_retention, dbt_models],
            resources=build_resources(settings),
            selection=dg.AssetSelection.assets(*EVENT_TABLES.keys, raw_events_retention)
            | build_dbt_asset_selection([dbt_models], dbt_select="+fct_signal_metrics_daily"),
        ).success

        assert query(settings, "select event_id from raw.feedback_events") == [("r1",)]
        # the October day's metrics still count every generation of the known drop (the
        # erased user's are gone), though none of their raw events is left
        assert query(
            settings,
            "select sum(generations) from marts.fct_signal_metrics_daily"
            " where metric_date = '2026-10-05'",
        ) == [(sum(e["event_type"] == "generation" for e in known_drop()),)]
        assert query(settings, "select count(*) from marts.fct_sessions") == [
            (sessions_before + 1,)
        ]


def test_an_erasure_killed_mid_way_is_finished_by_the_next_run(erased, tmp_path, monkeypatch):
    """Killed after the files were redacted, before the rows went: the request waits with its
    key, and the next run deletes the rows, compacts and completes it."""
    from feedback_platform.assets.privacy import privacy_erasures, raw_privacy_requests
    from feedback_platform.privacy import erasure

    with platform_home(tmp_path / "home") as settings:
        shutil.copytree(erased[4], settings.home, dirs_exist_ok=True)
        write_jsonl(
            settings.privacy_landing_dir / "requests-1.jsonl",
            [{"request_id": "req-erase-1", "user_id": ERIN["user_id"], "kind": "erase",
              "requested_at": "2026-10-20T09:00:00Z"}],
        )  # fmt: skip
        resources = build_resources(settings)

        def killed(*_):
            raise KeyboardInterrupt("killed")

        with monkeypatch.context() as patch:
            patch.setattr(erasure, "_delete_rows", killed)
            with pytest.raises(KeyboardInterrupt):
                dg.materialize([raw_privacy_requests, privacy_erasures], resources=resources)
        assert query(settings, "select user_key, completed_at from raw.privacy_requests") == [
            (ERIN_KEY, None)
        ]
        assert query(
            settings, f"select count(*) from raw.feedback_events where user_id = '{ERIN_KEY}'"
        ) == [(7,)]

        assert dg.materialize([privacy_erasures], resources=resources).success

        [(key, completed_at, outcome)] = query(
            settings, "select user_key, completed_at, outcome from raw.privacy_requests"
        )
        assert key is None and completed_at is not None
        outcome = json.loads(outcome)
        assert outcome["rows removed from raw.feedback_events"] == 7
        assert outcome["dataset versions rewritten (redacted_by)"].startswith("preference_pairs/")
        assert outcome["landing drops deleted"] == 3
        assert not holds_erased(settings.warehouse_path.read_bytes())
        old = (
            settings.datasets_dir / "preference_pairs" / erased[3]["preference_pairs"]
        ) / "manifest.json"
        assert json.loads(old.read_text())["redacted_by"] == ["req-erase-1"]


def test_an_erasure_on_spark_stops_with_a_message_and_leaves_the_request_waiting(
    erased, tmp_path, monkeypatch
):
    """The incremental models on Spark would keep the user's rows, so the erasure refuses
    rather than completing a request it did not carry out."""
    from feedback_platform.assets.privacy import privacy_erasures, raw_privacy_requests

    with platform_home(tmp_path / "home") as settings:
        shutil.copytree(erased[4], settings.home, dirs_exist_ok=True)
        write_jsonl(
            settings.privacy_landing_dir / "requests-1.jsonl",
            [{"request_id": "req-erase-1", "user_id": ERIN["user_id"], "kind": "erase",
              "requested_at": "2026-10-20T09:00:00Z"}],
        )  # fmt: skip
        monkeypatch.setenv("FEEDBACK_PLATFORM_ENGINE", "spark")
        resources = build_resources(type(settings).from_env())
        with pytest.raises(RuntimeError, match="privacy_erasures does not run on"):
            dg.materialize([raw_privacy_requests, privacy_erasures], resources=resources)
        assert query(settings, "select user_key, completed_at from raw.privacy_requests") == [
            (ERIN_KEY, None)
        ]
        assert query(
            settings, f"select count(*) from raw.feedback_events where user_id = '{ERIN_KEY}'"
        ) == [(7,)]
