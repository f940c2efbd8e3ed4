"""Immutable dataset versions: ``<root>/<version>/`` with one Parquet file per split, a
``manifest.json``, and ``<root>/LATEST`` naming the newest.

A version is written under a hidden temporary name and renamed into place, so a reader never
sees half a version and a crash leaves only a hidden folder behind, which the next publication
removes. A version whose content
fingerprint equals the latest one's is not written again: re-running on unchanged input keeps
``LATEST``. Version names (``v000001-20261129T213000Z``) sort in creation order.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path

import duckdb

from feedback_platform.ingest.load import file_sha256

LATEST = "LATEST"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PublishedVersion:
    version: str
    path: Path
    is_new: bool
    manifest: dict


def latest_version(root: Path) -> PublishedVersion | None:
    pointer = root / LATEST
    if not pointer.exists():
        return None
    return published_version(root, pointer.read_text(encoding="utf-8").strip())


def published_version(root: Path, name: str) -> PublishedVersion:
    """The version folder ``root/name`` with its manifest (a trainer asks for one by name)."""
    path = root / name
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    return PublishedVersion(version=name, path=path, is_new=False, manifest=manifest)


def content_fingerprint(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> str:
    """Row count and the XOR of every row's hash: independent of row order, computed in DuckDB
    without collecting the rows. DuckDB's hash may change between DuckDB releases, so the
    release is part of the fingerprint (an upgrade makes one new version, never a false match)."""
    count, digest = con.execute(
        f"select count(*), coalesce(bit_xor(hash({', '.join(columns)})), 0) from {table}"
    ).fetchone()
    return f"{count}:{digest:016x}:duckdb-{duckdb.__version__}"


def publish(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    *,
    table: str,
    columns: list[str],
    splits: tuple[str, ...],
    order_by: str,
    manifest: dict,
) -> PublishedVersion:
    """Write ``columns`` of ``table`` as a new version unless the latest has the same content.

    Each of ``splits`` is one file, ``<split>.parquet``, of the rows whose ``split`` column
    holds that name (a split may be empty); ``manifest`` is merged into the manifest.
    """
    remove_leftovers(root)
    fingerprint = content_fingerprint(con, table, [*columns, "split"])
    latest = latest_version(root)
    if latest is not None and latest.manifest.get("content_fingerprint") == fingerprint:
        return latest

    root.mkdir(parents=True, exist_ok=True)
    created_at = datetime.now(UTC)
    name = f"v{_next_sequence(root):06d}-{created_at:%Y%m%dT%H%M%SZ}"
    staging = root / f".{name}.{uuid.uuid4().hex}.tmp"
    staging.mkdir()
    try:
        files = _write_splits(con, staging, table, columns, splits, order_by)
        full_manifest = {
            "version": name,
            "parent_version": latest.version if latest else None,
            "created_at": created_at.isoformat(),
            **manifest,
            "files": files,
            "content_fingerprint": fingerprint,
            "code_version": code_version(),
        }
        (staging / MANIFEST).write_text(json.dumps(full_manifest, indent=2) + "\n")
        staging.rename(root / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _write_atomically(root / LATEST, name + "\n")
    return PublishedVersion(version=name, path=root / name, is_new=True, manifest=full_manifest)


def _write_splits(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    table: str,
    columns: list[str],
    splits: tuple[str, ...],
    order_by: str,
) -> dict[str, dict]:
    """``<split>.parquet`` in ``folder`` for each of ``splits``; each file's rows and sha256."""
    files = {}
    for split in splits:
        path = folder / f"{split}.parquet"
        condition = f"split = '{split}'"
        con.execute(
            f"copy (select {', '.join(columns)} from {table} where {condition}"
            f" order by {order_by}) to '{path}' (format parquet, compression zstd)"
        )
        [(rows,)] = con.execute(f"select count(*) from {table} where {condition}").fetchall()
        files[path.name] = {"rows": rows, "sha256": file_sha256(path)}
    return files


