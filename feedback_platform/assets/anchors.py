"""Curated anchor examples: drops in ``landing/anchors/`` become ``raw.anchor_examples``.

They land as the other small drops do (``ingest_drops``): one file one transaction, the ledger,
a quarantine with reasons, the drop sensor; their texts are scrubbed (review/anchors.py). The
anchor set (dbt, ``publication.anchor_set_rows``; the ``anchor_set`` dataset) holds them beside
the human decisions the events and reviews give.
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
from feedback_platform.review.anchors import ANCHOR_DROP_SUFFIXES, ingest_anchor_file
from feedback_platform.schema import ANCHOR_EXAMPLES_TABLE, ANCHOR_LEDGER

ANCHOR_TABLES = DropTables(
    rows=raw_table_spec(
        dg.AssetKey("raw_anchor_examples"),
        ANCHOR_EXAMPLES_TABLE,
        "One row per curated anchor example (prompt, chosen, rejected, source, labeled_by),"
        " texts scrubbed: held out of every training split as part of the anchor set.",
        group="training",
    ),
    quarantine=raw_table_spec(
        dg.AssetKey("raw_quarantined_anchor_examples"),
        "raw.quarantined_anchor_examples",
        "Anchor lines that broke the anchor contract, with file, line, scrubbed raw text and"
        " reason.",
        group="training",
    ),
    ledger=raw_table_spec(
        dg.AssetKey("raw_ingested_anchor_files"),
        ANCHOR_LEDGER,
        "One row per ingested anchor file: sha256 and read/valid/quarantined/duplicate counts.",
        group="training",
    ),
    ledger_check="anchor_ledger_balances",
    quarantine_check="anchor_quarantine_share_is_low",
    ingested_check="every_anchor_drop_ingested",
    suffixes=ANCHOR_DROP_SUFFIXES,
)


@dg.multi_asset(specs=ANCHOR_TABLES.specs, check_specs=ANCHOR_TABLES.check_specs, pool="duckdb")
def raw_anchor_examples(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """Ingest curated anchor drops (``.jsonl``) from ``landing/anchors/``, each file in one
    transaction."""
    settings = platform.settings()
    landing = settings.anchors_landing_dir
    paths = requested_paths(landing, config.files, ANCHOR_DROP_SUFFIXES)

    def ingest(con: DuckDBPyConnection, path: Path, _: None) -> FileIngestResult:
        return ingest_anchor_file(
            con,
            path,
            max_drop_bytes=settings.max_drop_bytes,
            max_line_bytes=settings.max_line_bytes,
            scrub=settings.scrub,
        )

    yield from ingest_drops(context, duckdb, ANCHOR_TABLES, landing, paths, ingest)
