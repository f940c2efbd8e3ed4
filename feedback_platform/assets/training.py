"""Stage 5 (training data): the human anchor set, versioned preference pairs and KTO signals,
and what each contributor's feedback is worth.

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
from feedback_platform.datasets.human_share import (
    COLLAPSE_WATCH_TABLE,
    HUMAN_SHARE_TABLE,
    collapse_figures,
)
from feedback_platform.datasets.versions import PublishedVersion, latest_version, publish
from feedback_platform.dbt_project import dbt_vars
from feedback_platform.resources import PlatformResource

#: The schema of the dbt models in ``models/publication`` (dbt_project.yml).
PUBLICATION_SCHEMA = "publication"
PARAMETERS_TABLE = f"{PUBLICATION_SCHEMA}.dataset_parameters"
IMPACT_ROWS_TABLE = f"{PUBLICATION_SCHEMA}.contributor_impact_rows"
IMPACT_ROWS = dg.AssetKey(IMPACT_ROWS_TABLE.split("."))

ANCHOR_COVERAGE_TABLE = f"{PUBLICATION_SCHEMA}.anchor_segment_coverage"
ANCHOR_COVERAGE = dg.AssetKey(ANCHOR_COVERAGE_TABLE.split("."))

ANCHOR_TABLE = "training.anchor_set"
PAIRS_TABLE = "training.preference_pairs"
KTO_TABLE = "training.kto_signals"
IMPACT_TABLE = "training.contributor_impact"

SPLITS = ("train", "holdout")
#: The anchor set is one file: it is never trained on, so it has no train and holdout.
ANCHOR_SPLITS = ("anchor",)

#: The published anchors: TRL's standard preference format first, never the user key.
ANCHOR_COLUMNS = [
    "prompt",
    "chosen",
    "rejected",
    "anchor_id",
    "source",
    "source_event_ids",
    "model_version",
    "user_segment",
    "occurred_at",
]

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
    the files (``id_column``), the column its rows are counted by besides split and
    segment, and its ``splits`` (one file each)."""

    rows_model: str
    table: str
    folder: str
    columns: tuple[str, ...]
    id_column: str
    kind_column: str
    splits: tuple[str, ...] = SPLITS

    @property
    def rows_table(self) -> str:
        return f"{PUBLICATION_SCHEMA}.{self.rows_model}"

    @property
    def rows_asset(self) -> dg.AssetKey:
        return dg.AssetKey([PUBLICATION_SCHEMA, self.rows_model])


ANCHORS = DatasetSpec(
    rows_model="anchor_set_rows",
    table=ANCHOR_TABLE,
    folder="anchor_set",
    columns=tuple(ANCHOR_COLUMNS),
    id_column="anchor_id",
    kind_column="source",
    splits=ANCHOR_SPLITS,
)

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


#: The prompt key of the holdout and anchor rules (the dbt macro ``prompt_key``: the prompt
#: without the whitespace ``\s`` matches), computed again here on what the files hold.
_FILE_PROMPT_KEY = (
    "replace(replace(replace(replace(replace(prompt, ' ', ''), chr(9), ''), chr(10), ''),"
    " chr(12), ''), chr(13), '')"
)

#: Rows of the published ``$files`` whose prompt key is a prompt of the published anchor
#: files ``$anchor_files``.
_ANCHOR_PROMPTS_SQL = f"""
select count(*) from read_parquet($files)
where {_FILE_PROMPT_KEY} in (select {_FILE_PROMPT_KEY} from read_parquet($anchor_files))
"""

NO_ANCHOR_PROMPT_CHECK = "no_anchor_prompt_in_splits"
_NO_ANCHOR_PROMPT_DESCRIPTION = (
    "no prompt of the anchor version the dataset was cut against (whitespace removed) is in"
    " any of its written files: the anchors measure training from outside it"
)


def _anchor_check_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        NO_ANCHOR_PROMPT_CHECK,
        asset=asset,
        blocking=True,
        description=_NO_ANCHOR_PROMPT_DESCRIPTION,
    )


