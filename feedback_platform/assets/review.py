"""Stage 4 (review): what people should judge, and how far their judgements can be trusted.

``review_queue`` samples the open queue from ``marts.fct_review_candidates`` and writes it as a
table and as ``review/queue.jsonl`` for reviewers. ``review_agreement`` measures agreement on
the labels that came back (one drop = one batch) and turns clear majorities of trustworthy
batches into ``review`` preference pairs.
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
from feedback_platform.datasets.text import has_text, same_text
from feedback_platform.resources import PlatformResource
from feedback_platform.review.agreement import ALPHA_THRESHOLD, nominal_alpha
from feedback_platform.schema import AGREEMENT_DDL, AGREEMENT_TABLE
from feedback_platform.warehouse import transaction

FCT_REVIEW_CANDIDATES = dg.AssetKey(["marts", "fct_review_candidates"])
RAW_REVIEW_LABELS = dg.AssetKey("raw_review_labels")

QUEUE_TABLE = "review.review_queue"
ITEM_AGREEMENT_TABLE = "review.item_agreement"
REVIEW_PAIRS_TABLE = "review.review_pairs"

_QUEUE_COLUMNS = """
    queue_position, item_id, reason, priority, user_segment, model_version, prompt,
    response_a, response_b, user_comment, generation_ids, source_event_ids, occurred_at"""


def _count_by(table: str, column: str) -> str:
    return f"select {column}, count(*) from {table} group by all order by 2 desc, 1"


def _export_jsonl(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    """One JSON object per line, written beside the target and renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    con.execute(f"copy ({sql}) to '{temporary}' (format json)")
    os.replace(temporary, path)


# Per batch and item: how many reviews, the most common label and its share. A clear majority
# needs two reviews or more and more than half of them on one label (a tie is no majority).
_ITEM_AGREEMENT_SQL = f"""
create or replace table {ITEM_AGREEMENT_TABLE} as
with labels as (
    select labels.source_file as batch, labels.item_id, items.reason, labels.label
    from raw.review_labels as labels
    inner join review.review_items as items using (item_id)
),
counts as (
    select batch, item_id, reason, label, count(*) as votes from labels group by all
),
ranked as (
    select
        *,
        sum(votes) over (partition by batch, item_id) as reviews,
        row_number() over (partition by batch, item_id order by votes desc, label) as position
    from counts
)
select
    batch,
    item_id,
    reason,
    reviews::integer as reviews,
    label as majority_label,
    votes / reviews as majority_share,
    reviews >= 2 and votes / reviews > 0.5 as has_clear_majority
from ranked
where position = 1
"""

# Clear majorities of usable batches become pairs; when an item was decided in several usable
# batches the latest batch wins. `neither` takes the latest corrected text of that batch.
_REVIEW_PAIRS_SQL = f"""
create or replace table {REVIEW_PAIRS_TABLE} as
with batches as (
    select source_file as batch, max(ingested_at) as batch_ingested_at
    from raw.review_labels group by all
),
decisions as (
    select decided.*, batches.batch_ingested_at
    from {ITEM_AGREEMENT_TABLE} as decided
    inner join batches using (batch)
    where decided.has_clear_majority
        and decided.batch in (
            select batch from {AGREEMENT_TABLE} where reason = 'all' and is_usable
        )
),
latest_decisions as (
    select * from decisions
    qualify row_number() over (
        partition by item_id order by batch_ingested_at desc, batch desc
    ) = 1
),
batch_labels as (
    select
        source_file as batch,
        item_id,
        max(labeled_at) as decided_at,
        arg_max(corrected_text, labeled_at) filter (
            where label = 'neither' and {has_text("corrected_text")}
        ) as corrected_text
    from raw.review_labels group by all
),
judged as (
    select
        items.*,
        decisions.batch,
        decisions.majority_share,
        batch_labels.decided_at,
        case decisions.majority_label
            when 'a' then items.response_a
            when 'b' then items.response_b
            when 'neither' then batch_labels.corrected_text
        end as chosen,
        case decisions.majority_label
            when 'a' then items.response_b
            when 'b' then items.response_a
            when 'neither' then items.response_a
        end as rejected
    from latest_decisions as decisions
    inner join review.review_items as items using (item_id)
    inner join batch_labels using (batch, item_id)
)
select
    md5('review:' || item_id) as pair_id,
    'review' as source,
    prompt,
    chosen,
    rejected,
    generation_ids,
    source_event_ids,
    model_version,
    user_segment,
    null::varchar as user_key,
    decided_at as occurred_at,
    majority_share::double as confidence,
    item_id,
    batch
from judged
where {has_text("prompt")}
    and {has_text("chosen")}
    and {has_text("rejected")}
    and not {same_text("chosen", "rejected")}
"""


