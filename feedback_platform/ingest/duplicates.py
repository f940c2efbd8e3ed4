"""How the rows of a small drop (review labels, privacy requests) are told apart from
repeats: the SQL shared by their checks, and the counts their ledgers record.

A row is identified by ``identity`` within its drop and by ``stored_using`` against the rows
stored before. A repeat that says the same as the first (or the stored) row is a duplicate,
counted and dropped; one that says otherwise is a ``duplicate_conflict``, quarantined, and
the first row wins. Event drops have their own, faster rules (load.py).
"""

from __future__ import annotations

import duckdb

from feedback_platform.ingest.load import RowCounts


def _row(columns: tuple[str, ...], alias: str) -> str:
    return "row(" + ", ".join(f"{alias}.{column}" for column in columns) + ")"


def duplicate_ctes(
    *,
    identity: tuple[str, ...],
    content: tuple[str, ...],
    stored_table: str,
    stored_using: tuple[str, ...],
    stored_content: tuple[str, ...],
    name: str = "final",
) -> str:
    """The CTEs ``compared``, ``classified`` and ``name`` over the CTE ``reasoned`` (one row
    per line: ``line_number``, ``reason``, the fields): ``name`` is ``reasoned`` with a
    conflict's reason and a ``duplicate`` flag."""
    first = f"first_value({_row(content, 'r')}) over same_identity"
    return f"""
compared as (
    select
        r.line_number,
        row_number() over same_identity as occurrence,
        {_row(content, "r")} is not distinct from {first} as same_as_first,
        known.{stored_using[0]} is not null as stored,
        {_row(stored_content, "r")} is not distinct from {_row(stored_content, "known")}
            as same_as_stored
    from reasoned as r
    left join {stored_table} as known using ({", ".join(stored_using)})
    where r.reason is null
    window same_identity as (
        partition by {", ".join(f"r.{column}" for column in identity)} order by r.line_number
    )
),

classified as (
    select
        line_number,
        case
            when stored and same_as_stored then 'duplicate'
            when stored then 'duplicate_conflict'
            when occurrence = 1 then 'new'
            when same_as_first then 'duplicate'
            else 'duplicate_conflict'
        end as status
    from compared
),

{name} as (
    select
        reasoned.* exclude (reason),
        case when status = 'duplicate_conflict' then status else reasoned.reason end as reason,
        coalesce(status = 'duplicate', false) as duplicate
    from reasoned
    left join classified using (line_number)
)
"""


def checked_row_counts(con: duckdb.DuckDBPyConnection, checked: str) -> RowCounts:
    """What the rows of the checked table ``checked`` became, for the drop's ledger row."""
    read, valid, duplicate = con.execute(
        f"""
        select count(*), count_if(reason is null and not duplicate), count_if(duplicate)
        from {checked}
        """
    ).fetchall()[0]
    reasons = dict(
        con.execute(
            f"""
            select reason, count(*) from {checked}
            where reason is not null
            group by reason
            order by 2 desc, 1
            """
        ).fetchall()
    )
    return RowCounts(read, valid, duplicate, reasons, scrubbed={})
