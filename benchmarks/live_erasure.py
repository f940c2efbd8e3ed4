"""An erase request as a new user would try it: dropped while the UI runs, carried out by the
run the privacy sensor starts, and the user gone from every file.

    python benchmarks/live_erasure.py [--home DIR] [--port N]

1. Fills the platform home with the demo if it has no drops yet, then lands one more user's
   drop, whose texts carry a marker no one else typed (an edit: a preference pair, a thumbs up:
   a KTO row), and runs the pipeline so a published dataset version holds their rows.
2. Starts the UI (``feedback-platform ui``) and renames an erase request for that user into
   ``landing/privacy/``.
3. Waits for the run that ingests it, then stops the UI.
4. Looks for the marker in the bytes of every file under the home (warehouse, Parquet files,
   manifests, landing folders, Dagster's event log and compute logs) and for the user's key in
   every column of every table, prints ``feedback-platform privacy status`` and the dataset
   manifests that record the redaction. The last line is one JSON object.

Exits non-zero when the user is found anywhere or the run did not succeed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import live  # noqa: E402

MARKER = "QUASAR-MARMOT-4711"
USER_ID = "live-erasure-user"
REQUEST_ID = "live-erase-1"
PRIVACY_JOB = "ingest_privacy_requests"


def user_events() -> list[dict]:
    common = {"user_id": USER_ID, "user_segment": "pro/en", "session_id": "erasure-tab",
              "app": "web", "locale": "en-US", "schema_version": "1"}  # fmt: skip
    generation = {"generation_id": "erasure-gen-1", "model_version": "assistant-2026-10"}
    return [
        {**common, **generation, "event_id": "erasure-e1", "event_type": "generation",
         "occurred_at": "2026-10-09T10:00:00Z", "prompt": f"Where does {MARKER} live?",
         "output": "In a burrow under the old oak by the river."},
        {**common, **generation, "event_id": "erasure-e2", "event_type": "edit",
         "occurred_at": "2026-10-09T10:01:00Z",
         "edited_text": f"{MARKER} lives in a burrow under the old oak, north of the river."},
        {**common, "event_id": "erasure-e3", "event_type": "generation",
         "generation_id": "erasure-gen-2", "model_version": "assistant-2026-10",
         "occurred_at": "2026-10-09T10:05:00Z", "prompt": f"A haiku for {MARKER}, please",
         "output": "Quiet burrow light / a marmot counts the stars / the river answers"},
        {**common, "event_id": "erasure-e4", "event_type": "thumbs_up",
         "generation_id": "erasure-gen-2", "occurred_at": "2026-10-09T10:06:00Z"},
    ]  # fmt: skip


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*live.cli(), *args], env=live.platform_env(home), capture_output=True, text=True
    )


def files_holding(home: Path, needle: bytes) -> list[str]:
    return [
        str(path.relative_to(home))
        for path in sorted(home.rglob("*"))
        if path.is_file() and path.name != "live-erasure.log" and needle in path.read_bytes()
    ]


def tables_holding(warehouse: Path, user_key: str) -> list[str]:
    """Tables with a row whose text (any column, as text) holds the key or the marker."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        return [
            f"{schema}.{table}"
            for schema, table in tables
            if con.execute(
                f'select count(*) from "{schema}"."{table}" as t'
                " where contains(t::varchar, $key) or contains(t::varchar, $marker)",
                {"key": user_key, "marker": MARKER},
            ).fetchall()[0][0]
        ]


def parquet_holding(home: Path, marker: str, user_key: str) -> list[str]:
    """Parquet files with a row whose text holds the marker or the key (their bytes are
    compressed, so a byte search would not see them)."""
    found = []
    for path in sorted(home.rglob("*.parquet")):
        [(rows,)] = duckdb.execute(
            "select count(*) from read_parquet($path) as t"
            " where contains(t::varchar, $marker) or contains(t::varchar, $key)",
            {"path": str(path), "marker": marker, "key": user_key},
        ).fetchall()
        if rows:
            found.append(str(path.relative_to(home)))
    return found


def redacted_manifests(home: Path) -> list[str]:
    return [
        str(path.relative_to(home))
        for path in sorted((home / "datasets").glob("*/*/manifest.json"))
        if REQUEST_ID in json.loads(path.read_text()).get("redacted_by", [])
    ]