@dg.asset(
    deps=[ANCHORS.rows_asset, ANCHOR_COVERAGE],
    check_specs=[
        dg.AssetCheckSpec(
            "anchors_cover_every_segment",
            asset="anchor_set",
            description="Every segment of the next preference pairs has at least"
            " min_anchors_per_segment anchors (publication.anchor_segment_coverage); warns"
            " with the segments below it.",
        )
    ],
    pool="duckdb",
    kinds={"duckdb", "parquet"},
    group_name="training",
    metadata={"table": ANCHOR_TABLE},
)
def anchor_set(
    context: dg.AssetExecutionContext,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """The human anchor set: examples whose label a person decided (agreed reviews, prefer
    choices, edits and corrections, curated ``landing/anchors/`` drops), the rows of
    ``anchor_set_rows``, versioned like the pairs under ``datasets/anchor_set/``
    (``anchor.parquet``). Its prompts are in no split of the pairs or KTO signals; each of
    their manifests names the anchor version it was cut against."""
    with duckdb.get_connection() as con:
        version = publish_dataset(con, ANCHORS, platform.settings().datasets_dir)
        thin = con.execute(
            f"select user_segment, anchors, floor_anchors from {ANCHOR_COVERAGE_TABLE}"
            " where is_below_floor order by user_segment"
        ).fetchall()
    context.log.info(_describe(version))
    yield dg.MaterializeResult(metadata=_version_metadata(version))
    yield dg.AssetCheckResult(
        check_name="anchors_cover_every_segment",
        passed=not thin,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "; ".join(
                f"segment {segment}: {count} anchors < {floor}" for segment, count, floor in thin
            )
            if thin
            else "every segment has enough anchors"
        ),
        metadata={
            "segments_below_floor": dg.MetadataValue.json(
                {segment: count for segment, count, _ in thin}
            ),
            "version": version.version,
        },
    )


def _cut_against_anchors(datasets_dir: Path) -> PublishedVersion:
    """The anchor version a pairs or KTO version is cut against: the latest, which
    ``anchor_set`` (upstream of both) just published or kept."""
    anchors = latest_version(datasets_dir / ANCHORS.folder)
    if anchors is None:
        raise RuntimeError("no anchor_set version: the anchor_set asset runs first")
    return anchors


def _anchor_prompt_check(
    con: duckdb.DuckDBPyConnection, version: PublishedVersion, anchors: PublishedVersion
) -> dg.AssetCheckResult:
    files = [str(version.path / name) for name in version.manifest["files"]]
    anchor_files = [str(anchors.path / name) for name in anchors.manifest["files"]]
    [(count,)] = con.execute(
        _ANCHOR_PROMPTS_SQL, {"files": files, "anchor_files": anchor_files}
    ).fetchall()
    return dg.AssetCheckResult(
        check_name=NO_ANCHOR_PROMPT_CHECK,
        passed=count == 0,
        description=f"{count} rows of version {version.version} have a prompt of anchor"
        f" version {anchors.version}",
        metadata={
            "failures": count,
            "version": version.version,
            "anchor_version": anchors.version,
        },
    )


HUMAN_SHARE_CHECK = "human_share_is_healthy"


