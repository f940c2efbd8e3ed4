"""Stage 4 (review): what people should judge, and how far their judgements can be trusted.

The rules live in the dbt models of ``models/review/``; these assets do what SQL cannot.
The core dbt build (``dbt_models``) gives every returned label its batch and item, and each
item's majority (``batch_labels``, ``item_agreement``);
``review_agreement`` measures Krippendorff's alpha per batch (one drop = one batch) and writes
the agreement gate, ``review.agreement``; ``gated_models`` (dbt, ``models/review/gated/``)
turn clear majorities of trustworthy batches into ``review`` preference pairs and sample the open
queue; ``review_queue`` writes that queue as ``review/queue.jsonl`` for reviewers and keeps its
items in ``review.review_items``.
"""

import os
import uuid
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from feedback_platform.assets.metadata import md_table
from feedback_platform.resources import PlatformResource
from feedback_platform.review.agreement import ALPHA_THRESHOLD, nominal_alpha
from feedback_platform.schema import AGREEMENT_DDL, AGREEMENT_TABLE, GOLD_ANSWERS_TABLE
from feedback_platform.warehouse import transaction

BATCH_LABELS = dg.AssetKey(["review", "batch_labels"])
REVIEWER_QUALITY = dg.AssetKey(["review", "reviewer_quality"])
REVIEW_PAIRS = dg.AssetKey(["review", "review_pairs"])
REVIEW_QUEUE_MODEL = dg.AssetKey(["review", "review_queue"])

BATCH_LABELS_TABLE = "review.batch_labels"
QUEUE_TABLE = "review.review_queue"
ITEM_STATUS_TABLE = "review.review_item_status"
REVIEW_PAIRS_TABLE = "review.review_pairs"
REVIEW_ITEMS_TABLE = "review.review_items"
REVIEWER_QUALITY_TABLE = "review.reviewer_quality"
GOLD_ITEMS_TABLE = "review.gold_items"

_GATED_FOLDER = "path:models/review/gated"

#: ``review.review_items``, which ``review_queue`` appends to and the review models read: an
#: asset of its own rather than an output of ``review_queue``, because the labels it admits
#: flow back into the queue and an asset graph cannot loop.
review_items = dg.AssetSpec(
    "review_items",
    description="Every item ever queued (review.review_items), appended by the review_queue"
    " asset, so that a label returned after its item left the open queue still resolves.",
    group_name="review",
    kinds={"duckdb"},
    metadata={"table": REVIEW_ITEMS_TABLE},
)

#: ``review.gold_answers``, the known answers of the gold items ``review_queue`` queued: its own
#: asset for the reason ``review_items`` is (the labels it judges flow back into the queue).
gold_answers = dg.AssetSpec(
    "gold_answers",
    description="The known answer of every gold item ever queued (review.gold_answers),"
    " appended by the review_queue asset; reviewer_quality judges labels against it.",
    group_name="review",
    kinds={"duckdb"},
    metadata={"table": GOLD_ANSWERS_TABLE},
)


def _count_by(table: str, column: str) -> str:
    return f"select {column}, count(*) from {table} group by all order by 2 desc, 1"


