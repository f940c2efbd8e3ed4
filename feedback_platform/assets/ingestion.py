"""Stage 1: event drops in the landing folder become the raw tables in DuckDB."""

from datetime import timedelta
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from duckdb import InvalidInputException, IOException

from feedback_platform.ingest.landing import drop_files
from feedback_platform.ingest.load import FileIngestResult, ingest_file
from feedback_platform.resources import PlatformResource
from feedback_platform.settings import Settings
from feedback_platform.warehouse import ensure_raw_schema

RAW_EVENTS = dg.AssetKey("raw_feedback_events")
RAW_QUARANTINE = dg.AssetKey("raw_quarantined_events")
RAW_LEDGER = dg.AssetKey("raw_ingested_files")

#: Share of a run's rows that may be quarantined before the check warns.
QUARANTINE_WARN_SHARE = 0.05


#: What reading a corrupt or truncated file raises (gzip, Parquet, a bad file name).
_UNREADABLE_FILE_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    IOException,
    InvalidInputException,
)

_TOTALS_SQL = """
select
    (select count(*) from raw.feedback_events),
    (select count(*) from raw.quarantined_events),
    (select count(*) from raw.ingested_files),
    (select count(*) from raw.ingested_files
     where rows_valid + rows_quarantined + rows_duplicate <> rows_read)
"""


class IngestConfig(dg.Config):
    files: list[str] = []
    """Drop file names in the landing folder; empty means every drop not ingested yet."""


def raw_events_freshness(settings: Settings) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=settings.freshness_fail_hours),
        warn_window=timedelta(hours=settings.freshness_warn_hours),
    )


def _raw_table_spec(key: dg.AssetKey, table: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        description=description,
        kinds={"duckdb"},
        group_name="ingestion",
        metadata={"table": table},
    )


@dg.multi_asset(
    specs=[
        _raw_table_spec(
            RAW_EVENTS,
            "raw.feedback_events",
            "One row per contract-valid event; user ids stored only as keyed hashes.",
        ),
        _raw_table_spec(
            RAW_QUARANTINE,
            "raw.quarantined_events",
            "Rows that broke the event contract, with file, line, raw text and reason.",
        ),
        _raw_table_spec(
            RAW_LEDGER,
            "raw.ingested_files",
            "One row per ingested file: sha256 and read/valid/quarantined/duplicate counts.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec("ledger_balances", asset=RAW_LEDGER, blocking=True),
        dg.AssetCheckSpec("quarantine_share_is_low", asset=RAW_QUARANTINE),
    ],
    pool="duckdb",
)
def raw_feedback_events(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """Ingest drops from ``landing/events/``, each file in one transaction (all or nothing)."""
    settings = platform.settings()
    paths = _requested_paths(settings, config)
    results: list[FileIngestResult] = []
    unreadable: dict[str, str] = {}
    with duckdb.get_connection() as con:
        ensure_raw_schema(con)
        for path in paths:
            try:
                result = ingest_file(con, path, user_salt=settings.user_salt)
            except _UNREADABLE_FILE_ERRORS as error:
                # A file that cannot be read at all (a truncated gzip, say) has no rows to
                # quarantine. It is rolled back and left out of the ledger, so the next run
                # retries it; the other drops still land.
                unreadable[path.name] = f"{type(error).__name__}: {error}"
                context.log.error(f"{path.name}: could not be read, nothing ingested: {error}")
                continue
            context.log.info(_describe(result))
            results.append(result)
        events, quarantined_total, files, unbalanced = con.execute(_TOTALS_SQL).fetchone()

    new = [result for result in results if not result.already_ingested]
    read = sum(result.rows_read for result in new)
    quarantined = sum(result.rows_quarantined for result in new)
    yield dg.MaterializeResult(
        asset_key=RAW_EVENTS,
        metadata={
            "files_ingested": len(new),
            "files_already_ingested": len(results) - len(new),
            "rows_valid": sum(result.rows_valid for result in new),
            "rows_duplicate": sum(result.rows_duplicate for result in new),
            "dagster/row_count": events,
            "files": dg.MetadataValue.md(_files_table(results)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=RAW_QUARANTINE,
        metadata={
            "rows_quarantined": quarantined,
            "reasons": dg.MetadataValue.json(_reason_totals(new)),
            "dagster/row_count": quarantined_total,
        },
    )
    yield dg.MaterializeResult(asset_key=RAW_LEDGER, metadata={"dagster/row_count": files})
    yield dg.AssetCheckResult(
        check_name="ledger_balances",
        asset_key=RAW_LEDGER,
        passed=unbalanced == 0,
        description="valid + quarantined + duplicate = read, for every ingested file",
        metadata={"files_out_of_balance": unbalanced},
    )
    share = quarantined / read if read else 0.0
    yield dg.AssetCheckResult(
        check_name="quarantine_share_is_low",
        asset_key=RAW_QUARANTINE,
        passed=share <= QUARANTINE_WARN_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{share:.2%} of the rows read in this run were quarantined "
        f"(warns above {QUARANTINE_WARN_SHARE:.0%})",
        metadata={"quarantined_share": share},
    )
    if unreadable:
        raise dg.Failure(
            description=f"{len(unreadable)} drop(s) could not be read and were not ingested: "
            + "; ".join(f"{name} ({reason})" for name, reason in unreadable.items()),
            metadata={"unreadable_files": dg.MetadataValue.json(unreadable)},
        )


def _requested_paths(settings: Settings, config: IngestConfig) -> list[Path]:
    landing = settings.events_landing_dir
    if not config.files:
        return drop_files(landing)
    missing = [name for name in config.files if not (landing / name).is_file()]
    if missing:
        raise dg.Failure(f"Not in {landing}: {', '.join(missing)}")
    return [landing / name for name in config.files]


def _describe(result: FileIngestResult) -> str:
    if result.already_ingested:
        return f"{result.file_name}: already ingested (sha256 {result.sha256[:12]}), skipped"
    return (
        f"{result.file_name}: read {result.rows_read}, valid {result.rows_valid}, "
        f"quarantined {result.rows_quarantined}, duplicate {result.rows_duplicate}"
    )


def _files_table(results: list[FileIngestResult]) -> str:
    lines = ["| file | read | valid | quarantined | duplicate |", "|---|---|---|---|---|"]
    for r in results:
        if r.already_ingested:
            lines.append(f"| {r.file_name} | already ingested | | | |")
        else:
            lines.append(
                f"| {r.file_name} | {r.rows_read} | {r.rows_valid} | "
                f"{r.rows_quarantined} | {r.rows_duplicate} |"
            )
    return "\n".join(lines)


def _reason_totals(results: list[FileIngestResult]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for result in results:
        for reason, count in result.reasons.items():
            totals[reason] = totals.get(reason, 0) + count
    return totals
