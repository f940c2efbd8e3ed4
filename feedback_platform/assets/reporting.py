"""Stage 3 (reporting): the weekly participation report, one partition per week.

Who gives explicit feedback at all, by segment and model version, week over week, and how the
sessions that carry feedback differ from all sessions (the selection bias of explicit
feedback). Everything is aggregated in DuckDB from the marts; Python only formats the result.
"""

import base64
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from feedback_platform.resources import PlatformResource
from feedback_platform.schema import PARTICIPATION_TABLE, REPORT_INPUTS_TABLE, SKEW_TABLE
from feedback_platform.warehouse import transaction

FCT_SESSIONS = dg.AssetKey(["marts", "fct_sessions"])
FCT_GENERATIONS = dg.AssetKey(["marts", "fct_generations"])
PARTICIPATION_WEEKLY = dg.AssetKey("participation_weekly")

#: Weeks start on Monday 00:00 UTC. The first week is early enough for any demo data.
weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date="2026-01-05", day_offset=1, timezone="UTC"
)

#: Weeks of history the chart shows, this week included.
CHART_WEEKS = 8

#: Which grouping set a row of ``group by grouping sets`` belongs to, as (dimension, value).
_DIMENSION_COLUMNS = """
        case
            when grouping(user_segment) = 0 then 'user_segment'
            when grouping(model_version) = 0 then 'model_version'
            else 'all'
        end as dimension,
        case
            when grouping(user_segment) = 0 then user_segment
            when grouping(model_version) = 0 then model_version
            else 'all'
        end as dimension_value"""

# A session counts in the week it started, under its segment and the model of its first
# generation; a generation in the week it was shown, under its own model and segment (the
# session's segment when the generation event did not carry one).
_PARTICIPATION_SQL = f"""
insert into {PARTICIPATION_TABLE}
with sessions as (
    select
        started_at >= $week_start as in_week,
        user_key,
        coalesce(user_segment, 'unknown') as user_segment,
        coalesce(model_version, 'unknown') as model_version,
        has_explicit_feedback
    from marts.fct_sessions
    where started_at >= $previous_week_start and started_at < $week_end
),
session_stats as (
    select
        in_week,
        {_DIMENSION_COLUMNS},
        count(*) as sessions,
        count(*) filter (where has_explicit_feedback) as sessions_with_explicit_feedback,
        count(distinct user_key) as users,
        count(distinct user_key) filter (where has_explicit_feedback)
            as users_with_explicit_feedback
    from sessions
    group by grouping sets ((in_week), (in_week, user_segment), (in_week, model_version))
),
generations as (
    select
        coalesce(g.user_segment, s.user_segment, 'unknown') as user_segment,
        coalesce(g.model_version, 'unknown') as model_version,
        g.has_implicit_signal
    from marts.fct_generations as g
    left join marts.fct_sessions as s on g.session_id = s.session_id
    where g.generated_at >= $week_start and g.generated_at < $week_end
),
generation_stats as (
    select
        {_DIMENSION_COLUMNS},
        count(*) as generations,
        count(*) filter (where has_implicit_signal) as generations_with_implicit_signal
    from generations
    group by grouping sets ((), (user_segment), (model_version))
),
current_week as (select * from session_stats where in_week),
previous_week as (select * from session_stats where not in_week),
keys as (
    select 'all' as dimension, 'all' as dimension_value  -- an empty week still has its row
    union
    select dimension, dimension_value from current_week
    union
    select dimension, dimension_value from generation_stats
),
rates as (
    select
        keys.dimension,
        keys.dimension_value,
        coalesce(cur.sessions, 0) as sessions,
        coalesce(cur.sessions_with_explicit_feedback, 0) as sessions_with_explicit_feedback,
        cur.sessions_with_explicit_feedback / nullif(cur.sessions, 0)
            as explicit_participation_rate,
        coalesce(cur.users, 0) as users,
        coalesce(cur.users_with_explicit_feedback, 0) as users_with_explicit_feedback,
        coalesce(gen.generations, 0) as generations,
        gen.generations_with_implicit_signal / nullif(gen.generations, 0) as implicit_coverage,
        prev.sessions_with_explicit_feedback / nullif(prev.sessions, 0) as previous_rate
    from keys
    left join current_week as cur
        on keys.dimension = cur.dimension and keys.dimension_value = cur.dimension_value
    left join previous_week as prev
        on keys.dimension = prev.dimension and keys.dimension_value = prev.dimension_value
    left join generation_stats as gen
        on keys.dimension = gen.dimension and keys.dimension_value = gen.dimension_value
)
select
    $week_start::date,
    dimension,
    dimension_value,
    sessions,
    sessions_with_explicit_feedback,
    explicit_participation_rate::double,
    users,
    users_with_explicit_feedback,
    generations,
    implicit_coverage::double,
    (explicit_participation_rate - previous_rate)::double
from rates
"""

