"""The dbt models, built for real by `dbt build` inside Dagster on drops with known answers."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import dagster as dg
import pytest

from feedback_platform.assets.ingestion import raw_feedback_events
from feedback_platform.assets.transformation import dbt_models
from feedback_platform.resources import build_resources
from tests.conftest import event, query, write_jsonl

#: The sessionized events and the marts, compared without the bookkeeping column of
#: incremental runs.
MODELS = (
    "intermediate.int_events_sessionized",
    "intermediate.int_generation_chains",
    "marts.fct_sessions",
    "marts.fct_generations",
    "marts.fct_signal_metrics_daily",
    "marts.fct_preference_candidates",
    "marts.fct_kto_candidates",
    "marts.fct_review_candidates",
)


def build(settings, *, full_refresh: bool = False) -> dg.ExecuteInProcessResult:
    """Ingest every new drop and run `dbt build`, as the `feedback_pipeline` job does."""
    result = dg.materialize(
        [raw_feedback_events, dbt_models],
        resources=build_resources(settings),
        run_config={
            "ops": {
                "raw_feedback_events": {"config": {"files": []}},
                "dbt_models": {"config": {"full_refresh": full_refresh}},
            }
        },
    )
    assert result.success
    return result


def at(clock: str) -> str:
    return f"2026-10-05T{clock}Z"


ALICE = {"user_id": "alice", "user_segment": "pro/en", "session_id": "tab-1"}
BOB = {"user_id": "bob", "user_segment": "free/en", "session_id": None}


def known_drop() -> list[dict]:
    """Alice: two sessions split by a 77-minute gap. Bob: two sessions split by 35 minutes."""
    return [
        event("e1", "generation", occurred_at=at("09:00:00"), generation_id="g1",
              model_version="m1", output="The capital of France is Lyon.", **ALICE),
        event("e2", "view", occurred_at=at("09:01:00"), generation_id="g1", dwell_ms=4000,
              **ALICE),
        event("e3", "edit", occurred_at=at("09:02:00"), generation_id="g1",
              edited_text="The capital of France is Paris.", **ALICE),
        event("e4", "copy", occurred_at=at("09:03:00"), generation_id="g1", **ALICE),
        event("e5", "generation", occurred_at=at("09:10:00"), generation_id="g2",
              model_version="m1", output="first try", **ALICE),
        event("e6", "regenerate", occurred_at=at("09:11:00"), generation_id="g2", **ALICE),
        event("e7", "generation", occurred_at=at("09:12:00"), generation_id="g3",
              parent_generation_id="g2", model_version="m1", output="second try", **ALICE),
        event("e8", "thumbs_up", occurred_at=at("09:13:00"), generation_id="g3", **ALICE),
        event("e9", "generation", occurred_at=at("10:30:00"), generation_id="g4",
              model_version="m1", output="wrong", **ALICE),
        event("e10", "thumbs_down", occurred_at=at("10:31:00"), generation_id="g4", **ALICE),
        event("e11", "comment", occurred_at=at("10:32:00"), generation_id="g4",
              comment="not what I asked", **ALICE),
        event("e12", "generation", occurred_at=at("09:00:00"), generation_id="g5",
              model_version="m2", output="Hello world.", **BOB),
        event("e13", "edit", occurred_at=at("09:05:00"), generation_id="g5",
              edited_text="  Hello   world.\n", **BOB),
        event("e14", "generation", occurred_at=at("09:40:00"), generation_id="g6",
              model_version="m2", output="Done.", **BOB),
        event("e15", "task_complete", occurred_at=at("10:00:00"), **BOB),
    ]  # fmt: skip


def test_a_drop_with_a_known_right_answer(settings):
    write_jsonl(settings.events_landing_dir / "day1.jsonl", known_drop())
    result = build(settings)

    sessions = query(
        settings,
        """
        select user_segment, started_at::varchar, event_count, outcome, has_explicit_feedback
        from marts.fct_sessions order by user_segment, started_at
        """,
    )
    assert sessions == [
        ("free/en", "2026-10-05 09:00:00", 2, "abandoned", False),
        ("free/en", "2026-10-05 09:40:00", 2, "completed", False),
        ("pro/en", "2026-10-05 09:00:00", 8, "completed", True),
        ("pro/en", "2026-10-05 10:30:00", 3, "abandoned", True),
    ]
    generations = query(
        settings,
        """
        select generation_id, outcome, is_edited, round(edit_ratio, 4), is_regenerated,
            chain_id, chain_retry_count, is_accepted
        from marts.fct_generations order by generation_id
        """,
    )
    assert generations == [
        ("g1", "edited", True, round(5 / 31, 4), False, "g1", 0, True),
        ("g2", "regenerated", False, 0.0, True, "g2", 1, False),
        ("g3", "accepted", False, 0.0, False, "g2", 1, True),
        ("g4", "rejected", False, 0.0, False, "g4", 0, False),
        ("g5", "no_signal", False, 0.0, False, "g5", 0, False),  # whitespace-only edit
        ("g6", "accepted", False, 0.0, False, "g6", 0, True),  # task_complete credits it
    ]
    # every generation sits in the session of its generation event
    assert query(
        settings,
        """
        select count(*) from marts.fct_generations g
        join marts.fct_sessions s using (session_id)
        """,
    ) == [(6,)]

    # dbt tests ran as asset checks and passed (unit tests run in tests/test_dbt_unit_tests.py)
    checks = result.get_asset_check_evaluations()
    assert len(checks) > 20
    assert all(check.passed for check in checks), [c.check_name for c in checks if not c.passed]


def test_table_models_show_row_counts_and_column_types(settings):
    """As dagster-dbt's fetch_row_counts would, but read once dbt has exited, so the next DuckDB
    step of the same process (here a second build) still opens the warehouse."""
    write_jsonl(settings.events_landing_dir / "day1.jsonl", known_drop())
    build(settings)
    write_jsonl(settings.events_landing_dir / "day2.jsonl", [event("e99", "copy", **ALICE)])
    result = build(settings)

    by_key = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("dbt_models")
    }
    sessions = by_key["marts/fct_sessions"]
    assert (
        sessions["dagster/row_count"].value
        == query(settings, "select count(*) from marts.fct_sessions")[0][0]
    )
    columns = {c.name: c for c in sessions["dagster/column_schema"].schema.columns}
    assert columns["session_id"].type == "varchar"
    assert columns["session_id"].description  # the yml's docs stay on the columns
    assert by_key["intermediate/int_events_sessionized"]["dagster/row_count"].value == 16
    assert "dagster/row_count" not in by_key["staging/stg_feedback_events"]  # a view


def test_a_late_event_merges_two_sessions(settings):
    write_jsonl(settings.events_landing_dir / "day1.jsonl", known_drop())
    build(settings)
    bob_sessions = "select session_id from marts.fct_sessions where user_segment = 'free/en'"
    first, second = sorted(query(settings, bob_sessions + " order by started_at"))
    assert first != second

    # 09:20 sits 15 minutes after bob's first session and 20 before his second: it bridges them
    late = event("e16", "view", occurred_at=at("09:20:00"), generation_id="g5", dwell_ms=900,
                 **BOB)  # fmt: skip
    write_jsonl(settings.events_landing_dir / "day2-late.jsonl", [late])
    build(settings)

    assert query(
        settings,
        """
        select started_at::varchar, ended_at::varchar, event_count, outcome
        from marts.fct_sessions where user_segment = 'free/en'
        """,
    ) == [("2026-10-05 09:00:00", "2026-10-05 10:00:00", 5, "completed")]
    assert query(settings, "select count(*) from marts.fct_sessions") == [(3,)]
    # the merged session keeps the id of its first event's session; g6 moved into it
    merged_id = query(settings, bob_sessions)[0][0]
    assert merged_id in (first[0], second[0])
    assert query(
        settings,
        "select distinct session_id from marts.fct_generations where generation_id in ('g5', 'g6')",
    ) == [(merged_id,)]


def test_late_chain_events_rebuild_the_whole_chain(settings):
    """A run rebuilds only the chains its batch touches, and all of each: a regenerate event for
    a chain's second generation, arriving after the user moved on to another session, changes
    the retry count of the first; a parent that arrives after its child (another user's
    generation) takes the child into its chain."""
    carol = {"user_id": "carol", "user_segment": "edu/fr", "session_id": "c-1"}
    first = [
        event("c1", "generation", occurred_at=at("09:00:00"), generation_id="a1", **ALICE),
        event("c2", "regenerate", occurred_at=at("09:01:00"), generation_id="a1", **ALICE),
        event("c3", "generation", occurred_at=at("09:02:00"), generation_id="a2",
              parent_generation_id="a1", **ALICE),
        event("c4", "generation", occurred_at=at("12:00:00"), generation_id="a9", **ALICE),
        event("c5", "generation", occurred_at=at("09:30:00"), generation_id="b2",
              parent_generation_id="c1-parent", **BOB),
    ]  # fmt: skip
    later = [
        # after alice's 12:00 session began, so her 09:00 session is not sessionized again
        event("c6", "regenerate", occurred_at=at("12:05:00"), generation_id="a2", **ALICE),
        event("c7", "generation", occurred_at=at("09:00:00"), generation_id="c1-parent", **carol),
    ]  # fmt: skip
    write_jsonl(settings.events_landing_dir / "first.jsonl", first)
    build(settings)
    write_jsonl(settings.events_landing_dir / "later.jsonl", later)
    build(settings)

    chains = """
        select generation_id, chain_id, chain_position, chain_length, chain_retry_count
        from intermediate.int_generation_chains order by generation_id
    """
    expected = [
        ("a1", "a1", 0, 2, 2),
        ("a2", "a1", 1, 2, 2),
        ("a9", "a9", 0, 1, 0),
        ("b2", "c1-parent", 1, 2, 1),
        ("c1-parent", "c1-parent", 0, 2, 1),
    ]
    assert query(settings, chains) == expected
    generations = """
        select generation_id, chain_id, chain_position, chain_retry_count, outcome
        from marts.fct_generations order by generation_id
    """
    incremental = query(settings, generations)
    assert incremental[3] == ("b2", "c1-parent", 1, 1, "no_signal")
    build(settings, full_refresh=True)
    assert query(settings, chains) == expected
    assert query(settings, generations) == incremental


def test_a_first_build_over_no_events_does_not_stall_later_drops(settings):
    build(settings)  # an empty warehouse: the incremental models start out empty
    assert query(settings, "select count(*) from marts.fct_sessions") == [(0,)]

    write_jsonl(settings.events_landing_dir / "day1.jsonl", known_drop())
    build(settings)
    assert query(settings, "select count(*) from marts.fct_sessions") == [(4,)]
    assert query(settings, "select count(*) from marts.fct_generations") == [(6,)]


def random_events(seed: int, users: int = 6, per_user: int = 40) -> list[dict]:
    """Events around every session edge: gaps of exactly 30 min and 30 min + 1 s, client ids
    that change or vanish, regeneration chains, edits, completions without a generation, and
    signals that make and unmake pairs and KTO rows (copies, thumbs, choices between outputs)."""
    rng = random.Random(seed)
    minutes = [1, 29, 30, 30 + 1 / 60, 45, 180]  # 30 + 1/60: thirty minutes and one second
    gaps = [timedelta(minutes=m) for m in minutes]
    events = []
    for u in range(users):
        clock = datetime(2026, 10, 5, 8, 0, 0)
        client = "c1"
        generations: list[str] = []
        for i in range(per_user):
            clock += rng.choice(gaps)
            if rng.random() < 0.1:
                client = rng.choice(["c1", "c2", None])
            base = {
                "user_id": f"user-{u}",
                "session_id": client,
                "user_segment": f"seg-{u % 2}",
                "occurred_at": clock.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            event_id = f"u{u}-e{i}"
            kind = rng.choice(["generation", "generation", "regenerate", "edit", "copy",
                               "view", "task_complete", "thumbs_down", "thumbs_up",
                               "prefer"])  # fmt: skip
            if kind == "generation" or not generations:
                generation_id = f"u{u}-g{i}"
                parent = generations[-1] if generations and rng.random() < 0.3 else None
                if generations and rng.random() < 0.1:  # the same generation sent again
                    generation_id, parent = rng.choice(generations), rng.choice(generations)
                fields = {
                    "generation_id": generation_id,
                    "model_version": f"m{u % 3}",
                    "output": f"answer {i} of user {u}",
                    "parent_generation_id": parent,
                }
                events.append(event(event_id, "generation", **base, **fields))
                if generation_id not in generations:
                    generations.append(generation_id)
            elif kind == "task_complete":
                events.append(event(event_id, "task_complete", **base))
            elif kind == "prefer":
                chosen, other = rng.choice(generations), rng.choice(generations)
                events.append(event(event_id, "prefer", generation_id=chosen,
                                    other_generation_id=other, **base))  # fmt: skip
            elif kind == "edit":
                target = rng.choice(generations)
                events.append(event(event_id, "edit", generation_id=target,
                                    edited_text=f"edited {i}", **base))  # fmt: skip
            else:
                fields = {"dwell_ms": rng.randrange(10_000)} if kind == "view" else {}
                events.append(event(event_id, kind, generation_id=rng.choice(generations),
                                    **base, **fields))  # fmt: skip
    return events


def snapshot(settings) -> dict[str, list[tuple]]:
    """Every row of every model; floats rounded, as sums over another row order may differ in
    the last bits."""
    tables = {}
    for model in MODELS:
        schema, table = model.split(".")
        bookkeeping = query(
            settings,
            "select count(*) from information_schema.columns where table_schema = ?"
            " and table_name = ? and column_name = 'batch_ingested_at'",
            [schema, table],
        )
        exclude = " exclude (batch_ingested_at)" if bookkeeping == [(1,)] else ""
        rows = query(settings, f"select *{exclude} from {model} order by all")
        tables[model] = [
            tuple(round(value, 9) if isinstance(value, float) else value for value in row)
            for row in rows
        ]
    return tables


@pytest.mark.parametrize("seed", [11])
def test_drops_one_by_one_equal_one_full_refresh(settings, seed):
    """Events arrive in random order across four drops (late data everywhere); after each drop
    an incremental build runs. The result must equal a full refresh over all of them."""
    events = random_events(seed)
    random.Random(seed).shuffle(events)
    for index in range(4):
        write_jsonl(settings.events_landing_dir / f"drop-{index}.jsonl", events[index::4])
        build(settings)
    incremental = snapshot(settings)
    assert len(incremental["marts.fct_sessions"]) > 20
    assert len(incremental["marts.fct_preference_candidates"]) > 10
    assert len(incremental["marts.fct_kto_candidates"]) > 10

    build(settings, full_refresh=True)
    full = snapshot(settings)
    for model in MODELS:
        assert incremental[model] == full[model], model
