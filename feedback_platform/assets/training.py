"""Stage 5 (training data): versioned preference pairs and KTO signals, and what each
contributor's feedback is worth.

The rules that make a pair live in the dbt models (``fct_preference_candidates``,
``fct_kto_candidates``); these assets weigh and split the confident rows, publish them as
immutable versions under ``datasets/`` and check what they published. All of it is DuckDB SQL;
no table passes through pandas.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from feedback_platform.assets.metadata import md_table
from feedback_platform.assets.review import REVIEW_PAIRS, REVIEW_PAIRS_TABLE
from feedback_platform.datasets.text import has_text, prompt_bucket, same_text, without_whitespace
from feedback_platform.datasets.versions import PublishedVersion, publish
from feedback_platform.dbt_project import dbt_vars
from feedback_platform.resources import PlatformResource

FCT_PREFERENCE_CANDIDATES = dg.AssetKey(["marts", "fct_preference_candidates"])
FCT_KTO_CANDIDATES = dg.AssetKey(["marts", "fct_kto_candidates"])

PAIRS_TABLE = "training.preference_pairs"
KTO_TABLE = "training.kto_signals"
IMPACT_TABLE = "training.contributor_impact"

SPLITS = ("train", "holdout")

#: The columns of the published preference pairs: TRL's standard preference format first.
PAIR_COLUMNS = [
    "prompt",
    "chosen",
    "rejected",
    "pair_id",
    "source",
    "generation_ids",
    "source_event_ids",
    "model_version",
    "user_segment",
    "confidence",
    "weight",
    "occurred_at",
]

#: The columns of the published KTO signals: TRL's unpaired preference format first.
KTO_COLUMNS = [
    "prompt",
    "completion",
    "label",
    "example_id",
    "signal",
    "generation_id",
    "source_event_ids",
    "model_version",
    "user_segment",
    "weight",
    "occurred_at",
]


class TrainingDataConfig(dg.Config):
    half_life_days: float = 30.0
    """Recency weight = 0.5 ^ (age in days / half_life_days), age from the dataset's as-of time
    (the newest event not dated after its own ingestion), so re-runs give the same weights."""
    holdout_percent: int = 10
    """Share of prompts held out, by a hash of the prompt with its whitespace removed (prompts
    that differ only in whitespace share a split)."""


#: The dataset's as-of time: the newest event or review decision, ignoring any dated after its
#: own ingestion (a client whose clock runs ahead would otherwise age every other row).
_AS_OF_SQL = """
select greatest(
    (select max(occurred_at) from raw.feedback_events where occurred_at <= ingested_at),
    (select max(labeled_at) from raw.review_labels where labeled_at <= ingested_at)
)
"""


def _weight_and_split(occurred_at: str) -> str:
    return f"""
        pow(0.5, greatest(date_diff('second', {occurred_at}, $as_of), 0) / 86400.0
            / $half_life_days) as weight,
        case when prompt_bucket < $holdout_percent then 'holdout' else 'train' end as split"""


_PAIRS_SQL = f"""
create or replace temp table pairs_build as
with event_pairs as (
    select
        pair_id, source, prompt, chosen, rejected, generation_ids, source_event_ids,
        model_version, user_segment, user_key, occurred_at, confidence, prompt_bucket
    from marts.fct_preference_candidates
    where not is_low_confidence
),
review_pairs as (
    select
        pair_id, source, prompt, chosen, rejected, generation_ids, source_event_ids,
        model_version, user_segment, user_key, occurred_at, confidence,
        {prompt_bucket("prompt")} as prompt_bucket
    from {REVIEW_PAIRS_TABLE}
    -- a pair the events already give confidently needs no reviewed twin
    where generation_ids not in (select generation_ids from event_pairs)
),
pairs as (
    select * from event_pairs
    union all
    select * from review_pairs
)
select
    * exclude (prompt_bucket)
    replace (coalesce(user_segment, 'unknown') as user_segment, confidence::double as confidence),
    {_weight_and_split("occurred_at")}
