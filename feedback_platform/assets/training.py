"""Stage 5 (training data): versioned preference pairs and KTO signals, and what each
contributor's feedback is worth.

The rows of each dataset (which candidates, their recency weight and split) and contributor
impact are dbt models (``models/publication``), built by ``gated_models`` right before
these assets; the assets publish the rows as immutable versions under ``datasets/``, keep them
with their version's name and check what they wrote. No table passes through pandas.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from feedback_platform.assets.metadata import md_table
from feedback_platform.datasets.versions import PublishedVersion, publish
from feedback_platform.dbt_project import dbt_vars
from feedback_platform.resources import PlatformResource

#: The schema of the dbt models in ``models/publication`` (dbt_project.yml).
PUBLICATION_SCHEMA = "publication"
PARAMETERS_TABLE = f"{PUBLICATION_SCHEMA}.dataset_parameters"
IMPACT_ROWS_TABLE = f"{PUBLICATION_SCHEMA}.contributor_impact_rows"
IMPACT_ROWS = dg.AssetKey(IMPACT_ROWS_TABLE.split("."))

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


@dataclass(frozen=True)
class DatasetSpec:
    """One published dataset: the dbt model holding its rows (``rows_model``, in the
    publication schema), the table that keeps them with their version (``table``), its folder
    under ``datasets/``, the published ``columns``, the id that orders rows of the same time in
    the files (``id_column``), and the column its rows are counted by besides split and
    segment."""

    rows_model: str
    table: str
    folder: str
    columns: tuple[str, ...]
    id_column: str
    kind_column: str

    @property
    def rows_table(self) -> str:
        return f"{PUBLICATION_SCHEMA}.{self.rows_model}"

    @property
    def rows_asset(self) -> dg.AssetKey:
        return dg.AssetKey([PUBLICATION_SCHEMA, self.rows_model])


PAIRS = DatasetSpec(
    rows_model="preference_pair_rows",
    table=PAIRS_TABLE,
    folder="preference_pairs",
    columns=tuple(PAIR_COLUMNS),
    id_column="pair_id",
    kind_column="source",
)

KTO = DatasetSpec(
    rows_model="kto_signal_rows",
    table=KTO_TABLE,
    folder="kto_signals",
    columns=tuple(KTO_COLUMNS),
    id_column="example_id",
    kind_column="signal",
)


#: Every valid event's ids (no text), kept by dbt after retention deletes the raw event: the
#: events a published row names resolve here however old they are.
EVENT_IDS_TABLE = "intermediate.int_events_sessionized"

#: What the checks read in the written files: the texts and the split of every published pair
#: are those of the rows the dbt tests passed (``no_degenerate_pairs``, ``one_split_per_text``
#: on ``preference_pair_rows``), every weight is in (0, 1], and every source event id resolves.
_PAIR_CHECKS_SQL = f"""
with published as (
    select
        *,
        case when filename like '%holdout.parquet' then 'holdout' else 'train' end as split
    from read_parquet($files, filename = true)
),
events as (
    select unnest(source_event_ids) as event_id from published
)
select
    (select count(*) from published
     anti join {PAIRS.rows_table} as checked using (pair_id, prompt, chosen, rejected)),
    (select count(*) from published anti join {PAIRS.rows_table} as checked using (pair_id, split)),
    (select count(*) from published where weight is null or weight <= 0 or weight > 1),
    (select count(*) from events
     where event_id not in (select event_id from {EVENT_IDS_TABLE}))
