"""The review loop end to end: queued items, labels returned as a drop, the agreement gate,
and reviewed pairs in the next dataset version."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from dagster_dbt import build_dbt_asset_selection

from feedback_platform.assets.reporting import participation_weekly, reporting_models
from feedback_platform.assets.review_labels import REVIEW_LABEL_TABLES, raw_review_labels
from feedback_platform.assets.transformation import dbt_models
from feedback_platform.definitions import build_definitions
from feedback_platform.resources import build_resources
from tests.assets.test_training import LONG_ANSWER, gen, published, run_pipeline, signal
from tests.conftest import query, write_jsonl


@pytest.fixture
def queued(settings, first_run) -> dict[str, dict]:
    """The pipeline run on the known drop (a copy of the home it left); the queued items by
    reason."""
    lines = (settings.review_dir / "queue.jsonl").read_text().splitlines()
    return {item["reason"]: item for item in map(json.loads, lines)}


def run_job(settings, name: str, ops_config: dict | None = None) -> dg.ExecuteInProcessResult:
    """One job of the platform (a drop's, as its sensor asks for it) on the home's drops."""
    job = build_definitions(settings).resolve_job_def(name)
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance, run_config={"ops": ops_config} if ops_config else None
        )
    assert result.success
    return result


def label(item: dict, reviewer: str, value: str, minute: int, corrected_text=None) -> dict:
    return {
        "item_id": item["item_id"],
        "reviewer_id": reviewer,
        "label": value,
        "corrected_text": corrected_text,
        "labeled_at": f"2026-10-06T10:{minute:02d}:00Z",
    }


def agreeing_batch(queued) -> list[dict]:
    retry, negative, tiny = (
        queued["high_retry"],
        queued["negative_with_comment"],
        queued["low_confidence_pair"],
    )
    return [
        label(retry, "rev-1", "b", 1),
        label(retry, "rev-2", "b", 2),
        label(negative, "rev-1", "neither", 3, corrected_text="2 + 2 = 4"),
        label(negative, "rev-2", "neither", 4, corrected_text="It is 4."),
        label(tiny, "rev-1", "b", 5),
        label(tiny, "rev-2", "b", 6),
        label(queued["conflicting_signals"], "rev-1", "a", 7),  # one review: no decision
    ]


def test_agreeing_reviews_become_review_pairs_and_leave_the_queue(settings, queued):
    first_version = published(settings)[1]
    write_jsonl(settings.reviews_landing_dir / "round-1.jsonl", agreeing_batch(queued))

    result = run_pipeline(settings)

    assert query(
        settings,
        "select batch, reason, items, items_with_two_or_more, labels, reviewers, alpha, is_usable"
        " from review.agreement order by reason <> 'all', reason",
    ) == [
        ("round-1.jsonl", "all", 4, 3, 7, 2, 1.0, True),
        ("round-1.jsonl", "conflicting_signals", 1, 0, 1, 1, None, True),
        ("round-1.jsonl", "high_retry", 1, 1, 2, 2, 1.0, True),
        ("round-1.jsonl", "low_confidence_pair", 1, 1, 2, 2, 1.0, True),
        ("round-1.jsonl", "negative_with_comment", 1, 1, 2, 2, 1.0, True),
    ]
    root, latest, manifest = published(settings)
    assert latest != first_version
    assert manifest["row_counts"]["by_source"]["review"] == 3
    assert query(
        settings,
        "select chosen, rejected, confidence from training.preference_pairs"
        " where source = 'review' order by chosen",
    ) == [
        ("DuckDB is an in-process analytical database for fast SQL queries.",
         "DuckDB is an in-process analytical database for fast SQL queries", 1.0),
        ("It is 4.", "Wrong answer", 1.0),  # the latest of the two corrections
        ("try 4", "try 1", 1.0),
    ]  # fmt: skip
    # labeled items are not queued again; the unlabeled one stays
    assert query(settings, "select reason from review.review_queue") == [("conflicting_signals",)]
    [check] = [
        evaluation
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.check_name == "review_batches_agree"
    ]
    assert check.passed


def test_a_batch_below_the_agreement_threshold_is_not_used(settings, queued):
    write_jsonl(settings.reviews_landing_dir / "round-1.jsonl", agreeing_batch(queued))
    run_pipeline(settings)
    pairs_before = query(
        settings, "select pair_id, chosen from training.preference_pairs order by pair_id"
    )
    retry, negative = queued["high_retry"], queued["negative_with_comment"]
    write_jsonl(
        settings.reviews_landing_dir / "round-2.jsonl",
        [
            label(retry, "rev-3", "a", 10),
            label(retry, "rev-4", "b", 11),
            label(negative, "rev-3", "tie", 12),
            label(negative, "rev-4", "a", 13),
        ],
    )

    result = run_pipeline(settings)

    [(alpha, usable)] = query(
        settings,
        "select alpha, is_usable from review.agreement"
        " where batch = 'round-2.jsonl' and reason = 'all'",
    )
    assert alpha < 0.667 and not usable
    [check] = [
        evaluation
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.check_name == "review_batches_agree"
    ]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert f"round-2.jsonl: Krippendorff's alpha {alpha:.3f} < 0.667" in check.description
    # the earlier, trustworthy decisions stand
    assert (
        query(settings, "select pair_id, chosen from training.preference_pairs order by pair_id")
        == pairs_before
    )


def test_the_segment_quota_keeps_a_small_segment_visible(settings):
    """Three high-priority items in a big segment, one low-priority item in a small one, room
    for two: the quota gives the small segment its place."""
    big = {"user_id": "bea", "user_segment": "big/en", "session_id": "s-big"}
    small = {"user_id": "sam", "user_segment": "small/xx", "session_id": "s-small"}
    events = []
    for n in range(3):
        events += [
            gen(f"b{n}", f"09:0{n}:00", f"big-{n}", f"bad answer {n}", big, prompt=f"q{n}"),
            signal(f"bd{n}", "thumbs_down", f"09:0{n}:10", f"big-{n}", big),
            signal(f"bc{n}", "comment", f"09:0{n}:20", f"big-{n}", big, comment="wrong"),
        ]
    events += [
        gen("s0", "09:30:00", "small-0", LONG_ANSWER, small, prompt="Describe DuckDB"),
        signal("s1", "edit", "09:31:00", "small-0", small, edited_text=LONG_ANSWER + "!"),
    ]
    write_jsonl(settings.events_landing_dir / "day1.jsonl", events)

    def queue(per_segment_quota: int) -> list[tuple]:
        run_pipeline(
            settings,
            {
                "gated_models": {
                    "config": {
                        "dbt_vars": {
                            "review_queue_max_items": 2,
                            "review_queue_per_segment_quota": per_segment_quota,
                        }
                    }
                }
            },
        )
        return query(
            settings, "select user_segment, reason from review.review_queue order by queue_position"
        )

    assert queue(per_segment_quota=0) == [
        ("big/en", "negative_with_comment"),
        ("big/en", "negative_with_comment"),
    ]
    assert queue(per_segment_quota=1) == [
        ("big/en", "negative_with_comment"),
        ("small/xx", "low_confidence_pair"),
    ]


def test_a_careless_reviewer_is_caught_by_the_gold_items_and_left_out(settings, queued):
    """Three more edits and a draw that makes every human decision an anchor: the queue gets
    gold items that look like any other. A reviewer wrong on every gold item has all their
    labels of the batch left out before agreement, and the check names them; no gold label
    becomes a review pair."""
    alice = {"user_id": "alice", "user_segment": "pro/en", "session_id": "tab-9"}
    events = []
    for n in range(3):
        events += [
            gen(f"x{n}", f"11:0{n}:00", f"x{n}", f"wrong fact {n}", alice, prompt=f"Fact {n}?"),
            signal(f"xe{n}", "edit", f"11:0{n}:30", f"x{n}", alice, edited_text=f"right fact {n}"),
        ]
    write_jsonl(settings.events_landing_dir / "day2.jsonl", events)
    gold_vars = {"anchors_per_segment": 10, "anchor_max_segment_share": 1.0, "gold_item_share": 1.0}
    # the drops' own jobs, as the sensors run them: the queue without the datasets
    run_job(settings, "ingest_events", {"gated_models": {"config": {"dbt_vars": gold_vars}}})

    gold = dict(query(settings, "select item_id, answer from review.gold_answers"))
    assert len(gold) == 4  # one per real item (share 1.0), of the five anchors
    exported = [
        json.loads(line) for line in (settings.review_dir / "queue.jsonl").read_text().splitlines()
    ]
    gold_lines = [item for item in exported if item["item_id"] in gold]
    assert len(gold_lines) == 4 and len(exported) == 8
    assert {tuple(item) for item in exported} == {tuple(exported[0])}  # the same fields
    assert all(len(item["item_id"]) == 32 and item["generation_ids"] for item in exported)
    wrong = {"a": "b", "b": "a"}
    labels = agreeing_batch(queued)
    for minute, (item_id, answer) in enumerate(sorted(gold.items()), start=20):
        labels += [
            {**label({"item_id": item_id}, "rev-1", answer, minute)},
            {**label({"item_id": item_id}, "rev-2", answer, minute)},
            {**label({"item_id": item_id}, "rev-3", wrong[answer], minute)},
        ]
    labels += [label(queued[reason], "rev-3", "tie", 40) for reason in queued]
    write_jsonl(settings.reviews_landing_dir / "round-1.jsonl", labels)

    result = run_job(settings, "ingest_reviews")

    assert query(
        settings,
        "select reviewer_id, gold_seen, gold_correct, is_excluded from review.reviewer_quality"
        " order by reviewer_id",
    ) == [("rev-1", 4, 4, False), ("rev-2", 4, 4, False), ("rev-3", 4, 0, True)]
    # rev-3's ties would have broken agreement: without them and the gold labels, alpha is 1
    assert query(
        settings,
        "select labels, reviewers, alpha, is_usable from review.agreement where reason = 'all'",
    ) == [(7, 2, 1.0, True)]
    [check] = [
        evaluation
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.check_name == "review_batches_agree"
    ]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert (
        "batch round-1.jsonl: reviewer rev-3 answered 0 of 4 gold items right (0% < 70%),"
        " their labels are not used" in check.description
    )
    # the three real items the two careful reviewers decided, and no gold item
    assert query(
        settings,
        "select count(*), count(*) filter (where item_id in"
        " (select item_id from review.gold_answers)) from review.review_pairs",
    ) == [(3, 0)]


def test_the_weekly_report_holds_implicit_signals_against_reviewers(settings, queued):
    """Reviewers overrule the thumbs down (KTO: undesirable; they find the output acceptable)
    and confirm the tiny edit's direction (B, the edited text): 1 of 2 outputs of m1 agree.
    The high-retry item has no implicit label and one review is no majority: neither counts.
    The warning itself, over enough items, is rendered in test_reporting.py."""
    retry, negative, tiny = (
        queued["high_retry"],
        queued["negative_with_comment"],
        queued["low_confidence_pair"],
    )
    write_jsonl(
        settings.reviews_landing_dir / "round-1.jsonl",
        [
            label(retry, "rev-1", "b", 1),
            label(retry, "rev-2", "b", 2),
            label(negative, "rev-1", "a", 3),
            label(negative, "rev-2", "a", 4),
            label(tiny, "rev-1", "b", 5),
            label(tiny, "rev-2", "b", 6),
            label(queued["conflicting_signals"], "rev-1", "a", 7),
        ],
    )

    # the labels and the review models the comparison reads, without the gate and the queue
    # that the drop's whole job rebuilds (other tests run it): about half its time
    resources = build_resources(settings)
    assert dg.materialize(
        [raw_review_labels, dbt_models],
        resources=resources,
        selection=dg.AssetSelection.assets(*REVIEW_LABEL_TABLES.keys)
        | build_dbt_asset_selection([dbt_models], dbt_select="path:models/review"),
        run_config={"ops": {"raw_review_labels": {"config": {"files": []}}}},
    ).success

    assert query(
        settings,
        "select implicit_label_source, implicit_label, human_label, is_agreeing"
        " from review.implicit_human_comparisons order by implicit_label_source",
    ) == [("kto_label", "neither", "a", False), ("pair_direction", "b", "b", True)]
    # the label batch moved the stamp of the week its outputs were shown in: its report is stale
    assert query(
        settings,
        "select newest_input_ingested_at = (select max(ingested_at) from raw.review_labels)"
        " from intermediate.int_weekly_report_inputs where week_start = '2026-10-05'",
    ) == [(True,)]

    for _ in range(2):  # a week built again replaces its rows
        result = dg.materialize(
            [reporting_models, participation_weekly],
            resources=resources,
            partition_key="2026-10-05",
        )
        assert result.success

    # half of them agree, but 2 items are too few (min_implicit_human_compared_items: 10) to warn
    assert query(
        settings,
        "select week_start::varchar, model_version, compared_items, agreeing_items,"
        " agreement_rate, min_agreement, min_compared_items, is_agreement_low"
        " from reports.implicit_human_agreement_weekly",
    ) == [("2026-10-05", "m1", 2, 1, 0.5, 0.7, 10, False)]
    report = (settings.reports_dir / "participation" / "2026-10-05.md").read_text()
    assert (
        "- Implicit signals agreed with reviewers on 1 of 2 reviewed outputs of model m1 (50.0%)."
        in report
    )
    assert "Warning" not in report
    [materialization] = result.asset_materializations_for_node("participation_weekly")
    assert materialization.metadata["models_with_low_implicit_human_agreement"].value == "none"
