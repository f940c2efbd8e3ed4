"""Krippendorff's alpha as used by the agreement gate, against published values."""

from __future__ import annotations

import pytest

from feedback_platform.review.agreement import nominal_alpha

#: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the example with four
#: observers, twelve units and missing values ("." = not coded). Nominal alpha = 0.743.
KRIPPENDORFF_2011 = {
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}


def triples(table: dict[str, str]) -> list[tuple[str, str, str]]:
    return [
        (f"unit-{unit}", observer, value)
        for observer, row in table.items()
        for unit, value in enumerate(row.split())
        if value != "."
    ]


def test_the_published_nominal_example():
    assert nominal_alpha(triples(KRIPPENDORFF_2011)) == pytest.approx(0.743, abs=0.0005)


def test_labels_are_categories_not_numbers():
    as_words = {
        observer: " ".join({"1": "a", "2": "b", "3": "tie", "4": "neither", "5": "x"}.get(v, v)
                           for v in row.split())
        for observer, row in KRIPPENDORFF_2011.items()
    }  # fmt: skip
    assert nominal_alpha(triples(as_words)) == pytest.approx(0.743, abs=0.0005)


def test_perfect_and_chance_agreement():
    agree = [("i1", "r1", "a"), ("i1", "r2", "a"), ("i2", "r1", "b"), ("i2", "r2", "b")]
    assert nominal_alpha(agree) == 1.0
    # every pair of labels on an item disagrees: worse than chance
    disagree = [("i1", "r1", "a"), ("i1", "r2", "b"), ("i2", "r1", "b"), ("i2", "r2", "a")]
    assert nominal_alpha(disagree) < 0


def test_unmeasurable_and_unanimous_batches():
    assert nominal_alpha([("i1", "r1", "a"), ("i2", "r2", "b")]) is None  # no item twice
    assert nominal_alpha([("i1", "r1", "a"), ("i1", "r2", "a"), ("i2", "r3", "b")]) == 1.0