# Selection bias: the outcome mix of the sessions that carry explicit feedback against all of
# the week's sessions. Edit rate = share of the sessions' generations edited beyond whitespace.
_SKEW_SQL = f"""
insert into {SKEW_TABLE}
with sessions as (
    select session_id, has_explicit_feedback, outcome = 'completed' as is_completed
    from marts.fct_sessions
    where started_at >= $week_start and started_at < $week_end
),
generations as (
    select s.has_explicit_feedback, g.is_edited
    from marts.fct_generations as g
    inner join sessions as s on g.session_id = s.session_id
),
session_mix as (
    select
        count(*) as sessions,
        count(*) filter (where has_explicit_feedback) as sessions_with_explicit_feedback,
        avg(is_completed::int) as completed_share_all,
        avg(is_completed::int) filter (where has_explicit_feedback) as completed_share_explicit
    from sessions
),
edit_mix as (
    select
        avg(is_edited::int) as edit_rate_all,
        avg(is_edited::int) filter (where has_explicit_feedback) as edit_rate_explicit
    from generations
)
select
    $week_start::date,
    sessions,
    sessions_with_explicit_feedback,
    completed_share_all,
    completed_share_explicit,
    100 * (completed_share_explicit - completed_share_all),
    edit_rate_all,
    edit_rate_explicit,
    100 * (edit_rate_explicit - edit_rate_all)
from session_mix, edit_mix
"""

# When the newest row a week's report reads was ingested (the marts stamp every row they rebuild
# with its batch): the sessions that started in the week or in the weeks before it that the
# chart shows (the week over week change reads the previous one, and a generation's segment its
# session), and the generations shown in the week or the next (the skew reads the generations of
# the week's sessions, which are shown by then unless a session lasts over a week). A report is
# stale when this moved on. Two scans of two columns: no join of the marts.
_INPUT_STAMPS_SQL = f"""
with session_weeks as (
    select date_trunc('week', started_at)::date as week_start, max(batch_ingested_at) as stamp
    from marts.fct_sessions
    group by all
),
generation_weeks as (
    select date_trunc('week', generated_at)::date as week_start, max(batch_ingested_at) as stamp
    from marts.fct_generations
    group by all
),
final as (
    select
        weeks.week_start,
        greatest(
            (select max(stamp) from session_weeks as earlier
             where earlier.week_start between weeks.week_start - interval {CHART_WEEKS - 1} week
                and weeks.week_start),
            (select max(stamp) from generation_weeks
             where generation_weeks.week_start between weeks.week_start
                and weeks.week_start + interval 1 week)
        ) as newest_input_ingested_at
    from session_weeks as weeks
)
select week_start, newest_input_ingested_at from final
"""


def weeks_with_new_inputs(con: duckdb.DuckDBPyConnection) -> set[date]:
    """Weeks with sessions whose report was never written or read rows that have since been
    rebuilt: the weeks a run has to report again."""
    stamps = dict(con.execute(_INPUT_STAMPS_SQL).fetchall())
    try:
        built = dict(
            con.execute(
                f"select week_start, newest_input_ingested_at from {REPORT_INPUTS_TABLE}"
            ).fetchall()
        )
    except duckdb.CatalogException:  # a read-only connection to a home with no report yet
        built = {}
    return {
        week
        for week, stamp in stamps.items()
        if week not in built or (stamp is not None and (built[week] is None or built[week] < stamp))
    }