from pairs
"""

_KTO_SQL = f"""
create or replace temp table kto_build as
select
    prompt,
    completion,
    label,
    example_id,
    signal,
    generation_id,
    [generation_event_id] as source_event_ids,
    model_version,
    coalesce(user_segment, 'unknown') as user_segment,
    occurred_at,
    {_weight_and_split("occurred_at")}
from marts.fct_kto_candidates
"""


@dataclass(frozen=True)
class DatasetSpec:
    """One published dataset: the SQL that builds its rows into ``build_table``, the table
    that keeps them with their version (``table``), its folder under ``datasets/``, the
    published ``columns``, the id that orders rows of the same time in the files
    (``id_column``), and the column its rows are counted by besides split and segment."""

    build_sql: str
    build_table: str
    table: str
    folder: str
    columns: tuple[str, ...]
    id_column: str
    kind_column: str


PAIRS = DatasetSpec(
    build_sql=_PAIRS_SQL,
    build_table="pairs_build",
    table=PAIRS_TABLE,
    folder="preference_pairs",
    columns=tuple(PAIR_COLUMNS),
    id_column="pair_id",
    kind_column="source",
)

KTO = DatasetSpec(
    build_sql=_KTO_SQL,
    build_table="kto_build",
    table=KTO_TABLE,
    folder="kto_signals",
    columns=tuple(KTO_COLUMNS),
    id_column="example_id",
    kind_column="signal",
)


_PAIR_CHECKS_SQL = f"""
with published as (
    select *, filename like '%holdout.parquet' as in_holdout
    from read_parquet($files, filename = true)
),
events as (
    select unnest(source_event_ids) as event_id from published
)
select
    (select count(*) from published
     where not {has_text("prompt")} or not {has_text("chosen")} or not {has_text("rejected")}
        or {same_text("chosen", "rejected")}
        or prompt is null or chosen is null or rejected is null),
    (select count(*) from (
        select {without_whitespace("prompt")} from published group by all
        having count(distinct in_holdout) > 1)),
    (select count(*) from published where weight is null or weight <= 0 or weight > 1),
    (select count(*) from events
     where event_id not in (select event_id from raw.feedback_events))