@dg.asset(
    deps=[RAW_REVIEW_LABELS],
    check_specs=[
        dg.AssetCheckSpec(
            "review_batches_agree",
            asset="review_agreement",
            description="Every measurable review batch has Krippendorff's alpha >="
            f" {ALPHA_THRESHOLD}; the labels of a batch below it are not used.",
        )
    ],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="review",
    metadata={"table": AGREEMENT_TABLE, "threshold": ALPHA_THRESHOLD},
)
def review_agreement(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Inter-rater agreement of review labels per batch (one review drop), overall and per
    reason: Krippendorff's alpha (nominal) and each item's majority share. Items with two or
    more reviews and a clear majority, in a batch whose alpha is at least 0.667, become
    ``review`` preference pairs (``review.review_pairs``); a batch below it is not used."""
    with duckdb.get_connection() as con:
        rows = write_agreement(con)
        [(pairs,)] = con.execute(f"select count(*) from {REVIEW_PAIRS_TABLE}").fetchall()
    yield dg.MaterializeResult(metadata=_agreement_metadata(rows, pairs))
    yield _agreement_check(rows)


def _agreement_metadata(rows: list["BatchAgreement"], pairs: int) -> dict:
    return {
        "dagster/row_count": len(rows),
        "batches": sum(row.reason == "all" for row in rows),
        "review_pairs": pairs,
        "agreement": dg.MetadataValue.md(
            md_table(
                ["batch", "reason", "items", "items with 2+", "labels", "reviewers",
                 "alpha", "used"],
                [(*row[:6], "n/a" if row.alpha is None else f"{row.alpha:.3f}", row.is_usable)
                 for row in rows],
            )
        ),
    }  # fmt: skip


def _agreement_check(rows: list["BatchAgreement"]) -> dg.AssetCheckResult:
    """Warns when a measurable batch's alpha is below the threshold (its labels are unused)."""
    batches = [row for row in rows if row.reason == "all"]
    rejected = {
        row.batch: row.alpha for row in batches if row.alpha is not None and not row.is_usable
    }
    unmeasured = [row.batch for row in batches if row.alpha is None]
    return dg.AssetCheckResult(
        check_name="review_batches_agree",
        passed=not rejected,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "; ".join(
                f"batch {batch}: Krippendorff's alpha {alpha:.3f} < {ALPHA_THRESHOLD}, "
                "its labels are not used"
                for batch, alpha in rejected.items()
            )
            if rejected
            else f"every measurable batch has alpha >= {ALPHA_THRESHOLD}"
        ),
        metadata={
            "batches_below_threshold": dg.MetadataValue.json(rejected),
            "batches_unmeasurable": dg.MetadataValue.json(unmeasured),
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
    """Measure every batch's labels and replace the agreement tables and the reviewed pairs
    in one transaction; return the rows of ``review.agreement``."""
    labels = con.execute(
        """
        select labels.source_file, items.reason, labels.item_id, labels.reviewer_id,
            labels.label
        from raw.review_labels as labels
        inner join review.review_items as items using (item_id)
        """
    ).fetchall()
    rows = agreement_rows(labels)
    with transaction(con):
        con.execute(AGREEMENT_DDL)
        if rows:
            con.executemany(f"insert into {AGREEMENT_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute(_ITEM_AGREEMENT_SQL)
        con.execute(_REVIEW_PAIRS_SQL)
    return rows


def _agreement_written(con: duckdb.DuckDBPyConnection) -> bool:
    schema, table = ITEM_AGREEMENT_TABLE.split(".")
    return bool(
        con.execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()
    )


class ReviewQueueConfig(dg.Config):
    max_items: int = 500
    """Items in the open queue at most."""
    per_segment_quota: int = 25
    """Items every segment gets first (its highest priority ones), so small segments stay
    visible however many items the large ones raise."""


# Open = raised and not yet reviewed: an item is reviewed once a batch that passed the agreement
# gate gave it two reviews or more (one review decides nothing; an untrustworthy batch neither).
# Every segment's best `per_segment_quota` items come first, then the rest by priority (newest
# first), up to `max_items`.
_QUEUE_SQL = f"""
create or replace temp table reviewed_items as
select distinct item_id from {ITEM_AGREEMENT_TABLE}
where reviews >= 2
    and batch in (select batch from {AGREEMENT_TABLE} where reason = 'all' and is_usable);

create or replace temp table new_queue as
with candidates as (
    select * from marts.fct_review_candidates
    where item_id not in (select item_id from reviewed_items)
),
ranked as (
    select
        *,
        row_number() over (
            partition by user_segment order by priority desc, occurred_at desc, item_id
        ) <= $per_segment_quota as within_segment_quota
    from candidates
),
ordered as (
    select
        *,
        row_number() over (
            order by within_segment_quota desc, priority desc, occurred_at desc, item_id
        ) as queue_position
    from ranked
)
select {_QUEUE_COLUMNS}
from ordered
where queue_position <= $max_items
"""


@dg.asset(
    deps=[FCT_REVIEW_CANDIDATES, review_agreement],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="review",
    metadata={"table": QUEUE_TABLE},
)
def review_queue(
    context: dg.AssetExecutionContext,
    config: ReviewQueueConfig,
    platform: PlatformResource,
    duckdb: DuckDBResource,
) -> dg.MaterializeResult:
    """The open human review queue (``review.review_queue`` and ``review/queue.jsonl``): items
    with a stable ``item_id``, a reason, a priority, the texts a reviewer needs and the segment.
    Every item ever queued is kept in ``review.review_items`` so late labels still resolve."""
    path = platform.settings().review_dir / "queue.jsonl"
    with duckdb.get_connection() as con:
        if not _agreement_written(con):  # a new home whose first run is a drop's
            write_agreement(con)
        _replace_queue(con, config)
        _export_jsonl(con, f"select * from {QUEUE_TABLE} order by queue_position", path)
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
                md_table(["#", "reason", "priority", "segment", "prompt"], summary.preview)
            ),
        }
    )


def _replace_queue(con: duckdb.DuckDBPyConnection, config: ReviewQueueConfig) -> None:
    """Sample the open queue, keep its new items in ``review.review_items`` and replace
    ``review.review_queue`` with it, in one transaction."""
    with transaction(con):
        con.execute(
            _QUEUE_SQL,
            {"max_items": config.max_items, "per_segment_quota": config.per_segment_quota},
        )
        con.execute(
            """
            insert into review.review_items by name
            select * exclude (queue_position), now()::timestamp as first_queued_at
            from new_queue
            on conflict do nothing
            """
        )
        con.execute(f"create or replace table {QUEUE_TABLE} as from new_queue")


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
        "select count(*), count(*) filter (where item_id in (from reviewed_items))"
        " from marts.fct_review_candidates"
    ).fetchall()
    preview = con.execute(
        f"""
        select queue_position, reason, priority, user_segment, left(prompt, 60)
        from {QUEUE_TABLE} order by queue_position limit 10
        """
    ).fetchall()
    return QueueSummary(by_reason, by_segment, raised, reviewed, preview)