def export_jsonl(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    """One JSON object per line, written beside the target and renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    con.execute(f"copy ({sql}) to '{temporary}' (format json)")
    os.replace(temporary, path)


@dg.asset(
    deps=[BATCH_LABELS, REVIEWER_QUALITY],
    check_specs=[
        dg.AssetCheckSpec(
            "review_batches_agree",
            asset="review_agreement",
            description="Every measurable review batch has Krippendorff's alpha >="
            f" {ALPHA_THRESHOLD} and no reviewer of it failed the gold items; the labels of a"
            " batch below the threshold, and of such a reviewer, are not used.",
        )
    ],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="review",
    metadata={"table": AGREEMENT_TABLE, "threshold": ALPHA_THRESHOLD},
)
def review_agreement(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """The agreement gate: inter-rater agreement of review labels per batch (one review drop),
    overall and per reason, as Krippendorff's alpha (nominal). Only batches whose alpha is at
    least 0.667 are used: their clear majorities become ``review`` preference pairs and their
    items leave the queue (``gated_models``). Python, as the ``krippendorff`` package
    computes alpha. The labels measured are those of ``batch_labels``: no gold item's, and none
    of a reviewer ``reviewer_quality`` left out of the batch for failing the gold items."""
    with duckdb.get_connection() as con:
        rows = write_agreement(con)
        excluded = _excluded_reviewers(con)
    yield dg.MaterializeResult(metadata=_agreement_metadata(rows))
    yield _agreement_check(rows, excluded)


class ExcludedReviewer(NamedTuple):
    """A reviewer whose labels of a batch were left out: their gold items and right answers."""

    batch: str
    reviewer_id: str
    gold_seen: int
    gold_correct: int
    min_gold_accuracy: float

    def describe(self) -> str:
        return (
            f"batch {self.batch}: reviewer {self.reviewer_id} answered {self.gold_correct} of"
            f" {self.gold_seen} gold items right ({self.gold_correct / self.gold_seen:.0%} <"
            f" {self.min_gold_accuracy:.0%}), their labels are not used"
        )


def _excluded_reviewers(con: duckdb.DuckDBPyConnection) -> list[ExcludedReviewer]:
    rows = con.execute(
        f"""
        select batch, reviewer_id, gold_seen, gold_correct, min_gold_accuracy
        from {REVIEWER_QUALITY_TABLE} where is_excluded order by batch, reviewer_id
        """
    ).fetchall()
    return [ExcludedReviewer(*row) for row in rows]


def _agreement_metadata(rows: list["BatchAgreement"]) -> dict:
    return {
        "dagster/row_count": len(rows),
        "batches": sum(row.reason == "all" for row in rows),
        "agreement": dg.MetadataValue.md(
            md_table(
                ["batch", "reason", "items", "items with 2+", "labels", "reviewers",
                 "alpha", "used"],
                [(*row[:6], "n/a" if row.alpha is None else f"{row.alpha:.3f}", row.is_usable)
                 for row in rows],
            )
        ),
    }  # fmt: skip


def _agreement_check(
    rows: list["BatchAgreement"], excluded: list[ExcludedReviewer]
) -> dg.AssetCheckResult:
    """Warns when a measurable batch's alpha is below the threshold (its labels are unused) or
    a reviewer's labels were left out for failing the gold items (named, with why)."""
    batches = [row for row in rows if row.reason == "all"]
    rejected = {
        row.batch: row.alpha for row in batches if row.alpha is not None and not row.is_usable
    }
    unmeasured = [row.batch for row in batches if row.alpha is None]
    problems = [
        *(
            f"batch {batch}: Krippendorff's alpha {alpha:.3f} < {ALPHA_THRESHOLD}, "
            "its labels are not used"
            for batch, alpha in rejected.items()
        ),
        *(reviewer.describe() for reviewer in excluded),
    ]
    return dg.AssetCheckResult(
        check_name="review_batches_agree",
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "; ".join(problems)
            if problems
            else f"every measurable batch has alpha >= {ALPHA_THRESHOLD}"
        ),
        metadata={
            "batches_below_threshold": dg.MetadataValue.json(rejected),
            "batches_unmeasurable": dg.MetadataValue.json(unmeasured),
            "reviewers_left_out": dg.MetadataValue.json(
                [reviewer._asdict() for reviewer in excluded]
            ),
        },
    )


class BatchAgreement(NamedTuple):
    """One row of ``review.agreement``."""

    batch: str
    reason: str
    items: int
    items_with_two_or_more: int
    labels: int
    reviewers: int
    alpha: float | None
    is_usable: bool


def agreement_rows(labels: list[tuple[str, str, str, str, str]]) -> list[BatchAgreement]:
    """Agreement per batch, overall ('all', first) and per reason, of
    ``(batch, reason, item_id, reviewer_id, label)`` labels. A batch is usable when its overall
    alpha is at least the threshold."""
    groups: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for batch, reason, item_id, reviewer_id, label in labels:
        for group_reason in ("all", reason):
            groups.setdefault((batch, group_reason), []).append((item_id, reviewer_id, label))
    alphas = {key: nominal_alpha(group) for key, group in groups.items()}
    rows = []
    for (batch, reason), group in sorted(groups.items(), key=_all_first):
        batch_alpha = alphas[(batch, "all")]
        reviews = Counter(item_id for item_id, _, _ in group)
        rows.append(
            BatchAgreement(
                batch=batch,
                reason=reason,
                items=len(reviews),
                items_with_two_or_more=sum(count >= 2 for count in reviews.values()),
                labels=len(group),
                reviewers=len({reviewer for _, reviewer, _ in group}),
                alpha=alphas[(batch, reason)],
                is_usable=batch_alpha is not None and batch_alpha >= ALPHA_THRESHOLD,
            )
        )
    return rows