"""


@dg.asset(
    deps=[FCT_PREFERENCE_CANDIDATES, REVIEW_PAIRS],
    check_specs=[
        dg.AssetCheckSpec(name, asset="preference_pairs", blocking=True, description=description)
        for name, description in (
            ("no_degenerate_pairs", "no empty text, no chosen equal to rejected"),
            ("no_prompt_in_both_splits", "train and holdout share no prompt"),
            ("weights_in_range", "every weight in (0, 1]"),
            ("provenance_resolves", "every source_event_id is in raw.feedback_events"),
        )
    ],
    pool="duckdb",
    kinds={"duckdb", "parquet"},
    group_name="training",
    metadata={"table": PAIRS_TABLE},
)
def preference_pairs(
    context: dg.AssetExecutionContext,
    config: TrainingDataConfig,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """Preference pairs in TRL's standard format (``prompt``, ``chosen``, ``rejected``) with
    provenance, from edits, corrections, accepted regenerations, ``prefer`` events and reviewed
    items that passed the agreement gate. Each change of content is a new immutable version
    under ``datasets/preference_pairs/`` (``train.parquet``, ``holdout.parquet``,
    ``manifest.json``) and ``LATEST`` names it; unchanged content makes no new version. The
    checks read the published files."""
    with duckdb.get_connection() as con:
        version = _build_and_publish(con, PAIRS, platform.settings().datasets_dir, config)
        preview = con.execute(
            f"select source, split, prompt, chosen, rejected, round(weight, 3) from {PAIRS_TABLE}"
            " order by occurred_at desc, pair_id limit 5"
        ).fetchall()
        files = [str(version.path / f"{split}.parquet") for split in SPLITS]
        failures = con.execute(_PAIR_CHECKS_SQL, {"files": files}).fetchone()
    context.log.info(_describe(version))
    yield dg.MaterializeResult(
        metadata={
            **_version_metadata(version),
            "preview": dg.MetadataValue.md(
                md_table(["source", "split", "prompt", "chosen", "rejected", "weight"], preview)
            ),
        }
    )
    yield from _pair_checks(version, failures)


def _pair_checks(
    version: PublishedVersion, failures: tuple[int, int, int, int]
) -> Iterator[dg.AssetCheckResult]:
    """One check per count of ``_PAIR_CHECKS_SQL``, in its order."""
    degenerate, shared_prompts, bad_weights, unresolved = failures
    for name, count, what in (
        ("no_degenerate_pairs", degenerate, "degenerate pairs"),
        ("no_prompt_in_both_splits", shared_prompts, "prompts in both train and holdout"),
        ("weights_in_range", bad_weights, "weights outside (0, 1]"),
        ("provenance_resolves", unresolved, "source event ids not in raw.feedback_events"),
    ):
        yield dg.AssetCheckResult(
            check_name=name,
            passed=count == 0,
            description=f"{count} {what} in version {version.version}",
            metadata={"failures": count, "version": version.version},
        )


@dg.asset(
    deps=[FCT_KTO_CANDIDATES],
    pool="duckdb",
    kinds={"duckdb", "parquet"},
    group_name="training",
    metadata={"table": KTO_TABLE},
)
def kto_signals(
    context: dg.AssetExecutionContext,
    config: TrainingDataConfig,
    platform: PlatformResource,
    duckdb: DuckDBResource,
) -> dg.MaterializeResult:
    """Unpaired ``prompt``, ``completion``, ``label`` rows (TRL's unpaired preference format,
    for KTO) from thumbs, copies, shares and abandoned sessions, versioned like the pairs under
    ``datasets/kto_signals/``."""
    with duckdb.get_connection() as con:
        version = _build_and_publish(con, KTO, platform.settings().datasets_dir, config)
    context.log.info(_describe(version))
    return dg.MaterializeResult(metadata=_version_metadata(version))


def _build_and_publish(
    con: duckdb.DuckDBPyConnection,
    dataset: DatasetSpec,
    datasets_dir: Path,
    config: TrainingDataConfig,
) -> PublishedVersion:
    """Build the rows, publish them under ``datasets_dir / dataset.folder`` unless unchanged,
    and keep them as ``dataset.table`` with the name of the version they are in. Files are
    sorted by time, then the id column, so the same content gives the same bytes; counts are
    by the kind column, split and segment."""
    [(as_of,)] = con.execute(_AS_OF_SQL).fetchall()
    parameters = {
        "half_life_days": config.half_life_days,
        "holdout_percent": config.holdout_percent,
    }
    con.execute(dataset.build_sql, {"as_of": as_of, **parameters})
    counts = _row_counts(con, dataset)
    version = publish(
        con,
        datasets_dir / dataset.folder,
        table=dataset.build_table,
        columns=list(dataset.columns),
        splits=SPLITS,
        order_by=f"occurred_at, {dataset.id_column}",
        manifest={
            "as_of": as_of.isoformat() if as_of else None,
            "parameters": {**parameters, "dbt_vars": dbt_vars()},
            "row_counts": {"total": sum(counts["by_split"].values()), **counts},
        },
    )
    con.execute(
        f"create or replace table {dataset.table} as"
        f" select *, '{version.version}' as dataset_version from {dataset.build_table}"
    )
    return version


def _row_counts(con: duckdb.DuckDBPyConnection, dataset: DatasetSpec) -> dict[str, dict]:
    """The built rows counted by the kind column, by split and by segment."""
    return {
        f"by_{column}": dict(
            con.execute(
                f"select {column}::varchar, count(*) from {dataset.build_table}"
                " group by all order by 1"
            ).fetchall()
        )
        for column in (dataset.kind_column, "split", "user_segment")
    }


def _version_metadata(version: PublishedVersion) -> dict:
    counts = version.manifest["row_counts"]
    by = {name: counts[name] for name in counts if name.startswith("by_")}
    return {
        "dataset_version": version.version,
        "new_version": version.is_new,
        "path": dg.MetadataValue.path(str(version.path)),
        "as_of": version.manifest["as_of"] or "no events",
        "dagster/row_count": counts["total"],
        "row_counts": dg.MetadataValue.md(
            "\n\n".join(
                md_table([name.removeprefix("by_"), "rows"], sorted(values.items()))
                for name, values in by.items()
            )
        ),
    }


def _describe(version: PublishedVersion) -> str:
    rows = version.manifest["row_counts"]["total"]
    if version.is_new:
        return f"published {version.version} ({rows} rows) at {version.path}"
    return f"content unchanged: {version.version} ({rows} rows) stays the latest version"


# Per user and month: their edits, corrections and choices in the latest pairs version, and the
# sentence the product shows them. "this month" for the dataset's as-of month.
_IMPACT_SQL = f"""
create or replace table {IMPACT_TABLE} as
with contributions as (
    select
        user_key,
        date_trunc('month', occurred_at)::date as month,
        source,
        generation_ids[1] as generation_id,
        dataset_version
    from {PAIRS_TABLE}
    where source in ('edit', 'correction', 'prefer') and user_key is not null
),
per_month as (
    select
        user_key,
        month,
        count(*) filter (where source = 'edit') as edits,
        count(*) filter (where source = 'correction') as corrections,
        count(*) filter (where source = 'prefer') as choices,
        count(distinct generation_id) as answers_improved,
        any_value(dataset_version) as dataset_version
    from contributions
    group by all
),
worded as (
    select
        *,
        list_filter(
            [
                case when edits > 0 then 'edits' end,
                case when corrections > 0 then 'corrections' end,
                case when choices > 0 then 'choices' end
            ],
            lambda kind: kind is not null
        ) as kinds,
        case
            when month = date_trunc('month', $as_of::timestamp)::date then 'this month'
            else 'in ' || strftime(month, '%B %Y')
        end as period
    from per_month
)
select
    user_key,
    month,
    edits,
    corrections,
    choices,
    answers_improved,
    'Your '
        || case len(kinds)
            when 1 then kinds[1]
            else array_to_string(kinds[1:-2], ', ') || ' and ' || kinds[-1]
        end
        || ' helped improve ' || answers_improved
        || case when answers_improved = 1 then ' answer ' else ' answers ' end
        || period as message,
    dataset_version
from worded
"""


@dg.asset(
    deps=[preference_pairs],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="training",
    metadata={"table": IMPACT_TABLE},
)
def contributor_impact(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Per hashed user and month, how many of their edits, corrections and choices are in the
    latest preference-pair version, with a ready sentence for the product ("Your corrections
    helped improve 12 answers this month")."""
    with duckdb.get_connection() as con:
        [(as_of,)] = con.execute(_AS_OF_SQL).fetchall()
        con.execute(_IMPACT_SQL, {"as_of": as_of})
        [(rows, users)] = con.execute(
            f"select count(*), count(distinct user_key) from {IMPACT_TABLE}"
        ).fetchall()
        preview = con.execute(
            f"select left(user_key, 12), month, message from {IMPACT_TABLE}"
            " order by month desc, answers_improved desc, user_key limit 5"
        ).fetchall()
    context.log.info(f"contributor impact: {users} users, {rows} user-months")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "contributors": users,
            "preview": dg.MetadataValue.md(md_table(["user", "month", "message"], preview)),
        }
    )
