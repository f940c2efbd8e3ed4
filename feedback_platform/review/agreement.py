"""How much reviewers agree: Krippendorff's alpha (nominal) over one batch of labels.

Alpha compares the disagreement observed between reviewers of the same item with the
disagreement expected by chance from how often each label is used: 1 is perfect agreement, 0
agreement no better than chance. The computation is the ``krippendorff`` package's; this module
only shapes labels into its reliability matrix (reviewers x items, missing where a reviewer did
not label an item). Items with a single label carry no information about agreement and are
ignored, as Krippendorff prescribes.
"""

from __future__ import annotations

from collections.abc import Iterable

import krippendorff
import numpy as np

#: Krippendorff's lowest acceptable alpha for tentative conclusions; below it labels are unused.
ALPHA_THRESHOLD = 0.667


def nominal_alpha(labels: Iterable[tuple[str, str, str]]) -> float | None:
    """Alpha of ``(item_id, reviewer_id, label)`` triples, nominal level.

    None when no item has two labels (agreement cannot be measured). When every label of the
    items with two or more is the same value, observed disagreement is zero and alpha is 1.0
    (Krippendorff's formula is 0/0 there; there is nothing to disagree about).
    """
    by_item: dict[str, dict[str, str]] = {}
    for item_id, reviewer_id, label in labels:
        by_item.setdefault(item_id, {})[reviewer_id] = label
    pairable = {item: votes for item, votes in by_item.items() if len(votes) >= 2}
    if not pairable:
        return None
    values = sorted({label for votes in pairable.values() for label in votes.values()})
    if len(values) == 1:
        return 1.0
    reviewers = sorted({reviewer for votes in pairable.values() for reviewer in votes})
    items = sorted(pairable)
    code = {value: index for index, value in enumerate(values)}
    matrix = np.full((len(reviewers), len(items)), np.nan)
    for column, item in enumerate(items):
        for reviewer, label in pairable[item].items():
            matrix[reviewers.index(reviewer), column] = code[label]
    return float(
        krippendorff.alpha(
            reliability_data=matrix,
            level_of_measurement="nominal",
            value_domain=list(range(len(values))),
        )
    )
