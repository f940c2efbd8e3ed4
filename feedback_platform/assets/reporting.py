"""Stage 3 (reporting): the weekly participation report, one partition per week.

Who gives explicit feedback at all, by segment and model version, week over week, and how the
sessions that carry feedback differ from all sessions (the selection bias of explicit
feedback). The figures are dbt models (``dbt_project/models/reporting``), built one week at a
time by the partitioned dbt assets ``reporting_models``, which pass the week as dbt vars; the
asset ``participation_weekly`` then reads that week's rows and writes the report and its chart.
"""

import base64
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, dbt_assets
from dagster_duckdb import DuckDBResource

from feedback_platform.assets.report_weeks import weekly_partitions
from feedback_platform.assets.transformation import DbtBuildConfig, dbt_build, translator
from feedback_platform.dbt_project import dbt_project, dbt_vars
from feedback_platform.resources import PlatformResource

#: The dbt models' tables (aliases of the models in dbt_project/models/reporting).
PARTICIPATION_TABLE = "reports.participation_weekly"
SKEW_TABLE = "reports.participation_skew_weekly"
CHART_TABLE = "reports.participation_chart_weekly"
SIGNAL_TYPES_TABLE = "reports.participation_signal_types"
IMPLICIT_HUMAN_AGREEMENT_TABLE = "reports.implicit_human_agreement_weekly"