@dg.asset(
    deps=[
        PAIRS.rows_asset,
        anchor_set,
        dg.AssetKey(HUMAN_SHARE_TABLE.split(".")),
        dg.AssetKey(COLLAPSE_WATCH_TABLE.split(".")),
    ],
    check_specs=[
        *(
            dg.AssetCheckSpec(
                name, asset="preference_pairs", blocking=True, description=description
            )
            for name, description, _ in _PAIR_CHECKS
        ),
        _anchor_check_spec("preference_pairs"),
        dg.AssetCheckSpec(
            HUMAN_SHARE_CHECK,
            asset="preference_pairs",
            description="At least min_human_share of the version's pairs have a chosen side a"
            " person wrote or chose, and (with two model versions or more) no model version"
            " holds more than max_model_version_share of them (publication.pair_collapse_watch)"
            "; warns otherwise.",
        ),
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
    datasets_dir = platform.settings().datasets_dir
    anchors = _cut_against_anchors(datasets_dir)
    with duckdb.get_connection() as con:
        figures = collapse_figures(con, latest_version(datasets_dir / PAIRS.folder))
        version = publish_dataset(con, PAIRS, datasets_dir, anchors, figures)
        # ids and figures only: Dagster keeps metadata in its event log for good, where an
        # erasure could not reach a user's text (the texts are in the files and the table)
        preview = con.execute(
            f"select pair_id, source, split, round(weight, 3) from {PAIRS_TABLE}"
            " order by occurred_at desc, pair_id limit 5"
        ).fetchall()
        files = [str(version.path / f"{split}.parquet") for split in SPLITS]
        failures = con.execute(_PAIR_CHECKS_SQL, {"files": files}).fetchone()
        anchor_check = _anchor_prompt_check(con, version, anchors)
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
    yield anchor_check
    yield _human_share_check(version, figures)


def _human_share_check(version: PublishedVersion, figures: dict) -> dg.AssetCheckResult:
    """Warns when the version's human share is low or one model version dominates its pairs
    (the flags of ``collapse_watch``, which dbt computed). The version's own manifest sections
    when it has them; ``figures`` (the same rows' figures) for a version published before the
    watch existed, whose content is unchanged."""
    sections = version.manifest if "collapse_watch" in version.manifest else figures
    share, watch = sections["human_share"], sections["collapse_watch"]
    problems = []
    if watch["is_human_share_low"]:
        problems.append(
            f"human share {share['share']:.3f} < min_human_share {watch['min_human_share']}"
        )
    if watch["is_one_model_version_dominant"]:
        problems.append(
            f"model version {watch['top_model_version']} holds"
            f" {watch['top_model_version_share']:.3f} of the pairs >"
            f" max_model_version_share {watch['max_model_version_share']}"
        )
    return dg.AssetCheckResult(
        check_name=HUMAN_SHARE_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"version {version.version}: "
        + ("; ".join(problems) if problems else "human share and model mix within bounds"),
        metadata={
            "version": version.version,
            "human_share": share["share"],
            "change_from_parent": share["change_from_parent"],
            "top_model_version_share": watch["top_model_version_share"],
        },
    )


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
    deps=[KTO.rows_asset, anchor_set],
    check_specs=[_anchor_check_spec("kto_signals")],
    pool="duckdb",
    kinds={"duckdb", "parquet"},
    group_name="training",
    metadata={"table": KTO_TABLE},
)
def kto_signals(
    context: dg.AssetExecutionContext,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """Unpaired ``prompt``, ``completion``, ``label`` rows (TRL's unpaired preference format,
    for KTO) from thumbs, copies, shares and abandoned sessions (the rows of
    ``kto_signal_rows``), versioned like the pairs under ``datasets/kto_signals/``."""
    datasets_dir = platform.settings().datasets_dir
    anchors = _cut_against_anchors(datasets_dir)
    with duckdb.get_connection() as con:
        version = publish_dataset(con, KTO, datasets_dir, anchors)
        anchor_check = _anchor_prompt_check(con, version, anchors)
    context.log.info(_describe(version))
    yield dg.MaterializeResult(metadata=_version_metadata(version))
    yield anchor_check


def publish_dataset(
    con: duckdb.DuckDBPyConnection,
    dataset: DatasetSpec,
    datasets_dir: Path,
    anchors: PublishedVersion | None = None,
    figures: dict | None = None,
    rows_table: str | None = None,
) -> PublishedVersion:
    """Publish the rows of ``rows_table`` (by default ``dataset.rows_table``; an erasure passes
    those rows without the erased user's) under ``datasets_dir / dataset.folder`` unless
    unchanged, and keep them as ``dataset.table`` with the name of the version they are in.
    Files are sorted by time, then the id column, so the same content gives the same bytes;
    counts are by the kind column, split and segment. A training dataset names the
    ``anchors`` version its rows were cut against (they hold none of its prompts); ``figures``
    are further manifest sections (the pairs' collapse watch)."""
    rows_table = rows_table or dataset.rows_table
    as_of, parameters = _dataset_parameters(con)
    counts = _row_counts(con, dataset, rows_table)
    version = publish(
        con,
        datasets_dir / dataset.folder,
        table=rows_table,
        columns=list(dataset.columns),
        splits=dataset.splits,
        order_by=f"occurred_at, {dataset.id_column}",
        manifest={
            **({"anchor_version": anchors.version} if anchors else {}),
            "as_of": as_of.isoformat() if as_of else None,
            "parameters": {**parameters, "dbt_vars": _rule_vars(parameters)},
            "row_counts": {"total": sum(counts["by_split"].values()), **counts},
            **(figures or {}),
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