def _all_first(entry: tuple[tuple[str, str], list]) -> tuple[str, bool, str]:
    (batch, reason), _ = entry
    return batch, reason != "all", reason


def write_agreement(con: duckdb.DuckDBPyConnection) -> list[BatchAgreement]:
    """Measure every batch's labels (``review.batch_labels``) and replace ``review.agreement``
    in one transaction; return its rows."""
    labels = con.execute(
        f"select batch, reason, item_id, reviewer_id, label from {BATCH_LABELS_TABLE}"
    ).fetchall()
    rows = agreement_rows(labels)
    with transaction(con):
        con.execute(AGREEMENT_DDL)
        if rows:
            con.executemany(f"insert into {AGREEMENT_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return rows


@dg.asset(
    deps=[REVIEW_QUEUE_MODEL],
    pool="duckdb",
    kinds={"duckdb", "json"},
    group_name="review",
    metadata={"table": REVIEW_ITEMS_TABLE},
)
def review_queue(
    context: dg.AssetExecutionContext,
    platform: PlatformResource,
    duckdb: DuckDBResource,
) -> dg.MaterializeResult:
    """The open human review queue for reviewers, ``review/queue.jsonl``: the rows of
    ``review.review_queue`` in queue order. Every item ever queued is kept in
    ``review.review_items`` so late labels still resolve."""
    path = platform.settings().review_dir / "queue.jsonl"
    with duckdb.get_connection() as con:
        _keep_queued_items(con)
        export_jsonl(con, f"select * from {QUEUE_TABLE} order by queue_position", path)
        summary = _queue_summary(con)
    open_items = sum(summary.by_reason.values())
    context.log.info(
        f"review queue: {open_items} open items; {summary.raised} raised,"
        f" {summary.reviewed} reviewed; {path}"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": open_items,
            "items_raised": summary.raised,
            "items_reviewed": summary.reviewed,
            "by_reason": dg.MetadataValue.json(summary.by_reason),
            "by_segment": dg.MetadataValue.json(summary.by_segment),
            "queue_path": dg.MetadataValue.path(str(path)),
            "preview": dg.MetadataValue.md(
                md_table(["#", "item_id", "reason", "priority", "segment"], summary.preview)
            ),
        }
    )


def _keep_queued_items(con: duckdb.DuckDBPyConnection) -> None:
    """Add the queue's new items to ``review.review_items``, stamped with when they were first
    queued; items already there keep their row (their texts never change). The known answers of
    its gold items go to ``review.gold_answers`` in the same transaction, so a label of a gold
    item is always judged, even after its anchor left the anchor set."""
    with transaction(con):
        _append_queued_items(con)
        con.execute(
            f"""
            insert into {GOLD_ANSWERS_TABLE} by name
            select item_id, answer, anchor_id, now()::timestamp as first_queued_at
            from {GOLD_ITEMS_TABLE}
            where item_id in (select item_id from {QUEUE_TABLE})
            on conflict do nothing
            """
        )


def _append_queued_items(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""
        insert into {REVIEW_ITEMS_TABLE} by name
        select
            item_id, reason, priority, user_segment, model_version, prompt, response_a,
            response_b, user_comment, generation_ids, source_event_ids, occurred_at,
            now()::timestamp as first_queued_at
        from {QUEUE_TABLE}
        on conflict do nothing
        """
    )


class QueueSummary(NamedTuple):
    """The open queue by reason and segment, the candidates raised and reviewed, and the
    first ten items."""

    by_reason: dict[str, int]
    by_segment: dict[str, int]
    raised: int
    reviewed: int
    preview: list[tuple]


def _queue_summary(con: duckdb.DuckDBPyConnection) -> QueueSummary:
    by_reason = dict(con.execute(_count_by(QUEUE_TABLE, "reason")).fetchall())
    by_segment = dict(con.execute(_count_by(QUEUE_TABLE, "user_segment")).fetchall())
    [(raised, reviewed)] = con.execute(
        f"select count(*), count(*) filter (where is_reviewed) from {ITEM_STATUS_TABLE}"
    ).fetchall()
    preview = con.execute(
        f"""
        select queue_position, item_id, reason, priority, user_segment
        from {QUEUE_TABLE} order by queue_position limit 10
        """
    ).fetchall()
    return QueueSummary(by_reason, by_segment, raised, reviewed, preview)