"""

_PAIR_CHECKS = (
    (
        "no_degenerate_pairs",
        "no empty text, no chosen equal to rejected: the published texts are those of"
        " preference_pair_rows, whose dbt test no_degenerate_pairs passed",
        "published pairs whose texts are not the tested rows'",
    ),
    (
        "no_prompt_in_both_splits",
        "train and holdout share no prompt: each published pair is in the file of its split in"
        " preference_pair_rows, whose dbt test one_split_per_text passed",
        "published pairs in another split than the tested rows'",
    ),
    ("weights_in_range", "every weight in (0, 1]", "weights outside (0, 1]"),
    (
        "provenance_resolves",
        "every source_event_id is a known event (intermediate.int_events_sessionized, which"
        " keeps every event's ids after retention deleted its raw row)",
        "source event ids of no known event",
    ),
)


@dg.asset(
    deps=[PAIRS.rows_asset],
    check_specs=[
        dg.AssetCheckSpec(name, asset="preference_pairs", blocking=True, description=description)
        for name, description, _ in _PAIR_CHECKS
    ],
    pool="duckdb",
    kinds={"duckdb", "parquet"},
    group_name="training",
    metadata={"table": PAIRS_TABLE},
)
def preference_pairs(
    context: dg.AssetExecutionContext,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """Preference pairs in TRL's standard format (``prompt``, ``chosen``, ``rejected``) with
    provenance, from edits, corrections, accepted regenerations, ``prefer`` events and reviewed
    items that passed the agreement gate (the rows of ``preference_pair_rows``). Each change of
    content is a new immutable version under ``datasets/preference_pairs/``
    (``train.parquet``, ``holdout.parquet``, ``manifest.json``) and ``LATEST`` names it;
    unchanged content makes no new version. The checks read the published files."""
    with duckdb.get_connection() as con:
        version = publish_dataset(con, PAIRS, platform.settings().datasets_dir)
        # ids and figures only: Dagster keeps metadata in its event log for good, where an
        # erasure could not reach a user's text (the texts are in the files and the table)
        preview = con.execute(
            f"select pair_id, source, split, round(weight, 3) from {PAIRS_TABLE}"
            " order by occurred_at desc, pair_id limit 5"
        ).fetchall()
        files = [str(version.path / f"{split}.parquet") for split in SPLITS]
        failures = con.execute(_PAIR_CHECKS_SQL, {"files": files}).fetchone()
    context.log.info(_describe(version))
    yield dg.MaterializeResult(
        metadata={
            **_version_metadata(version),
            "preview": dg.MetadataValue.md(
                md_table(["pair_id", "source", "split", "weight"], preview)
            ),
        }
    )
    yield from _pair_checks(version, failures)


def _pair_checks(
    version: PublishedVersion, failures: tuple[int, int, int, int]
) -> Iterator[dg.AssetCheckResult]:
    """One check per count of ``_PAIR_CHECKS_SQL``, in its order (that of ``_PAIR_CHECKS``)."""
    for (name, _, what), count in zip(_PAIR_CHECKS, failures, strict=True):
        yield dg.AssetCheckResult(
            check_name=name,
            passed=count == 0,
            description=f"{count} {what} in version {version.version}",
            metadata={"failures": count, "version": version.version},
        )


@dg.asset(
    deps=[KTO.rows_asset],
    pool="duckdb",
    kinds={"duckdb", "parquet"},
    group_name="training",
    metadata={"table": KTO_TABLE},
)
def kto_signals(
    context: dg.AssetExecutionContext,
    platform: PlatformResource,
    duckdb: DuckDBResource,
) -> dg.MaterializeResult:
    """Unpaired ``prompt``, ``completion``, ``label`` rows (TRL's unpaired preference format,
    for KTO) from thumbs, copies, shares and abandoned sessions (the rows of
    ``kto_signal_rows``), versioned like the pairs under ``datasets/kto_signals/``."""
    with duckdb.get_connection() as con:
        version = publish_dataset(con, KTO, platform.settings().datasets_dir)
    context.log.info(_describe(version))
    return dg.MaterializeResult(metadata=_version_metadata(version))


def publish_dataset(
    con: duckdb.DuckDBPyConnection,
    dataset: DatasetSpec,
    datasets_dir: Path,
    rows_table: str | None = None,
) -> PublishedVersion:
    """Publish the rows of ``rows_table`` (by default ``dataset.rows_table``; an erasure passes
    those rows without the erased user's) under ``datasets_dir / dataset.folder`` unless
    unchanged, and keep them as ``dataset.table`` with the name of the version they are in.
    Files are sorted by time, then the id column, so the same content gives the same bytes;
    counts are by the kind column, split and segment."""
    rows_table = rows_table or dataset.rows_table
    as_of, parameters = _dataset_parameters(con)
    counts = _row_counts(con, dataset, rows_table)
    version = publish(
        con,
        datasets_dir / dataset.folder,
        table=rows_table,
        columns=list(dataset.columns),
        splits=SPLITS,
        order_by=f"occurred_at, {dataset.id_column}",
        manifest={
            "as_of": as_of.isoformat() if as_of else None,
            "parameters": {**parameters, "dbt_vars": _rule_vars(parameters)},
            "row_counts": {"total": sum(counts["by_split"].values()), **counts},
        },
    )
    _keep_with_version(con, rows_table, dataset.table, version.version)
    return version


def _dataset_parameters(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, dict]:
    """The as-of time and the settings the rows were computed with, for the manifest."""
    [(as_of, half_life_days, holdout_percent)] = con.execute(
        f"select as_of, half_life_days, holdout_percent from {PARAMETERS_TABLE}"
    ).fetchall()
    return as_of, {"half_life_days": half_life_days, "holdout_percent": holdout_percent}


def _rule_vars(parameters: dict) -> dict:
    """The project's dbt vars but the dataset parameters, which the manifest records beside
    them: the thresholds of the rules that made the rows, each setting named once."""
    return {name: value for name, value in dbt_vars().items() if name not in parameters}


def _keep_with_version(
    con: duckdb.DuckDBPyConnection, rows_table: str, table: str, version: str
) -> None:
    """``table``: the rows of ``rows_table`` with the name of the dataset version they are in,
    so a reader of the table knows which published files hold the same rows."""
    con.execute(
        f"create or replace table {table} as"
        f" select *, '{version}' as dataset_version from {rows_table}"
    )


def _row_counts(
    con: duckdb.DuckDBPyConnection, dataset: DatasetSpec, rows_table: str
) -> dict[str, dict]:
    """The rows of ``rows_table`` counted by the kind column, by split and by segment."""
    return {
        f"by_{column}": dict(
            con.execute(
                f"select {column}::varchar, count(*) from {rows_table} group by all order by 1"
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


@dg.asset(
    deps=[preference_pairs, IMPACT_ROWS],
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
    helped improve 12 answers this month"): the rows of ``contributor_impact_rows``, kept with
    the name of the pairs version (the one ``training.preference_pairs`` holds)."""
    with duckdb.get_connection() as con:
        [(pairs_version,)] = con.execute(
            f"select any_value(dataset_version) from {PAIRS_TABLE}"
        ).fetchall()
        _keep_with_version(con, IMPACT_ROWS_TABLE, IMPACT_TABLE, pairs_version)
        [(rows, users)] = con.execute(
            f"select count(*), count(distinct user_key) from {IMPACT_TABLE}"
        ).fetchall()
        # figures only, no user key (see preference_pairs)
        preview = con.execute(
            f"select month, count(*), sum(answers_improved) from {IMPACT_TABLE}"
            " group by month order by month desc limit 5"
        ).fetchall()
    context.log.info(f"contributor impact: {users} users, {rows} user-months")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "contributors": users,
            "preview": dg.MetadataValue.md(
                md_table(["month", "contributors", "answers improved"], preview)
            ),
        }
    )
