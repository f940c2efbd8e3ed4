"""Tables of the human review loop, and the labels a reviewer may give.

Every item ever queued is kept in ``review.review_items`` (its texts never change, as its id is
a hash of what it is about), so a label returned long after the item left the open queue can
still be checked and used. ``review.review_queue`` is only what is open now.
"""

from __future__ import annotations

#: What a reviewer answers about an item: response ``a`` is better (or, alone, acceptable),
#: response ``b`` is better, both are equally good (``tie``), or ``neither`` is acceptable
#: (``corrected_text`` then carries a good answer).
REVIEW_LABELS = ("a", "b", "tie", "neither")

REVIEW_ITEMS_DDL = """
create schema if not exists review;

create table if not exists review.review_items (
    item_id varchar primary key,
    reason varchar not null,          -- high_retry | low_confidence_pair | conflicting_signals
                                      -- | negative_with_comment
    priority integer not null,        -- higher first
    user_segment varchar not null,    -- 'unknown' when the events did not say
    model_version varchar,
    prompt varchar,
    response_a varchar,               -- the model output under review
    response_b varchar,               -- the alternative (user's text, replacement), if any
    user_comment varchar,
    generation_ids varchar[] not null,
    source_event_ids varchar[] not null,
    occurred_at timestamp not null,   -- when the signal that raised the item happened
    first_queued_at timestamp not null
);
"""
