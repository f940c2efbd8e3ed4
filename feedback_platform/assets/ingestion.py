"""Stage 1: event drops in the landing folder become the raw tables in DuckDB.

Every kind of drop lands the same way (``ingest_drops``): three raw tables as one multi-asset,
each file in its own transaction, a blocking ledger check and a quarantine warning. Review label
drops reuse it in ``review_labels.py``.
"""

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import dagster as dg
from dagster_duckdb import DuckDBResource
from duckdb import DuckDBPyConnection

from feedback_platform.ingest.landing import drop_files
from feedback_platform.ingest.ledger_mirror import (
    LedgerMirror,
    mirror_key,
    read_mirror,
    write_mirror,
)
from feedback_platform.ingest.load import (
    DropContent,
    FileIngestResult,
    ingest_file,
    known_ingested,
    read_drop,
)
from feedback_platform.ingest.readers import SUPPORTED_SUFFIXES
from feedback_platform.resources import PlatformResource
from feedback_platform.settings import Settings

RAW_EVENTS = dg.AssetKey("raw_feedback_events")
RAW_QUARANTINE = dg.AssetKey("raw_quarantined_events")
RAW_LEDGER = dg.AssetKey("raw_ingested_files")

#: Share of a run's rows that may be quarantined before the check warns.
QUARANTINE_WARN_SHARE = 0.05


class IngestConfig(dg.Config):
    files: list[str] = []
    """Drop file names in the landing folder; empty means every drop not ingested yet."""


def raw_events_freshness(settings: Settings) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=settings.freshness_fail_hours),
        warn_window=timedelta(hours=settings.freshness_warn_hours),
    )


def raw_table_spec(
    key: dg.AssetKey, table: str, description: str, group: str = "ingestion"
) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        description=description,
        kinds={"duckdb"},
        group_name=group,
        metadata={"table": table},
    )


@dataclass(frozen=True)
class DropTables:
    """The raw tables one kind of drop lands in, as the assets of one multi-asset: valid rows,
    quarantine and the ledger, with a blocking check that the ledger balances and a warning
    when much of a run was quarantined."""

    rows: dg.AssetSpec
    quarantine: dg.AssetSpec
    ledger: dg.AssetSpec
    ledger_check: str
    quarantine_check: str
    ingested_check: str
    suffixes: tuple[str, ...]

    @property
    def specs(self) -> list[dg.AssetSpec]:
        return [self.rows, self.quarantine, self.ledger]

    @property
    def keys(self) -> list[dg.AssetKey]:
        return [spec.key for spec in self.specs]

    @property
    def check_specs(self) -> list[dg.AssetCheckSpec]:
        return [
            dg.AssetCheckSpec(
                self.ledger_check,
                asset=self.ledger.key,
                blocking=True,
                description="For every ingested file, valid + quarantined + duplicate rows ="
                " rows read: nothing was lost or counted twice (blocks everything downstream).",
            ),
            dg.AssetCheckSpec(
                self.quarantine_check,
                asset=self.quarantine.key,
                description=f"At most {QUARANTINE_WARN_SHARE:.0%} of the rows this run read"
                " were quarantined; more usually means a producer broke the contract.",
            ),
            dg.AssetCheckSpec(
                self.ingested_check,
                asset=self.ledger.key,
                description="Every drop of this run was ingested; a drop that could not be"
                " (unreadable, too large, an error) is named here and retried by the next run.",
            ),
        ]

    def totals_sql(self) -> str:
        rows, quarantine, ledger = (spec.metadata["table"] for spec in self.specs)
        return f"""
        select
            (select count(*) from {rows}),
            (select count(*) from {quarantine}),
            (select count(*) from {ledger}),
            (select count(*) from {ledger}
             where rows_valid + rows_quarantined + rows_duplicate <> rows_read)
        """


EVENT_TABLES = DropTables(
    rows=raw_table_spec(
        RAW_EVENTS,
        "raw.feedback_events",
        "One row per contract-valid event; user ids stored only as keyed hashes.",
    ),
    quarantine=raw_table_spec(
        RAW_QUARANTINE,
        "raw.quarantined_events",
        "Rows that broke the event contract, with file, line, raw text and reason.",
    ),
    ledger=raw_table_spec(
        RAW_LEDGER,
        "raw.ingested_files",
        "One row per ingested file: sha256 and read/valid/quarantined/duplicate counts.",
    ),
    ledger_check="ledger_balances",
    quarantine_check="quarantine_share_is_low",
    ingested_check="every_drop_ingested",
    suffixes=SUPPORTED_SUFFIXES,
)


