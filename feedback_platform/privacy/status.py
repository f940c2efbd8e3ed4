"""What the platform did with one privacy request, for ``feedback-platform privacy status``."""

from __future__ import annotations

import json

from feedback_platform.schema import PRIVACY_REQUESTS_TABLE
from feedback_platform.settings import Settings
from feedback_platform.warehouse import open_warehouse


def request_status(settings: Settings, request_id: str) -> str | None:
    """A few lines on the request ``request_id``: its kind and times, and what was done (the
    counts in its outcome), or that it waits. None when no valid request has that id (a
    quarantined line is named with its reason)."""
    if not settings.warehouse_path.exists():
        return None
    with open_warehouse(settings, read_only=True) as con:
        found = con.execute(
            f"""
            select kind, requested_at, ingested_at, source_file, completed_at, outcome
            from {PRIVACY_REQUESTS_TABLE} where request_id = ?
            """,
            [request_id],
        ).fetchall()
        if not found:
            return _quarantined(con, request_id)
    kind, requested_at, ingested_at, source_file, completed_at, outcome = found[0]
    lines = [
        f"request {request_id}: {kind}",
        f"  requested at {requested_at:%Y-%m-%d %H:%M:%S} UTC,"
        f" recorded at {ingested_at:%Y-%m-%d %H:%M:%S} UTC from {source_file}",
    ]
    if completed_at is None:
        lines.append("  not carried out yet")
    else:
        lines.append(f"  carried out at {completed_at:%Y-%m-%d %H:%M:%S} UTC")
        lines += [f"  {what}: {count}" for what, count in json.loads(outcome).items()]
    return "\n".join(lines)


def _quarantined(con, request_id: str) -> str | None:
    rows = con.execute(
        """
        select source_file, line_number, reason from raw.quarantined_privacy_requests
        where request_id = ? order by ingested_at, source_file, line_number
        """,
        [request_id],
    ).fetchall()
    if not rows:
        return None
    return "\n".join(
        f"request {request_id}: not accepted ({source_file} line {line}: {reason})"
        for source_file, line, reason in rows
    )