def stale_report_weeks(con: duckdb.DuckDBPyConnection, *, every_week: bool = False) -> list[str]:
    """Partition keys of the complete weeks (ended, with sessions) whose report is missing or
    read rows rebuilt since; with ``every_week``, of every complete week. The dbt step asks this
    after each build, so reports follow the data in the UI as in the CLI."""
    weeks = con.execute(
        "select distinct strftime(date_trunc('week', started_at), '%Y-%m-%d')"
        " from marts.fct_sessions order by 1"
    ).fetchall()
    ended = set(weekly_partitions.get_partition_keys())
    changed = set() if every_week else {week.isoformat() for week in weeks_with_new_inputs(con)}
    return [week for (week,) in weeks if week in ended and (every_week or week in changed)]


# Explicit participation by week and segment for the chart, from the marts (not from earlier
# partitions of this table), so a partition never depends on the order weeks were backfilled.
_HISTORY_SQL = """
with sessions as (
    select
        date_trunc('week', started_at)::date as week_start,
        coalesce(user_segment, 'unknown') as user_segment,
        has_explicit_feedback
    from marts.fct_sessions
    where started_at >= $chart_start and started_at < $week_end
)
select
    week_start,
    case when grouping(user_segment) = 0 then user_segment else 'all' end as series,
    count(*) as sessions,
    count(*) filter (where has_explicit_feedback) as sessions_with_explicit_feedback
from sessions
group by grouping sets ((week_start), (week_start, user_segment))
order by 1, 2
"""


@dataclass(frozen=True)
class WeekRow:
    dimension: str
    dimension_value: str
    sessions: int
    sessions_with_explicit_feedback: int
    explicit_participation_rate: float | None
    users: int
    users_with_explicit_feedback: int
    generations: int
    implicit_coverage: float | None
    explicit_participation_rate_change: float | None


@dataclass(frozen=True)
class Skew:
    completed_share_all: float | None
    completed_share_explicit: float | None
    completed_share_diff_pp: float | None
    edit_rate_all: float | None
    edit_rate_explicit: float | None
    edit_rate_diff_pp: float | None


