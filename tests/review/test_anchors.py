"""Curated anchor drops, ingested for real: texts scrubbed, reasons for bad lines, one anchor
per prompt across drops, and a drop recorded once under any name."""

from __future__ import annotations

import dagster as dg

from feedback_platform.assets.anchors import raw_anchor_examples
from feedback_platform.resources import build_resources
from tests.conftest import query, write_jsonl


def anchor(prompt: str, chosen: str = "Paris.", rejected: str = "Lyon.", **fields) -> dict:
    return {
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "source": "expert-set",
        "labeled_by": "curator-1",
        **fields,
    }


def materialize(settings) -> dg.ExecuteInProcessResult:
    return dg.materialize([raw_anchor_examples], resources=build_resources(settings))


def test_anchors_are_stored_scrubbed_and_bad_lines_quarantined_with_reasons(settings):
    write_jsonl(
        settings.anchors_landing_dir / "anchors-1.jsonl",
        [
            anchor("Capital of France?"),
            anchor("Mail me", chosen="Write to ann@example.com.", rejected="No."),
            {"prompt": "No curator", "chosen": "a", "rejected": "b"},
            '{"prompt": "broken", "chosen": "a"',
            anchor("Capital of France?"),  # the same again: a duplicate
            anchor("Capital of France?", chosen="Marseille."),  # another answer: a conflict
            anchor("Numbers", chosen=4, rejected="four"),
        ],
    )

    result = materialize(settings)

    assert result.success
    assert query(
        settings, "select prompt, chosen, labeled_by from raw.anchor_examples order by prompt"
    ) == [
        ("Capital of France?", "Paris.", "curator-1"),
        ("Mail me", "Write to <EMAIL>.", "curator-1"),
    ]
    reasons = dict(
        query(settings, "select line_number, reason from raw.quarantined_anchor_examples")
    )
    assert reasons == {
        3: "missing_field:labeled_by",
        4: "invalid_json",
        6: "duplicate_conflict",
        7: "bad_value:chosen",
    }
    assert query(
        settings,
        "select rows_read, rows_valid, rows_quarantined, rows_duplicate"
        " from raw.ingested_anchor_files",
    ) == [(7, 2, 4, 1)]
    assert query(
        settings, "select field, kind, replacements from raw.ingested_anchor_files_scrubbed"
    ) == [("chosen", "email", 1)]


def test_an_anchor_drop_is_recorded_once_under_any_name_and_a_prompt_once_across_drops(
    settings,
):
    landing = settings.anchors_landing_dir
    write_jsonl(landing / "a.jsonl", [anchor("q1")])
    assert materialize(settings).success
    write_jsonl(landing / "b.jsonl", [anchor("q1")])  # the same bytes under another name
    write_jsonl(landing / "c.jsonl", [anchor("q1", chosen="other"), anchor("q2")])

    assert materialize(settings).success

    assert query(settings, "select prompt from raw.anchor_examples order by 1") == [
        ("q1",),
        ("q2",),
    ]
    assert query(
        settings, "select source_file, line_number, reason from raw.quarantined_anchor_examples"
    ) == [("c.jsonl", 1, "duplicate_conflict")]
    assert query(settings, "select file_name from raw.ingested_anchor_files order by 1") == [
        ("a.jsonl",),
        ("c.jsonl",),
    ]
