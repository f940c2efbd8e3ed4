"""Privacy requests: drops in ``landing/privacy/`` become ``raw.privacy_requests``.

They land as event drops do (``ingest_drops``): one file one transaction, the ledger, a
quarantine with reasons, the drop sensor. The raw user id of a request is hashed in the
statement that reads it (privacy/requests.py); its raw text in quarantine is redacted as an
event's is.
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
from feedback_platform.privacy.requests import PRIVACY_DROP_SUFFIXES, ingest_privacy_file
from feedback_platform.resources import PlatformResource
from feedback_platform.schema import PRIVACY_LEDGER, PRIVACY_REQUESTS_TABLE

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
