"""Content fingerprints of everything a platform home holds, to show that a change of code left
every result as it was.

    python benchmarks/fingerprint.py HOME > before.json
    ... change the code, run `feedback-platform demo` on a new home ...
    python benchmarks/fingerprint.py HOME2 --against before.json

Each warehouse table gets its row count, column types and a hash of its rows as text, in no
particular order (a table has none); each Parquet file a hash of its rows in file order; each
manifest its JSON; every other file under datasets/, review/ and reports/ its bytes. What a
second run writes differently by design is left out and named in ``VOLATILE_COLUMNS`` and
``VOLATILE_MANIFEST_KEYS``: ingestion times, the ledger's file identity, the version folders'
timestamps, the code version. Column types are compared apart from values, so a count that
became ``bigint`` instead of ``hugeint`` shows as a type change with equal values.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import duckdb

#: Columns whose values differ between two runs on the same drops by design.
VOLATILE_COLUMNS = {
    "ingested_at",
    "batch_ingested_at",
    "newest_input_ingested_at",
    "first_queued_at",
    "drop_key",
}
#: Manifest keys that differ between two publications of the same rows.
VOLATILE_MANIFEST_KEYS = {"created_at", "code_version"}
#: A dataset version is named v<number>-<UTC time>; the time differs between runs.
_VERSION_TIME = re.compile(r"-\d{8}T\d{6}Z")
_FILE_FOLDERS = ("datasets", "review", "reports")
_SCHEMAS_LEFT_OUT = ("information_schema", "pg_catalog")


def _without_time(text: str) -> str:
    return _VERSION_TIME.sub("", text)


def _row_text(columns: list[str]) -> str:
    parts = [
        f"coalesce(cast({_quoted(name)} as varchar), chr(0))"
        if name != "dataset_version"
        else f"regexp_replace(coalesce({_quoted(name)}, ''), '-\\d{{8}}T\\d{{6}}Z', '')"
        for name in columns
    ]
    return f"concat_ws(chr(31), {', '.join(parts)})" if parts else "''"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    tables = con.sql(
        "select table_schema, table_name from information_schema.tables"
        f" where table_schema not in {_SCHEMAS_LEFT_OUT} order by 1, 2"
    ).fetchall()
    return {f"{schema}.{name}": _table(con, f"{schema}.{name}") for schema, name in tables}


def _table(con: duckdb.DuckDBPyConnection, table: str) -> dict:
    described = con.sql(f"describe {table}").fetchall()
    columns = [name for name, *_ in described if name not in VOLATILE_COLUMNS]
    rows, digest = con.execute(
        f"select count(*), md5(coalesce(string_agg(r, chr(10) order by r), ''))"
        f" from (select {_row_text(columns)} as r from {table})"
    ).fetchall()[0]
    return {"rows": rows, "types": {name: kind for name, kind, *_ in described}, "hash": digest}


def _parquet(con: duckdb.DuckDBPyConnection, path: Path) -> dict:
    columns = [name for name, *_ in con.sql(f"describe select * from '{path}'").fetchall()]
    rows, digest = con.execute(
        f"select count(*), md5(coalesce(string_agg(r, chr(10) order by n), ''))"
        f" from (select file_row_number as n, {_row_text(columns)} as r"
        f" from read_parquet('{path}', file_row_number = true))"
    ).fetchall()[0]
    return {"rows": rows, "hash": digest}


def _manifest(path: Path) -> str:
    manifest = json.loads(path.read_text(encoding="utf-8"))
    kept = {key: value for key, value in manifest.items() if key not in VOLATILE_MANIFEST_KEYS}
    return _without_time(json.dumps(kept, sort_keys=True))


def file_fingerprints(home: Path, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    found: dict[str, object] = {}
    for folder in _FILE_FOLDERS:
        for path in sorted((home / folder).rglob("*")):
            if not path.is_file():
                continue
            name = _without_time(str(path.relative_to(home)))
            if path.suffix == ".parquet":
                found[name] = _parquet(con, path)
            elif path.name == "manifest.json":
                found[name] = hashlib.sha256(_manifest(path).encode()).hexdigest()
            elif path.name != "LATEST":
                found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def fingerprints(home: Path) -> dict:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return {"tables": table_fingerprints(con), "files": file_fingerprints(home, con)}
    finally:
        con.close()


def differences(before: dict, after: dict) -> list[str]:
    lines = []
    for kind in ("tables", "files"):
        for name in sorted(before[kind].keys() | after[kind].keys()):
            old, new = before[kind].get(name), after[kind].get(name)
            if old is None or new is None:
                lines.append(f"{kind[:-1]} {name}: {'added' if old is None else 'removed'}")
            elif kind == "tables" and old["types"] != new["types"]:
                changed = {
                    column: f"{old['types'].get(column)} -> {new['types'].get(column)}"
                    for column in old["types"].keys() | new["types"].keys()
                    if old["types"].get(column) != new["types"].get(column)
                }
                lines.append(f"table {name}: types {changed}")
            if old is not None and new is not None and _content(old) != _content(new):
                lines.append(
                    f"{kind[:-1]} {name}: content differs ({_content(old)} -> {_content(new)})"
                )
    return lines


def _content(fingerprint: object) -> object:
    return (
        {"rows": fingerprint["rows"], "hash": fingerprint["hash"]}
        if isinstance(fingerprint, dict)
        else fingerprint
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("--against", type=Path, help="fingerprints printed earlier: compare")
    args = parser.parse_args()
    found = fingerprints(args.home)
    if args.against is None:
        json.dump(found, sys.stdout, indent=1, sort_keys=True)
        return 0
    lines = differences(json.loads(args.against.read_text(encoding="utf-8")), found)
    tables, files = len(found["tables"]), len(found["files"])
    print("\n".join(lines) or f"identical: {tables} tables and {files} files")
    return (
        1
        if any("content differs" in line or "added" in line or "removed" in line for line in lines)
        else 0
    )


if __name__ == "__main__":
    sys.exit(main())