def wait_for_privacy_run(ui: live.Ui, after: float, timeout: float = 600.0) -> dict | None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = [run for run in live.runs_since(ui, after) if run["jobName"] == PRIVACY_JOB]
        if runs and all(run["status"] not in live.UNFINISHED for run in runs):
            return runs[-1]
        time.sleep(1)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="platform home (default: a fresh temp dir)")
    parser.add_argument("--port", type=int, help="the UI's port (default: a free one)")
    args = parser.parse_args()
    from feedback_platform.ingest.pseudonymize import user_key
    from feedback_platform.settings import Settings

    home = Path(args.home or tempfile.mkdtemp(prefix="feedback-platform-erasure-")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(live.platform_env(home))
    log = home / "live-erasure.log"
    print(f"Platform home {home}; logs in {log}", flush=True)
    live.fill_with_demo(home, log)
    settings.ensure_dirs()
    drop = settings.events_landing_dir / "erasure-user.jsonl"
    drop.write_text("".join(json.dumps(event) + "\n" for event in user_events()))
    for command in (("run",), ("publish",)):
        completed = run_cli(home, *command)
        if completed.returncode != 0:
            print(completed.stdout[-3000:], completed.stderr[-3000:])
            return 1
    key = user_key(USER_ID, settings.user_salt)
    before = {"files": files_holding(home, MARKER.encode()),
              "tables": tables_holding(settings.warehouse_path, key),
              "parquet": parquet_holding(home, MARKER, key)}  # fmt: skip
    print(f"Before: the marker in {len(before['files'])} files' bytes, the user in"
          f" {len(before['tables'])} tables and {len(before['parquet'])} Parquet files",
          flush=True)  # fmt: skip

    ui = live.start_ui(home, args.port or live.free_port(), log)
    try:
        live.wait_until_loaded(ui)
        request = {"request_id": REQUEST_ID, "user_id": USER_ID, "kind": "erase",
                   "requested_at": "2026-10-20T09:00:00Z"}  # fmt: skip
        hidden = settings.privacy_landing_dir / ".erase-request.jsonl"
        hidden.write_text(json.dumps(request) + "\n")
        dropped = time.time()
        hidden.rename(settings.privacy_landing_dir / "erase-request.jsonl")
        run = wait_for_privacy_run(ui, dropped - 1)
        seconds = run["endTime"] - dropped if run and run["endTime"] else None
        live.stop_ui(ui)
    except BaseException:
        live.kill_ui(ui)
        raise

    after = {"files": files_holding(home, MARKER.encode()),
             "tables": tables_holding(settings.warehouse_path, key),
             "key_files": files_holding(home, key.encode()),
             "parquet": parquet_holding(home, MARKER, key)}  # fmt: skip
    status = run_cli(home, "privacy", "status", REQUEST_ID)
    manifests = redacted_manifests(home)
    print(f"\nErase request dropped while the UI ran: run {run and run['status']},"
          f" {seconds and f'{seconds:.1f} s'} from the drop")  # fmt: skip
    print(f"  marker still in files: {after['files'] or 'none'}")
    print(f"  user key still in files: {after['key_files'] or 'none'}")
    print(f"  user still in tables: {after['tables'] or 'none'}")
    print(f"  user still in Parquet files: {after['parquet'] or 'none'}")
    print(f"  manifests recording the redaction: {manifests or 'none'}")
    print("  feedback-platform privacy status:\n" + status.stdout)
    gone = not (after["files"] or after["tables"] or after["key_files"] or after["parquet"])
    ok = bool(run) and run["status"] == "SUCCESS" and gone and status.returncode == 0
    summary = {
        "run_status": run and run["status"],
        "seconds": seconds and round(seconds, 1),
        "files_before": len(before["files"]),
        "tables_before": len(before["tables"]),
        "files_after": len(after["files"]) + len(after["key_files"]),
        "tables_after": len(after["tables"]),
        "parquet_before": len(before["parquet"]),
        "parquet_after": len(after["parquet"]),
        "redacted_manifests": len(manifests),
    }
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
