"""Training data end to end: a drop with a known right answer becomes exactly the expected
preference pairs, KTO rows and review items, published as immutable versions."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import dagster as dg
import pytest

from feedback_platform.assets.training import _human_share_check
from feedback_platform.datasets.versions import PublishedVersion
from feedback_platform.definitions import build_definitions
from tests.conftest import event, query, write_jsonl

ALICE = {"user_id": "alice", "user_segment": "pro/en", "session_id": "tab-1"}
BOB = {"user_id": "bob", "user_segment": "free/en", "session_id": "tab-2"}
CAROL = {"user_id": "carol", "user_segment": "team/de", "session_id": "tab-3"}
DAVE = {"user_id": "dave", "user_segment": "free/en", "session_id": "tab-4"}

LONG_ANSWER = "DuckDB is an in-process analytical database for fast SQL queries"


def at(clock: str) -> str:
    return f"2026-10-05T{clock}Z"


def gen(event_id, clock, generation_id, output, user, prompt="What is DuckDB?", **fields):
    return event(event_id, "generation", occurred_at=at(clock), generation_id=generation_id,
                 model_version="m1", prompt=prompt, output=output, **fields, **user)  # fmt: skip


def signal(event_id, event_type, clock, generation_id, user, **fields):
    return event(event_id, event_type, occurred_at=at(clock), generation_id=generation_id,
                 **fields, **user)  # fmt: skip


def known_drop() -> list[dict]:
    return [
        # an edit: rejected = the output, chosen = the user's text
        gen("e1", "09:00:00", "g1", "The capital of France is Lyon.", ALICE,
            prompt="Capital of France?"),
        signal("e2", "edit", "09:01:00", "g1", ALICE,
               edited_text="The capital of France is Paris."),
        # a regeneration whose replacement was copied: a pair
        gen("e3", "09:05:00", "g2", "first try", ALICE, prompt="Name a fast database"),
        signal("e4", "regenerate", "09:06:00", "g2", ALICE),
        gen("e5", "09:07:00", "g3", "second try", ALICE, prompt="Name a fast database",
            parent_generation_id="g2"),
        signal("e6", "copy", "09:08:00", "g3", ALICE),
        # a regeneration whose replacement got no acceptance: no pair
        gen("e7", "09:10:00", "g4", "draft one", ALICE, prompt="Write a haiku"),
        gen("e8", "09:11:00", "g5", "draft two", ALICE, prompt="Write a haiku",
            parent_generation_id="g4"),
        # a choice between two outputs shown side by side
        gen("e9", "09:20:00", "g6", "Answer A", BOB, prompt="Explain joins"),
        gen("e10", "09:20:00", "g7", "Answer B", BOB, prompt="Explain joins"),
        event("e11", "prefer", occurred_at=at("09:21:00"), generation_id="g6",
              other_generation_id="g7", **BOB),
        # a high-retry chain: three regenerations, then an edit and a copy; no pair from it
        gen("e12", "09:30:00", "g8", "try 1", BOB, prompt="Summarize this"),
        gen("e13", "09:31:00", "g9", "try 2", BOB, prompt="Summarize this",
            parent_generation_id="g8"),
        gen("e14", "09:32:00", "g10", "try 3", BOB, prompt="Summarize this",
            parent_generation_id="g9"),
        gen("e15", "09:33:00", "g11", "try 4", BOB, prompt="Summarize this",
            parent_generation_id="g10"),
        signal("e16", "edit", "09:34:00", "g11", BOB, edited_text="my own summary"),
        signal("e17", "copy", "09:35:00", "g11", BOB),
        # a thumbs down with a comment
        gen("e18", "09:40:00", "g12", "Wrong answer", CAROL, prompt="2 + 2?"),
        signal("e19", "thumbs_down", "09:41:00", "g12", CAROL),
        signal("e20", "comment", "09:42:00", "g12", CAROL, comment="it is 4"),
        # a tiny edit (one character of 64): low confidence, to review
        gen("e21", "09:50:00", "g13", LONG_ANSWER, CAROL, prompt="Describe DuckDB"),
        signal("e22", "edit", "09:51:00", "g13", CAROL, edited_text=LONG_ANSWER + "."),
        # a whitespace-only edit: degenerate, never a pair nor a review item
        gen("e23", "09:55:00", "g14", "Hello world.", CAROL, prompt="Greet me"),
        signal("e24", "edit", "09:56:00", "g14", CAROL, edited_text="  Hello   world.\n"),
        # thumbs up and thumbs down on one output: conflicting
        gen("e25", "10:00:00", "g15", "Maybe", CAROL, prompt="Will it rain?"),
        signal("e26", "thumbs_up", "10:01:00", "g15", CAROL),
        signal("e27", "thumbs_down", "10:02:00", "g15", CAROL),
        # read, then left without using it: an abandoned session
        gen("e28", "10:10:00", "g16", "A long essay", DAVE, prompt="Write an essay"),
        signal("e29", "view", "10:11:00", "g16", DAVE, dwell_ms=9000),
    ]  # fmt: skip


def run_pipeline(settings, ops_config: dict | None = None) -> dg.ExecuteInProcessResult:
    """The `feedback_pipeline` job, as `feedback-platform run` executes it."""
    job = build_definitions(settings).resolve_job_def("feedback_pipeline")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance, run_config={"ops": ops_config} if ops_config else None
        )
    assert result.success
    return result


def published(settings, dataset: str = "preference_pairs"):
    root = settings.datasets_dir / dataset
    latest = (root / "LATEST").read_text().strip()
    return root, latest, json.loads((root / latest / "manifest.json").read_text())


def pair_rows(settings, version_dir) -> list[tuple]:
    return query(
        settings,
        "select source, prompt, chosen, rejected from read_parquet(?) order by source, prompt",
        [[str(version_dir / "train.parquet"), str(version_dir / "holdout.parquet")]],
    )


def test_a_drop_with_a_known_right_answer_yields_exactly_the_expected_pairs(settings, first_run):
    root, latest, manifest = published(settings)
    assert pair_rows(settings, root / latest) == [
        ("edit", "Capital of France?", "The capital of France is Paris.",
         "The capital of France is Lyon."),
        ("prefer", "Explain joins", "Answer A", "Answer B"),
        ("regeneration", "Name a fast database", "second try", "first try"),
    ]  # fmt: skip
    assert manifest["row_counts"]["total"] == 3
    assert manifest["row_counts"]["by_source"] == {"edit": 1, "prefer": 1, "regeneration": 1}
    assert sum(manifest["row_counts"]["by_split"].values()) == 3
    for name, file in manifest["files"].items():
        digest = hashlib.sha256((root / latest / name).read_bytes()).hexdigest()
        assert file["sha256"] == digest

    # provenance: the pair rests on the raw events that made it
    assert query(
        settings,
        "select source, generation_ids, source_event_ids, user_segment, confidence"
        " from training.preference_pairs order by source",
    ) == [
        ("edit", ["g1"], ["e1", "e2"], "pro/en", 0.9),
        ("prefer", ["g6", "g7"], ["e11", "e9", "e10"], "free/en", 1.0),
        ("regeneration", ["g2", "g3"], ["e3", "e5"], "pro/en", 0.8),
    ]


def test_ambiguous_cases_go_to_the_review_queue_not_to_training(settings, first_run):
    queue = query(
        settings,
        "select reason, priority, response_a, response_b, user_comment, user_segment"
        " from review.review_queue order by queue_position",
    )
    assert queue == [
        ("high_retry", 3, "try 1", "try 4", None, "free/en"),
        ("conflicting_signals", 2, "Maybe", None, None, "team/de"),
        ("negative_with_comment", 2, "Wrong answer", None, "it is 4", "team/de"),
        ("low_confidence_pair", 1, LONG_ANSWER, LONG_ANSWER + ".", None, "team/de"),
    ]
    lines = (settings.review_dir / "queue.jsonl").read_text().splitlines()
    exported = [json.loads(line) for line in lines]
    assert [item["reason"] for item in exported] == [reason for reason, *_ in queue]
    assert all(len(item["item_id"]) == 32 for item in exported)


def test_kto_signals_label_thumbs_copies_and_abandonment(settings, first_run):
    root, latest, manifest = published(settings, "kto_signals")
    rows = query(
        settings,
        "select generation_id, label, signal from read_parquet(?) order by generation_id",
        [[str(root / latest / "train.parquet"), str(root / latest / "holdout.parquet")]],
    )
    # g3 copied; g12 thumbs down; g15 conflicting (left out); dave left after reading g16
    assert rows == [
        ("g12", False, "thumbs_down"),
        ("g16", False, "abandonment"),
        ("g3", True, "copy"),
    ]
    assert manifest["row_counts"]["by_signal"] == {"abandonment": 1, "copy": 1, "thumbs_down": 1}


def test_rerunning_on_unchanged_input_keeps_latest(settings, first_run):
    root, latest, manifest = published(settings)
    before = {path.name: path.stat().st_mtime_ns for path in (root / latest).iterdir()}

    result = run_pipeline(settings)

    [materialization] = result.asset_materializations_for_node("preference_pairs")
    metadata = materialization.metadata
    assert metadata["new_version"].value is False
    assert metadata["dataset_version"].value == latest
    assert metadata["path"].value == str(root / latest)
    assert metadata["dagster/row_count"].value == 3
    for dimension in ("source", "split", "user_segment"):
        assert f"| {dimension} | rows |" in metadata["row_counts"].value
    # the preview names pairs by id, never by the texts users typed (kept in the event log)
    assert "The capital of France is Paris." not in metadata["preview"].value
    [(pair_id,)] = query(
        settings, "select pair_id from training.preference_pairs where source = 'edit'"
    )
    assert pair_id in metadata["preview"].value
    assert published(settings)[1] == latest
    assert sorted(path.name for path in root.iterdir()) == sorted(["LATEST", latest])
    assert {path.name: path.stat().st_mtime_ns for path in (root / latest).iterdir()} == before


def test_a_publication_killed_mid_way_leaves_nothing_after_the_next(settings, first_run):
    """A crash while writing a version leaves a hidden temporary folder (and maybe a LATEST
    being replaced); the next publication removes both and LATEST stays complete."""
    root, latest, _ = published(settings)
    (root / ".v000002-20261201T000000Z.0123abcd.tmp").mkdir()
    (root / ".v000002-20261201T000000Z.0123abcd.tmp" / "train.parquet").write_bytes(b"PAR1")
    (root / ".LATEST.0123abcd.tmp").write_text("v000002\n")

    run_pipeline(settings)

    assert sorted(path.name for path in root.iterdir()) == sorted(["LATEST", latest])
    assert published(settings)[1] == latest


def test_new_content_is_a_new_version_and_old_versions_stay_as_they_were(settings, first_run):
    root, first, first_manifest = published(settings)
    first_bytes = {path.name: path.read_bytes() for path in (root / first).iterdir()}
    write_jsonl(
        settings.events_landing_dir / "day2.jsonl",
        [
            gen("f1", "11:00:00", "h1", "Berlin is in Spain.", ALICE, prompt="Where is Berlin?"),
            signal("f2", "correction", "11:01:00", "h1", ALICE,
                   edited_text="Berlin is in Germany."),
        ],
    )  # fmt: skip

    run_pipeline(settings)

    _, second, manifest = published(settings)
    assert second != first and sorted([first, second]) == [first, second]
    assert manifest["parent_version"] == first
    assert manifest["row_counts"]["by_source"] == {
        "correction": 1, "edit": 1, "prefer": 1, "regeneration": 1,
    }  # fmt: skip
    assert {path.name: path.read_bytes() for path in (root / first).iterdir()} == first_bytes
    # weights are relative to the newest event (11:01), not the wall clock
    weights = dict(query(settings, "select source, weight from training.preference_pairs"))
    assert weights["correction"] == 1.0
    assert weights["edit"] == pytest.approx(0.5 ** ((2 * 3600) / 86400 / 30))


def test_the_dataset_checks_pass_on_what_was_published(settings, first_run):
    evaluations = {
        evaluation.check_name: evaluation.passed
        for evaluation in first_run.get_asset_check_evaluations()
        if evaluation.asset_key == dg.AssetKey("preference_pairs")
    }
    assert evaluations == {
        "no_degenerate_pairs": True,
        "no_prompt_in_both_splits": True,
        "weights_in_range": True,
        "provenance_resolves": True,
        "no_anchor_prompt_in_splits": True,
        "human_share_is_healthy": True,
    }


def test_contributor_impact_counts_what_is_in_the_latest_version(settings, first_run):
    rows = query(
        settings,
        "select edits, corrections, choices, message from training.contributor_impact"
        " order by message",
    )
    assert rows == [
        (0, 0, 1, "Your choices helped improve 1 answer this month"),
        (1, 0, 0, "Your edits helped improve 1 answer this month"),
    ]


def test_a_trainer_loads_the_latest_version_with_hugging_face_datasets(
    settings, first_run, tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from datasets import load_dataset

    root, latest, manifest = published(settings)
    # as the README shows: the splits that have rows (an empty split is a file with no rows,
    # which `load_dataset` refuses)
    files = {
        name.removesuffix(".parquet"): str(root / latest / name)
        for name, file in manifest["files"].items()
        if file["rows"]
    }
    splits = load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf-cache"))
    assert sum(split.num_rows for split in splits.values()) == manifest["row_counts"]["total"]
    train = splits["train"]
    # TRL's standard (explicit prompt) preference format: three string columns
    for column in ("prompt", "chosen", "rejected"):
        assert train.features[column].dtype == "string"
    assert train.num_rows == manifest["files"]["train.parquet"]["rows"]
    rows = {row["source"]: row for split in splits.values() for row in split}
    assert rows["edit"]["chosen"] == "The capital of France is Paris."
    assert rows["edit"]["rejected"] == "The capital of France is Lyon."


def test_anchors_stay_out_of_training_and_each_manifest_shows_the_human_share(settings, first_run):
    """A curated anchor of the edited prompt (spaced differently): the next pairs version
    leaves the edit out, names the anchor version it was cut against, and reports its human
    share with the change from its parent."""
    root, first, first_manifest = published(settings)
    anchors_root = settings.datasets_dir / "anchor_set"
    assert first_manifest["anchor_version"] == (anchors_root / "LATEST").read_text().strip()
    assert first_manifest["human_share"]["share"] == pytest.approx(2 / 3)
    assert first_manifest["human_share"]["by_model_version_and_segment"] == [
        {"model_version": "m1", "user_segment": "free/en", "pairs": 1, "human_pairs": 1,
         "model_pairs": 0, "human_share": 1.0, "change_from_parent": None},
        {"model_version": "m1", "user_segment": "pro/en", "pairs": 2, "human_pairs": 1,
         "model_pairs": 1, "human_share": 0.5, "change_from_parent": None},
    ]  # fmt: skip
    assert first_manifest["collapse_watch"] == {
        "model_versions": 1, "top_model_version": "m1", "top_model_version_share": 1.0,
        "min_human_share": 0.2, "max_model_version_share": 0.8,
        "is_human_share_low": False, "is_one_model_version_dominant": False,
    }  # fmt: skip
    write_jsonl(
        settings.anchors_landing_dir / "curated.jsonl",
        [{"prompt": "Capital  of\nFrance?", "chosen": "Paris.", "rejected": "Lyon.",
          "source": "geography-set", "labeled_by": "curator-1"}],
    )  # fmt: skip

    result = run_pipeline(settings)

    anchor_version = (anchors_root / "LATEST").read_text().strip()
    assert anchor_version != first_manifest["anchor_version"]
    anchor_file = str(anchors_root / anchor_version / "anchor.parquet")
    assert query(
        settings, "select source, user_segment, prompt from read_parquet(?)", [anchor_file]
    ) == [("curated", "curated", "Capital  of\nFrance?")]
    _, second, manifest = published(settings)
    assert manifest["anchor_version"] == anchor_version
    assert manifest["parent_version"] == first
    assert [source for source, *_ in pair_rows(settings, root / second)] == [
        "prefer",
        "regeneration",
    ]
    assert manifest["human_share"]["share"] == 0.5
    assert manifest["human_share"]["change_from_parent"] == pytest.approx(0.5 - 2 / 3, abs=1e-6)
    [pro] = [
        group
        for group in manifest["human_share"]["by_model_version_and_segment"]
        if group["user_segment"] == "pro/en"
    ]
    assert (pro["human_share"], pro["change_from_parent"]) == (0.0, -0.5)
    # no KTO prompt is an anchor's: its unchanged version stays, cut against the first anchors
    # (its check reads it against the latest)
    _, _, kto_manifest = published(settings, "kto_signals")
    assert kto_manifest["anchor_version"] == first_manifest["anchor_version"]
    checks = {
        (evaluation.asset_key.to_user_string(), evaluation.check_name): evaluation
        for evaluation in result.get_asset_check_evaluations()
    }
    for dataset in ("preference_pairs", "kto_signals"):
        assert checks[(dataset, "no_anchor_prompt_in_splits")].passed
    coverage = checks[("anchor_set", "anchors_cover_every_segment")]
    assert not coverage.passed and "segment pro/en: 0 anchors < 5" in coverage.description


def test_the_collapse_watch_warns_with_its_reasons():
    """The check words the flags dbt set: a low human share, one dominant model version."""
    watch = {
        "model_versions": 2, "top_model_version": "m2", "top_model_version_share": 0.9,
        "min_human_share": 0.2, "max_model_version_share": 0.8,
        "is_human_share_low": True, "is_one_model_version_dominant": True,
    }  # fmt: skip
    figures = {"human_share": {"share": 0.1, "change_from_parent": -0.3}, "collapse_watch": watch}
    version = PublishedVersion("v000002-x", Path("/nowhere"), is_new=True, manifest=figures)

    check = _human_share_check(version, figures)

    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description == (
        "version v000002-x: human share 0.100 < min_human_share 0.2; model version m2 holds"
        " 0.900 of the pairs > max_model_version_share 0.8"
    )
    healthy = {**figures, "collapse_watch": {**watch, "is_human_share_low": False,
                                             "is_one_model_version_dominant": False}}  # fmt: skip
    assert _human_share_check(dataclasses.replace(version, manifest=healthy), figures).passed
    # a version published before the watch existed is judged by the same rows' figures
    assert not _human_share_check(dataclasses.replace(version, manifest={}), figures).passed