def remove_leftovers(root: Path) -> list[str]:
    """Remove what a publication killed mid-way left: hidden temporary version folders and
    ``LATEST`` files (nothing reads them; publications never overlap, as each holds the
    warehouse's pool slot). Returns their names."""
    if not root.exists():
        return []
    leftovers = [p for p in root.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return sorted(path.name for path in leftovers)


def _next_sequence(root: Path) -> int:
    sequences = [
        int(path.name[1:7])
        for path in root.iterdir()
        if path.is_dir() and path.name.startswith("v") and path.name[1:7].isdigit()
    ]
    return max(sequences, default=0) + 1


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout."""
    version = package_version("feedback-platform")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+{commit}" if commit else version


def version_folders(root: Path) -> list[Path]:
    """Every published version under ``root``, oldest first (hidden temporary folders are not
    versions)."""
    if not root.exists():
        return []
    return sorted(
        path
        for path in root.iterdir()
        if path.is_dir() and path.name.startswith("v") and path.name[1:7].isdigit()
    )


def redact_version(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    removed_where: str,
    order_by: str,
    counted_by: str,
    request_id: str,
) -> None:
    """Rewrite the version ``path`` without its rows matching ``removed_where`` (SQL over the
    published columns), the one exception to versions being immutable: an erasure. Each file
    is written beside itself and renamed over it; the manifest then gets each file's new rows
    and sha256, new row counts, a new content fingerprint and ``request_id`` in
    ``redacted_by`` (a request id, never whom it erased). Nothing is done when the version held
    none of those rows and its manifest matches its files; a rerun after a crash between a
    file and its manifest finds the mismatch and finishes the manifest."""
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    files = {name: path / name for name in manifest["files"]}
    held = {name: _count(con, file, removed_where) for name, file in files.items()}
    stale = any(
        file_sha256(file) != manifest["files"][name]["sha256"] for name, file in files.items()
    )
    if not any(held.values()) and not stale:
        return
    for name, file in files.items():
        if held[name]:
            _rewrite_without(con, file, removed_where, order_by)
    _write_atomically(
        path / MANIFEST,
        json.dumps(_redacted_manifest(con, manifest, files, counted_by, request_id), indent=2)
        + "\n",
    )


def _count(con: duckdb.DuckDBPyConnection, file: Path, where: str) -> int:
    [(rows,)] = con.execute(
        f"select count(*) from read_parquet(?) where {where}", [str(file)]
    ).fetchall()
    return rows


def _rewrite_without(con: duckdb.DuckDBPyConnection, file: Path, where: str, order_by: str) -> None:
    """``file`` without the rows matching ``where``, in the order it was published, through a
    temporary file renamed over it (a reader sees the old file or the new one)."""
    temporary = file.with_name(f".{file.name}.{uuid.uuid4().hex}.tmp")
    try:
        con.execute(
            f"copy (select * from read_parquet(?) where not ({where}) order by {order_by})"
            f" to '{temporary}' (format parquet, compression zstd)",
            [str(file)],
        )
        os.replace(temporary, file)
    finally:
        temporary.unlink(missing_ok=True)


def _redacted_manifest(
    con: duckdb.DuckDBPyConnection,
    manifest: dict,
    files: dict[str, Path],
    counted_by: str,
    request_id: str,
) -> dict:
    """``manifest`` describing the rewritten ``files``: rows, sha256, counts and fingerprint
    recomputed from them, ``request_id`` added to ``redacted_by``."""
    con.execute(
        "create or replace temp table redacted_rows as select *, regexp_extract(filename,"
        " '([^/]+)\\.parquet$', 1) as split from read_parquet(?, filename = true)",
        [[str(file) for file in files.values()]],
    )
    columns = [
        name
        for (name,) in con.execute(
            "select column_name from (describe redacted_rows) where column_name <> 'filename'"
        ).fetchall()
    ]
    counts = {
        f"by_{column}": dict(
            con.execute(
                f"select {column}::varchar, count(*) from redacted_rows group by all order by 1"
            ).fetchall()
        )
        for column in (counted_by, "split", "user_segment")
    }
    redacted = {
        **manifest,
        "files": {
            name: {"rows": _count(con, file, "true"), "sha256": file_sha256(file)}
            for name, file in files.items()
        },
        "row_counts": {"total": sum(counts["by_split"].values()), **counts},
        "content_fingerprint": content_fingerprint(con, "redacted_rows", columns),
        "redacted_by": sorted({*manifest.get("redacted_by", []), request_id}),
    }
    con.execute("drop table redacted_rows")
    return redacted
