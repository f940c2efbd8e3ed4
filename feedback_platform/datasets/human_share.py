"""The collapse watch in a preference-pairs manifest: how much of a version people decided.

The figures are dbt's (``publication.pair_human_share``, per model version and segment, and
``publication.pair_collapse_watch``, overall with the flags); this module reads them into the
manifest's ``human_share`` and ``collapse_watch`` sections and adds each share's change from
the parent version's manifest, which only the published files know.
"""

from __future__ import annotations

import duckdb

from feedback_platform.datasets.versions import PublishedVersion

HUMAN_SHARE_TABLE = "publication.pair_human_share"
COLLAPSE_WATCH_TABLE = "publication.pair_collapse_watch"

_GROUP_COLUMNS = ("model_version", "user_segment", "pairs", "human_pairs", "model_pairs")


def collapse_figures(con: duckdb.DuckDBPyConnection, parent: PublishedVersion | None) -> dict:
    """The manifest sections ``human_share`` (overall and per model version and segment, each
    with ``change_from_parent``: the share minus the parent's, null where the parent had no
    such figure) and ``collapse_watch`` (the overall figures, thresholds and flags)."""
    watch = _rows(con, f"select * from {COLLAPSE_WATCH_TABLE}")[0]
    groups = _rows(
        con,
        f"select {', '.join(_GROUP_COLUMNS)}, human_share from {HUMAN_SHARE_TABLE}"
        " order by model_version, user_segment",
    )
    before = (parent.manifest.get("human_share") if parent else None) or {}
    before_groups = {
        (group["model_version"], group["user_segment"]): group["human_share"]
        for group in before.get("by_model_version_and_segment", [])
    }
    return {
        "human_share": {
            "pairs": watch["pairs"] or 0,
            "human_pairs": watch["human_pairs"] or 0,
            "share": watch["human_share"],
            "change_from_parent": _change(watch["human_share"], before.get("share")),
            "parent_version": parent.version if parent else None,
            "by_model_version_and_segment": [
                {
                    **group,
                    "change_from_parent": _change(
                        group["human_share"],
                        before_groups.get((group["model_version"], group["user_segment"])),
                    ),
                }
                for group in groups
            ],
        },
        "collapse_watch": {
            name: watch[name]
            for name in (
                "model_versions",
                "top_model_version",
                "top_model_version_share",
                "min_human_share",
                "max_model_version_share",
                "is_human_share_low",
                "is_one_model_version_dominant",
            )
        },
    }


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _change(share: float | None, parent_share: float | None) -> float | None:
    if share is None or parent_share is None:
        return None
    return round(share - parent_share, 6)
