"""Scrubbed texts through the pair rules: an edit that only changed personal data is no edit
(no fake correction), and the ingestion asset shows what was scrubbed as counts only."""

from __future__ import annotations

from tests.assets.test_transformation import build
from tests.conftest import event, query, write_jsonl


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def test_an_edit_of_personal_data_only_is_no_edit_and_makes_no_pair(settings):
    write_jsonl(
        settings.events_landing_dir / "day1.jsonl",
        [
            event("e1", "generation", generation_id="g1", output="Call me at +1 415 555 0100."),
            event("e2", "edit", generation_id="g1", edited_text="Call me at +1 415 555 0199."),
            event("e3", "generation", generation_id="g2", output="Write to ann@example.org today."),
            event(
                "e4",
                "correction",
                generation_id="g2",
                edited_text="Write to bob@example.org tomorrow.",
            ),
        ],
    )

    result = build(settings)

    scrubbed_output, scrubbed_correction = "Write to <EMAIL> today.", "Write to <EMAIL> tomorrow."
    ratio = levenshtein(scrubbed_output, scrubbed_correction) / len(scrubbed_correction)
    assert query(
        settings,
        "select generation_id, is_edited, round(edit_ratio, 4), final_text"
        " from marts.fct_generations order by generation_id",
    ) == [
        ("g1", False, 0.0, "Call me at <PHONE>."),
        ("g2", True, round(ratio, 4), scrubbed_correction),
    ]
    assert query(
        settings, "select source, chosen, rejected from marts.fct_preference_candidates"
    ) == [("correction", scrubbed_correction, scrubbed_output)]

    [raw] = [
        m
        for m in result.asset_materializations_for_node("raw_feedback_events")
        if m.asset_key.to_user_string() == "raw_feedback_events"
    ]
    assert raw.metadata["scrubbed"].value == {
        "output": {"email": 1, "phone": 1},
        "edited_text": {"email": 1, "phone": 1},
    }
    assert "| day1.jsonl | 4 | 4 | 0 | 0 | 4 |" in raw.metadata["files"].value
