"""Review labels: drops in ``landing/reviews/`` become the raw review tables in DuckDB.

They land as event drops do (``ingest_drops``); each file is one review batch, so it is
ingested whole or not at all and agreement can be measured per ``source_file``.
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
from feedback_platform.ingest.load import FileIngestResult
from feedback_platform.resources import PlatformResource
from feedback_platform.review.labels import REVIEW_DROP_SUFFIXES, ingest_review_file

REVIEW_LABEL_TABLES = DropTables(
    rows=raw_table_spec(
        dg.AssetKey("raw_review_labels"),
        "raw.review_labels",
        "One row per valid human review label, with the batch (source file) it came in.",
        group="review",
    ),
    quarantine=raw_table_spec(
        dg.AssetKey("raw_quarantined_review_labels"),
        "raw.quarantined_review_labels",
        "Label lines that broke the label contract, with file, line, raw text and reason.",
        group="review",
    ),
    ledger=raw_table_spec(
        dg.AssetKey("raw_ingested_review_files"),
        "raw.ingested_review_files",
        "One row per ingested label file: sha256 and read/valid/quarantined/duplicate counts.",
        group="review",
    ),
    ledger_check="review_ledger_balances",
    quarantine_check="review_quarantine_share_is_low",
    ingested_check="every_review_drop_ingested",
    suffixes=REVIEW_DROP_SUFFIXES,
)


@dg.multi_asset(
    specs=REVIEW_LABEL_TABLES.specs, check_specs=REVIEW_LABEL_TABLES.check_specs, pool="duckdb"
)
def raw_review_labels(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """Ingest label drops (``.jsonl``) from ``landing/reviews/``, each file in one transaction."""
    settings = platform.settings()
    landing = settings.reviews_landing_dir
    paths = requested_paths(landing, config.files, REVIEW_DROP_SUFFIXES)

    def ingest(con: DuckDBPyConnection, path: Path, _: None) -> FileIngestResult:
        return ingest_review_file(
            con,
            path,
            max_drop_bytes=settings.max_drop_bytes,
            max_line_bytes=settings.max_line_bytes,
            scrub=settings.scrub,
        )

    yield from ingest_drops(
        context,
        duckdb,
        REVIEW_LABEL_TABLES,
        landing,
        paths,
        ingest,
    )