@dg.multi_asset(specs=EVENT_TABLES.specs, check_specs=EVENT_TABLES.check_specs, pool="duckdb")
def raw_feedback_events(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """Ingest drops from ``landing/events/``, each file in one transaction (all or nothing)."""
    settings = platform.settings()
    paths = requested_paths(settings.events_landing_dir, config.files)

    def read(path: Path) -> DropContent:
        return read_drop(
            path,
            user_salt=settings.user_salt,
            max_drop_bytes=settings.max_drop_bytes,
            max_line_bytes=settings.max_line_bytes,
        )

    def ingest(
        con: DuckDBPyConnection, path: Path, content: DropContent | None
    ) -> FileIngestResult:
        return ingest_file(
            con,
            path,
            user_salt=settings.user_salt,
            content=content,
            max_drop_bytes=settings.max_drop_bytes,
            max_line_bytes=settings.max_line_bytes,
            max_text_chars=settings.max_text_chars,
            scrub=settings.scrub,
        )

    yield from ingest_drops(
        context, duckdb, EVENT_TABLES, settings.events_landing_dir, paths, ingest, read_ahead=read
    )


class ReadAhead:
    """Drops read one ahead on a thread of their own, in the order they are taken: while the
    warehouse ingests one drop, the next is hashed and split into rows. At most two drops are
    in memory."""

    def __init__(self, read: Callable[[Path], Any], paths: list[Path]) -> None:
        self._read = read
        self._pending = deque(paths)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._next = self._submit()

    def _submit(self) -> tuple[Path, Future] | None:
        if not self._pending:
            return None
        path = self._pending.popleft()
        return path, self._pool.submit(self._read, path)

    def take(self, path: Path) -> Any | None:
        """What reading ``path`` gave (or raised), or None if ``path`` is not the next one."""
        if self._next is None or self._next[0] != path:
            return None
        future = self._next[1]
        self._next = self._submit()
        return future.result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def ingest_drops(
    context: dg.AssetExecutionContext,
    warehouse: DuckDBResource,
    tables: DropTables,
    landing: Path,
    paths: list[Path],
    ingest: Callable[[DuckDBPyConnection, Path, Any | None], FileIngestResult],
    read_ahead: Callable[[Path], Any] | None = None,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Ingest ``paths`` (drops in ``landing``) one file at a time with ``ingest(con, path,
    read)``, mirror the ledger for the sensors, then report on ``tables``: what the run added,
    the reasons rows were quarantined, and the checks.

    With ``read_ahead``, each drop not known to be ingested already is read by it on another
    thread while the one before is ingested, and ``ingest`` gets what it returned (else None).
    """
    ledger = tables.ledger.metadata["table"]
    with warehouse.get_connection() as con:
        results, failed = _ingest_each(context, con, paths, ingest, read_ahead, ledger)
        _mirror_ledger(con, landing, tables, failed)
        totals = TableTotals(*con.execute(tables.totals_sql()).fetchone())
    new = [result for result in results if not result.already_ingested]
    yield from _materializations(tables, results, new, failed, totals)
    yield from _checks(tables, new, failed, totals)


class TableTotals(NamedTuple):
    """The raw tables after a run (``DropTables.totals_sql``)."""

    rows: int
    quarantined: int
    files: int
    unbalanced: int


def _materializations(
    tables: DropTables,
    results: list[FileIngestResult],
    new: list[FileIngestResult],
    failed: dict[str, str],
    totals: TableTotals,
) -> Iterator[dg.MaterializeResult]:
    """What the run added to each of the three tables (``new``: the drops not already
    ingested), with the table's row count."""
    yield dg.MaterializeResult(
        asset_key=tables.rows.key,
        metadata={
            "files_ingested": len(new),
            "files_already_ingested": len(results) - len(new),
            "files_failed": len(failed),
            "rows_valid": sum(result.rows_valid for result in new),
            "rows_duplicate": sum(result.rows_duplicate for result in new),
            # counts only: the replaced text is never kept, not even here
            "scrubbed": dg.MetadataValue.json(_scrubbed_totals(new)),
            "dagster/row_count": totals.rows,
            "files": dg.MetadataValue.md(_files_table(results)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=tables.quarantine.key,
        metadata={
            "rows_quarantined": sum(result.rows_quarantined for result in new),
            "reasons": dg.MetadataValue.json(_reason_totals(new)),
            "dagster/row_count": totals.quarantined,
        },
    )
    yield dg.MaterializeResult(
        asset_key=tables.ledger.key, metadata={"dagster/row_count": totals.files}
    )


def _checks(
    tables: DropTables,
    new: list[FileIngestResult],
    failed: dict[str, str],
    totals: TableTotals,
) -> Iterator[dg.AssetCheckResult]:
    """The ledger balances (blocking), little of the run was quarantined, every drop of the
    run was ingested (warnings)."""
    yield dg.AssetCheckResult(
        check_name=tables.ledger_check,
        asset_key=tables.ledger.key,
        passed=totals.unbalanced == 0,
        description="valid + quarantined + duplicate = read, for every ingested file",
        metadata={"files_out_of_balance": totals.unbalanced},
    )
    read = sum(result.rows_read for result in new)
    quarantined = sum(result.rows_quarantined for result in new)
    share = quarantined / read if read else 0.0
    yield dg.AssetCheckResult(
        check_name=tables.quarantine_check,
        asset_key=tables.quarantine.key,
        passed=share <= QUARANTINE_WARN_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{share:.2%} of the rows read in this run were quarantined "
        f"(warns above {QUARANTINE_WARN_SHARE:.0%})",
        metadata={"quarantined_share": share},
    )
    yield dg.AssetCheckResult(
        check_name=tables.ingested_check,
        asset_key=tables.ledger.key,
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(failed)} drop(s) could not be ingested, nothing of them was kept and"
            " the next run retries them: "
            + "; ".join(f"{name} ({reason})" for name, reason in failed.items())
            if failed
            else "every drop of this run was ingested"
        ),
        metadata={"failed_files": dg.MetadataValue.json(failed)},
    )


def _ingest_each(
    context: dg.AssetExecutionContext,
    con: DuckDBPyConnection,
    paths: list[Path],
    ingest: Callable[[DuckDBPyConnection, Path, Any | None], FileIngestResult],
    read_ahead: Callable[[Path], Any] | None,
    ledger: str,
) -> tuple[list[FileIngestResult], dict[str, str]]:
    """Each drop in its own transaction. A file that cannot be ingested at all (a truncated
    gzip, a file over the size limit, an error nobody foresaw) has no rows to quarantine: it is
    rolled back and left out of the ledger, so the next run retries it, and the other drops
    still land. Returns the results and, by file name, why a drop failed."""
    results: list[FileIngestResult] = []
    failed: dict[str, str] = {}
    ahead = None
    if read_ahead is not None:
        ahead = ReadAhead(read_ahead, [p for p in paths if not known_ingested(con, p, ledger)])
    try:
        for path in paths:
            try:
                result = ingest(con, path, ahead.take(path) if ahead else None)
            except Exception as error:  # this drop only: the others still land
                failed[path.name] = f"{type(error).__name__}: {error}"
                context.log.exception(f"{path.name}: could not be ingested, nothing of it kept")
                continue
            context.log.info(_describe(result))
            results.append(result)
    finally:
        if ahead is not None:
            ahead.close()
    return results, failed


def _mirror_ledger(
    con: DuckDBPyConnection, landing: Path, tables: DropTables, failed: dict[str, str]
) -> None:
    """Tell the sensors, without their opening the warehouse, which drops still in ``landing``
    the ledger holds and which failed (ledger_mirror.py): they start no run for
    those. A drop ingested by any run, the CLI's included, is mirrored here."""
    ledger = tables.ledger.metadata["table"]
    keys = {mirror_key(path): path for path in drop_files(landing, tables.suffixes)}
    ingested = frozenset(key for key, path in keys.items() if known_ingested(con, path, ledger))
    # a drop that failed in this run, and one that failed before and this run left alone
    still_failed = {
        **{key: reason for key, reason in read_mirror(landing).failed.items() if key in keys},
        **{key: failed[path.name] for key, path in keys.items() if path.name in failed},
    }
    write_mirror(
        landing,
        LedgerMirror(
            ingested=ingested,
            failed={k: r for k, r in still_failed.items() if k not in ingested},
        ),
    )


def requested_paths(
    landing: Path, names: list[str], suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES
) -> list[Path]:
    """The named files in ``landing``, or with no names every drop there (files ending in one
    of ``suffixes``); the ledger then skips those already ingested."""
    if not names:
        return drop_files(landing, suffixes)
    missing = [name for name in names if not (landing / name).is_file()]
    if missing:
        raise dg.Failure(f"Not in {landing}: {', '.join(missing)}")
    return [landing / name for name in names]


def _describe(result: FileIngestResult) -> str:
    if result.already_ingested:
        return f"{result.file_name}: already ingested (sha256 {result.sha256[:12]}), skipped"
    return (
        f"{result.file_name}: read {result.rows_read}, valid {result.rows_valid}, "
        f"quarantined {result.rows_quarantined}, duplicate {result.rows_duplicate}"
    )


def _files_table(results: list[FileIngestResult]) -> str:
    lines = [
        "| file | read | valid | quarantined | duplicate | scrubbed |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.already_ingested:
            lines.append(f"| {r.file_name} | already ingested | | | | |")
        else:
            scrubbed = sum(sum(by_kind.values()) for by_kind in r.scrubbed.values())
            lines.append(
                f"| {r.file_name} | {r.rows_read} | {r.rows_valid} | "
                f"{r.rows_quarantined} | {r.rows_duplicate} | {scrubbed} |"
            )
    return "\n".join(lines)


def _scrubbed_totals(results: list[FileIngestResult]) -> dict[str, dict[str, int]]:
    """Replacements per field and kind over ``results``."""
    totals: dict[str, dict[str, int]] = {}
    for result in results:
        for field, by_kind in result.scrubbed.items():
            field_totals = totals.setdefault(field, {})
            for kind, count in by_kind.items():
                field_totals[kind] = field_totals.get(kind, 0) + count
    return totals


def _reason_totals(results: list[FileIngestResult]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for result in results:
        for reason, count in result.reasons.items():
            totals[reason] = totals.get(reason, 0) + count
    return totals