#: Weeks of history the chart shows, this week included: the dbt var the chart's model (and the
#: staleness of a week's report) reads too.
CHART_WEEKS = dbt_vars()["report_chart_weeks"]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    select="path:models/reporting",
    partitions_def=weekly_partitions,
    # one week a run (dagster-dbt would build a backfill's weeks in one run): the models build
    # the one week their vars name
    backfill_policy=dg.BackfillPolicy.multi_run(1),
    pool="duckdb",
)
def reporting_models(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """The report's figures for the partition's week: each model replaces that week's rows."""
    yield from dbt_build(context, config, dbt, platform, duckdb, dbt_env=week_env(context))


def week_env(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The partition's week as the environment the reporting models read (ISO dates, the end
    exclusive; macros/report_week.sql), as dagster-open-platform passes a partition's time
    window to its models, though not as vars: new vars make dbt parse the whole project again,
    and the models read these only when they run, so a new week parses nothing again."""
    window = context.partition_time_window
    return {
        "FEEDBACK_PLATFORM_REPORT_WEEK_START": window.start.date().isoformat(),
        "FEEDBACK_PLATFORM_REPORT_WEEK_END": window.end.date().isoformat(),
    }


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


@dataclass(frozen=True)
class SignalTypes:
    """The event types the report counts, as the taxonomy seed says, for its prose."""

    explicit: list[str]
    implicit: list[str]


@dataclass(frozen=True)
class ImplicitHumanAgreement:
    """One model version's week: how often its implicit-signal labels matched the reviewers'
    clear majorities on the same outputs (``reports.implicit_human_agreement_weekly``)."""

    model_version: str
    compared_items: int
    agreeing_items: int
    agreement_rate: float
    min_agreement: float
    is_agreement_low: bool


@dataclass(frozen=True)
class WeekFigures:
    """What a week's report shows, as the dbt models built it."""

    rows: list[WeekRow]  # the ``all`` row first
    skew: Skew
    history: list[tuple]  # (week, series, sessions, with explicit feedback), for the chart
    signal_types: SignalTypes
    agreement: list[ImplicitHumanAgreement]  # by model version; empty when nothing was reviewed


@dg.asset(
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(1),  # a week a run, as its dbt models
    deps=[reporting_models],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="reporting",
    metadata={"table": PARTICIPATION_TABLE, "skew_table": SKEW_TABLE},
)
def participation_weekly(
    context: dg.AssetExecutionContext, platform: PlatformResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Explicit participation (sessions and users with any explicit feedback), implicit-signal
    coverage, by segment and model version, week over week, plus the selection bias of explicit
    feedback: ``reports/participation/<week_start>.md`` with its chart, from the week's rows of
    ``reports.participation_weekly``, ``reports.participation_skew_weekly`` and
    ``reports.participation_chart_weekly``, which ``reporting_models`` built just before (and
    which record in ``reports.participation_report_inputs`` when the newest row they read was
    ingested: ``feedback-platform run`` reports a week again only after that moves)."""
    week_start = date.fromisoformat(context.partition_key)
    with duckdb.get_connection() as con:
        week = read_week(con, week_start)

    path = platform.settings().reports_dir / "participation" / f"{week_start}.md"
    chart = write_chart(path.with_suffix(".png"), week_start, week.history)
    path.write_text(render_markdown(week_start, week, chart_src=chart.name), encoding="utf-8")
    embedded = base64.b64encode(chart.read_bytes()).decode("ascii")
    ui_markdown = render_markdown(week_start, week, chart_src=f"data:image/png;base64,{embedded}")

    total = week.rows[0]
    context.log.info(f"{week_start}: {summary(week_start, week.rows, week.skew)}")
    disagreeing = [model for model in week.agreement if model.is_agreement_low]
    for model in disagreeing:
        context.log.warning(f"{week_start}: {agreement_sentence(model)}")
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
            # model versions only: which ones to look at, no user's text
            "models_with_low_implicit_human_agreement": dg.MetadataValue.text(
                ", ".join(model.model_version for model in disagreeing) or "none"
            ),
            "dagster/row_count": len(week.rows),
        }
    )


def _columns(row_type: type) -> str:
    return ", ".join(field.name for field in fields(row_type))


def read_week(con: duckdb.DuckDBPyConnection, week_start: date) -> WeekFigures:
    """The week's rows of the report's tables, and the event types its prose names."""
    week = {"week_start": week_start}
    rows = con.execute(
        f"""
        select {_columns(WeekRow)} from {PARTICIPATION_TABLE}
        where week_start = $week_start
        order by dimension <> 'all', dimension desc, dimension_value
        """,
        week,
    ).fetchall()
    skew = con.execute(
        f"select {_columns(Skew)} from {SKEW_TABLE} where week_start = $week_start", week
    ).fetchone()
    if skew is None:  # every built week has its skew row: this week's models never ran
        raise dg.Failure(
            f"The week of {week_start} has no figures yet: materialize `reporting_models` for it"
            " first (the `participation_report` job, and a backfill of the `reporting` group,"
            " run both)."
        )
    history = con.execute(
        f"""
        select chart_week_start, series, sessions, sessions_with_explicit_feedback
        from {CHART_TABLE} where week_start = $week_start
        order by chart_week_start, series
        """,
        week,
    ).fetchall()
    agreement = con.execute(
        f"""
        select {_columns(ImplicitHumanAgreement)} from {IMPLICIT_HUMAN_AGREEMENT_TABLE}
        where week_start = $week_start order by model_version
        """,
        week,
    ).fetchall()
    return WeekFigures(
        rows=[WeekRow(*row) for row in rows],
        skew=Skew(*skew),
        history=history,
        signal_types=_signal_types(con),
        agreement=[ImplicitHumanAgreement(*row) for row in agreement],
    )


def _signal_types(con: duckdb.DuckDBPyConnection) -> SignalTypes:
    types = con.execute(
        f"select event_type, is_explicit_feedback, is_implicit_signal from {SIGNAL_TYPES_TABLE}"
        " order by event_type"
    ).fetchall()
    return SignalTypes(
        explicit=[name for name, explicit, _ in types if explicit],
        implicit=[name for name, _, implicit in types if implicit],
    )


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


def agreement_sentence(model: ImplicitHumanAgreement) -> str:
    """One model version's agreement with the reviewers; a warning when its flag is set, since
    training on signals people overrule teaches the model the wrong thing."""
    figures = (
        f"{model.agreeing_items} of {model.compared_items} reviewed outputs of model "
        f"{model.model_version} ({_pct(model.agreement_rate)})"
    )
    if model.is_agreement_low:
        return (
            f"**Warning: implicit signals stopped agreeing with people for model "
            f"{model.model_version}**: they agreed with reviewers on {figures}, below the "
            f"{100 * model.min_agreement:.0f}% floor; check its signals before training on them."
        )
    return f"Implicit signals agreed with reviewers on {figures}."


def agreement_lines(agreement: list[ImplicitHumanAgreement]) -> list[str]:
    """The report's lines on implicit signals against reviewers: one per model version
    compared, or one saying nothing was."""
    if not agreement:
        return ["No output shown this week was reviewed against its implicit signals."]
    return [agreement_sentence(model) for model in agreement]


def render_markdown(week_start: date, week: WeekFigures, *, chart_src: str) -> str:
    rows, skew, types = week.rows, week.skew, week.signal_types
    week_end = week_start + timedelta(days=6)
    # under the summary: a warning is the first thing a trainer reads, not a line at the bottom
    warnings = [agreement_sentence(model) for model in week.agreement if model.is_agreement_low]
    lines = [
        f"# Participation report: week of {week_start} (Monday) to {week_end} (UTC)",
        "",
        summary(week_start, rows, skew),
        "",
        *(f"{warning}\n" for warning in warnings),
        f"![Explicit participation rate by segment, recent weeks]({chart_src})",
        "",
        "## Participation",
        "",
        f"Explicit feedback: {', '.join(types.explicit)}. Implicit coverage: share of "
        f"generations with any implicit signal ({', '.join(types.implicit)}). Change: this "
        "week's rate minus the previous week's, in points.",
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
        "## Implicit signals against reviewers",
        "",
        "The reviewed outputs shown this week whose reviewers' clear majority can be held against"
        " their implicit-signal label (a pair's direction, or one output's KTO label).",
        "",
        *(f"- {line}" for line in agreement_lines(week.agreement)),
        "",
    ]
    return "\n".join(lines)