@dg.asset(
    partitions_def=weekly_partitions,
    deps=[FCT_SESSIONS, FCT_GENERATIONS],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="reporting",
    metadata={"table": PARTICIPATION_TABLE, "skew_table": SKEW_TABLE},
)
def participation_weekly(
    context: dg.AssetExecutionContext, platform: PlatformResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Explicit participation (sessions and users with any thumbs, rating, comment, correction
    or prefer), implicit-signal coverage, by segment and model version, week over week, plus
    the selection bias of explicit feedback. Writes ``reports.participation_weekly``,
    ``reports.participation_skew_weekly`` and ``reports/participation/<week_start>.md`` with
    its chart, and records in ``reports.participation_report_inputs`` when the newest row it
    read was ingested (``feedback-platform run`` reports a week again only after that moves)."""
    week_start = date.fromisoformat(context.partition_key)
    with duckdb.get_connection() as con:
        rows, skew, history = write_week(con, week_start)

    path = platform.settings().reports_dir / "participation" / f"{week_start}.md"
    chart = write_chart(path.with_suffix(".png"), week_start, history)
    markdown = render_markdown(week_start, rows, skew, chart_src=chart.name)
    path.write_text(markdown, encoding="utf-8")
    embedded = base64.b64encode(chart.read_bytes()).decode("ascii")
    ui_markdown = render_markdown(
        week_start, rows, skew, chart_src=f"data:image/png;base64,{embedded}"
    )

    total = rows[0]
    context.log.info(f"{week_start}: {summary(week_start, rows, skew)}")
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(ui_markdown),
            "report_path": dg.MetadataValue.path(str(path)),
            "chart_path": dg.MetadataValue.path(str(chart)),
            "explicit_participation_rate": dg.MetadataValue.float(
                total.explicit_participation_rate
                if total.explicit_participation_rate is not None
                else float("nan")
            ),
            "sessions": total.sessions,
            "dagster/row_count": len(rows),
        }
    )


def write_week(
    con: duckdb.DuckDBPyConnection, week_start: date
) -> tuple[list[WeekRow], Skew, list[tuple]]:
    """Replace the week's rows of both report tables in one transaction; return what the report
    shows: the week's rows (the ``all`` row first), its skew figures and the chart history."""
    start = datetime.combine(week_start, datetime.min.time())
    end = datetime.combine(week_start + timedelta(days=7), datetime.min.time())
    _replace_week(con, week_start, start, end)
    return _week_rows(con, start), _week_skew(con, start), _week_history(con, start, end)


def _replace_week(
    con: duckdb.DuckDBPyConnection, week_start: date, start: datetime, end: datetime
) -> None:
    """The week's participation and skew rows and its input stamp, in one transaction."""
    params = {"week_start": start, "week_end": end}
    with transaction(con):
        for table in (PARTICIPATION_TABLE, SKEW_TABLE):
            con.execute(
                f"delete from {table} where week_start = $week_start", {"week_start": start}
            )
        con.execute(
            _PARTICIPATION_SQL, {**params, "previous_week_start": start - timedelta(days=7)}
        )
        con.execute(_SKEW_SQL, params)
        con.execute(
            f"insert or replace into {REPORT_INPUTS_TABLE}"
            f" select * from ({_INPUT_STAMPS_SQL}) where week_start = $week_start",
            {"week_start": week_start},
        )


def _week_rows(con: duckdb.DuckDBPyConnection, start: datetime) -> list[WeekRow]:
    """The week's report rows, the ``all`` row first."""
    return [
        WeekRow(*row)
        for row in con.execute(
            f"""
            select * exclude (week_start) from {PARTICIPATION_TABLE}
            where week_start = $week_start
            order by dimension <> 'all', dimension desc, dimension_value
            """,
            {"week_start": start},
        ).fetchall()
    ]


def _week_skew(con: duckdb.DuckDBPyConnection, start: datetime) -> Skew:
    return Skew(
        *con.execute(
            f"""
            select * exclude (week_start, sessions, sessions_with_explicit_feedback)
            from {SKEW_TABLE} where week_start = $week_start
            """,
            {"week_start": start},
        ).fetchone()
    )


def _week_history(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> list[tuple]:
    """Sessions and those with explicit feedback per week and segment, for the chart."""
    return con.execute(
        _HISTORY_SQL,
        {"chart_start": start - timedelta(weeks=CHART_WEEKS - 1), "week_end": end},
    ).fetchall()


def write_chart(path: Path, week_start: date, history: list[tuple]) -> Path:
    """Explicit participation rate over the recent weeks, one line per segment (Agg backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series: dict[str, dict[date, float]] = {}
    for week, segment, sessions, explicit in history:
        series.setdefault(segment, {})[week] = 100 * explicit / sessions
    # from the first week with sessions in the window (at most CHART_WEEKS) to this week
    first = min((week for week, *_ in history), default=week_start)
    weeks = [week_start - timedelta(weeks=n) for n in range(CHART_WEEKS - 1, -1, -1)]
    weeks = [week for week in weeks if week >= first]

    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = range(len(weeks))
    for name in sorted(series, key=lambda name: (name != "all", name)):
        values = [series[name].get(week, float("nan")) for week in weeks]
        style = {"color": "black", "linewidth": 2.5} if name == "all" else {"linewidth": 1.2}
        axes.plot(positions, values, marker="o", label=name, **style)
    if not series:
        axes.text(0.5, 0.5, "no sessions in these weeks", ha="center", transform=axes.transAxes)
    axes.set_xticks(list(positions), [f"{week:%d %b}" for week in weeks])
    axes.set_xlim(-0.5, len(weeks) - 0.5)
    highest = max((value for points in series.values() for value in points.values()), default=0)
    axes.set_ylim(0, min(100, 10 * (highest // 10 + 1)) * 1.05)
    axes.set_ylabel("sessions with explicit feedback (%)")
    axes.set_title(f"Explicit participation by segment, weeks up to {week_start}")
    axes.grid(alpha=0.3)
    if series:
        axes.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", metadata={"Software": None})
    return path


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.1f}%"


def _pp(points: float | None) -> str:
    return "n/a" if points is None else f"{points:+.1f} pp"


def summary(week_start: date, rows: list[WeekRow], skew: Skew) -> str:
    """A few plain sentences about the week."""
    total = rows[0]
    if total.sessions == 0:
        return f"There was no activity in the week of {week_start}: no sessions started."
    sentences = [
        f"{total.sessions_with_explicit_feedback} of {total.sessions} sessions "
        f"({_pct(total.explicit_participation_rate)}) had explicit feedback, from "
        f"{total.users_with_explicit_feedback} of {total.users} users."
    ]
    change = total.explicit_participation_rate_change
    if change is None:
        sentences.append("The previous week had no sessions to compare with.")
    else:
        direction = "up" if change > 0 else "down"
        sentences.append(
            f"That is {direction} {abs(100 * change):.1f} points from the previous week."
            if change
            else "That is unchanged from the previous week."
        )
    segments = [
        row
        for row in rows
        if row.dimension == "user_segment" and row.explicit_participation_rate is not None
    ]
    if len(segments) > 1:
        low = min(segments, key=lambda row: (row.explicit_participation_rate, row.dimension_value))
        high = max(segments, key=lambda row: (row.explicit_participation_rate, row.dimension_value))
        sentences.append(
            f"Participation was highest in {high.dimension_value} "
            f"({_pct(high.explicit_participation_rate)}) and lowest in {low.dimension_value} "
            f"({_pct(low.explicit_participation_rate)})."
        )
    if skew.completed_share_diff_pp is not None:
        sentences.append(
            f"Sessions with explicit feedback were completed "
            f"{_pct(skew.completed_share_explicit)} of the time against "
            f"{_pct(skew.completed_share_all)} of all sessions "
            f"({_pp(skew.completed_share_diff_pp)}): explicit feedback "
            + (
                "over-represents successful sessions."
                if skew.completed_share_diff_pp > 0
                else "over-represents abandoned sessions."
                if skew.completed_share_diff_pp < 0
                else "matches the overall outcome mix."
            )
        )
    else:
        sentences.append("No session had explicit feedback, so its skew cannot be measured.")
    return " ".join(sentences)


def render_markdown(week_start: date, rows: list[WeekRow], skew: Skew, *, chart_src: str) -> str:
    week_end = week_start + timedelta(days=6)
    lines = [
        f"# Participation report: week of {week_start} (Monday) to {week_end} (UTC)",
        "",
        summary(week_start, rows, skew),
        "",
        f"![Explicit participation rate by segment, recent weeks]({chart_src})",
        "",
        "## Participation",
        "",
        "Explicit feedback: thumbs, rating, comment, correction, prefer. Implicit coverage: "
        "share of generations with any implicit signal (edit, regenerate, copy, share, view, "
        "task completion). Change: this week's rate minus the previous week's, in points.",
        "",
        "| dimension | value | sessions | with explicit feedback | participation rate "
        "| change | users | users with explicit feedback | generations | implicit coverage |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        change = row.explicit_participation_rate_change
        lines.append(
            f"| {row.dimension} | {row.dimension_value} | {row.sessions} "
            f"| {row.sessions_with_explicit_feedback} | {_pct(row.explicit_participation_rate)} "
            f"| {_pp(None if change is None else 100 * change)} | {row.users} "
            f"| {row.users_with_explicit_feedback} | {row.generations} "
            f"| {_pct(row.implicit_coverage)} |"
        )
    lines += [
        "",
        "## Selection bias of explicit feedback",
        "",
        "How the sessions that carry explicit feedback differ from all of the week's sessions.",
        "Edit rate: share of the sessions' generations edited beyond whitespace.",
        "",
        "| measure | sessions with explicit feedback | all sessions | difference |",
        "|---|---:|---:|---:|",
        f"| completed share | {_pct(skew.completed_share_explicit)} "
        f"| {_pct(skew.completed_share_all)} | {_pp(skew.completed_share_diff_pp)} |",
        f"| edit rate | {_pct(skew.edit_rate_explicit)} | {_pct(skew.edit_rate_all)} "
        f"| {_pp(skew.edit_rate_diff_pp)} |",
        "",
    ]
    return "\n".join(lines)
