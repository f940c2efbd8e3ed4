"""Privacy requests: drops in ``landing/privacy/`` become ``raw.privacy_requests``.

They land as event drops do (``ingest_drops``): one file one transaction, the ledger, a
quarantine with reasons, the drop sensor. The raw user id of a request is hashed in the
statement that reads it (privacy/requests.py); its raw text in quarantine is redacted as an
event's is. ``privacy_erasures`` then carries out the erase requests (privacy/erasure.py) in
the same run; dbt reads the requests through it (the source's asset key), so every dbt model,
and every dataset and file built from them, comes after the erasure in any run.
"""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from duckdb import DuckDBPyConnection

from feedback_platform.assets.ingestion import (
    DropTables,
    IngestConfig,
    ingest_drops,
    raw_table_spec,
    requested_paths,
)
from feedback_platform.assets.review import QUEUE_TABLE, export_jsonl
from feedback_platform.assets.training import ANCHORS, KTO, PAIRS, DatasetSpec, publish_dataset
from feedback_platform.engine import engine_for
from feedback_platform.ingest.load import FileIngestResult
from feedback_platform.privacy.erasure import (
    PublishedDataset,
    compact_warehouse,
    complete_erasures,
    erase_user,
    pending_erasures,
    replace_warehouse,
)
from feedback_platform.privacy.requests import PRIVACY_DROP_SUFFIXES, ingest_privacy_file
from feedback_platform.resources import PlatformResource
from feedback_platform.schema import PRIVACY_LEDGER, PRIVACY_REQUESTS_TABLE
from feedback_platform.settings import Settings

PRIVACY_TABLES = DropTables(
    rows=raw_table_spec(
        dg.AssetKey("raw_privacy_requests"),
        PRIVACY_REQUESTS_TABLE,
        "One row per privacy request (erase, opt out of or back into training data): the"
        " subject's hash, kind, times and what was done; never the user id.",
        group="privacy",
    ),
    quarantine=raw_table_spec(
        dg.AssetKey("raw_quarantined_privacy_requests"),
        "raw.quarantined_privacy_requests",
        "Request lines that broke the request contract, with file, line, redacted raw text"
        " and reason.",
        group="privacy",
    ),
    ledger=raw_table_spec(
        dg.AssetKey("raw_ingested_privacy_files"),
        PRIVACY_LEDGER,
        "One row per ingested request file: sha256 and read/valid/quarantined/duplicate counts.",
        group="privacy",
    ),
    ledger_check="privacy_ledger_balances",
    quarantine_check="privacy_quarantine_share_is_low",
    ingested_check="every_privacy_drop_ingested",
    suffixes=PRIVACY_DROP_SUFFIXES,
)


@dg.multi_asset(specs=PRIVACY_TABLES.specs, check_specs=PRIVACY_TABLES.check_specs, pool="duckdb")
def raw_privacy_requests(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """Ingest request drops (``.jsonl``) from ``landing/privacy/``, each file in one
    transaction."""
    settings = platform.settings()
    landing = settings.privacy_landing_dir
    paths = requested_paths(landing, config.files, PRIVACY_DROP_SUFFIXES)

    def ingest(con: DuckDBPyConnection, path: Path, _: None) -> FileIngestResult:
        return ingest_privacy_file(
            con,
            path,
            user_salt=settings.user_salt,
            max_drop_bytes=settings.max_drop_bytes,
            max_line_bytes=settings.max_line_bytes,
            scrub=settings.scrub,
        )

    yield from ingest_drops(context, duckdb, PRIVACY_TABLES, landing, paths, ingest)


@dg.asset(
    deps=[PRIVACY_TABLES.rows.key],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="privacy",
    metadata={"table": PRIVACY_REQUESTS_TABLE},
)
def privacy_erasures(
    context: dg.AssetExecutionContext, platform: PlatformResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Erase requests carried out: every row of the user in every table, their landing drops,
    their rows in every dataset version (a new version without them, older ones rewritten and
    marked ``redacted_by``), the review queue file, and the warehouse copied to a fresh file
    so no deleted row stays in its bytes. A request is completed only once all of it is done;
    a run killed mid-way leaves it pending and the next run finishes it."""
    completed = carry_out_erasures(context, duckdb, platform.settings())
    # request ids only: the event log is kept for good and must not name the user
    return dg.MaterializeResult(
        metadata={
            "erasures_completed": len(completed),
            "request_ids": dg.MetadataValue.json(completed),
        }
    )


def _erasable(dataset: DatasetSpec, datasets_dir: Path) -> PublishedDataset:
    """``dataset`` as erasures reach it: published and counted as its asset does."""
    return PublishedDataset(
        folder=dataset.folder,
        rows_table=dataset.rows_table,
        order_by=f"occurred_at, {dataset.id_column}",
        counted_by=dataset.kind_column,
        publish=lambda con, rows_table: publish_dataset(
            con, dataset, datasets_dir, rows_table=rows_table
        ),
    )


def carry_out_erasures(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: Settings
) -> list[str]:
    """Every pending erase request (privacy/erasure.py): the user's files and rows, the review
    queue file rewritten without them, then the warehouse compacted to a fresh file and the
    requests completed. Returns the ids completed."""
    datasets = [_erasable(dataset, settings.datasets_dir) for dataset in (PAIRS, KTO, ANCHORS)]
    with warehouse.get_connection() as con:
        pending = pending_erasures(con)
        if not pending:
            return []
        engine_for(settings).refuse_unported("privacy_erasures")
        erased_keys = set()
        for request_id, key in pending:
            # a key already erased in this loop (a second request of the same user) was done
            if key is not None and key not in erased_keys:
                outcome = erase_user(con, settings, request_id, key, datasets)
                erased_keys.add(key)
                context.log.info(f"erasure {request_id}: {outcome.as_json()}")
        _rewrite_queue_file(con, settings)
        fresh = compact_warehouse(con, settings.warehouse_path)
    replace_warehouse(fresh, settings.warehouse_path)
    with warehouse.get_connection() as con:
        return complete_erasures(con)


def _rewrite_queue_file(con: DuckDBPyConnection, settings: Settings) -> None:
    """``review/queue.jsonl`` again from the queue table the erasure cleaned (the queue asset
    writes it after each drop; an erasure cannot wait for the next)."""
    exists = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema || '.' || table_name = ?",
        [QUEUE_TABLE],
    ).fetchone()[0]
    if exists:
        export_jsonl(
            con,
            f"select * from {QUEUE_TABLE} order by queue_position",
            settings.review_dir / "queue.jsonl",
        )
