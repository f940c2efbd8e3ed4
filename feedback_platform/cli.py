"""`feedback-platform`: generate demo drops, run the pipeline, open the UI."""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from feedback_platform.ingest.landing import drop_files
from feedback_platform.ingest.readers import SUPPORTED_SUFFIXES
from feedback_platform.privacy.requests import PRIVACY_DROP_SUFFIXES
from feedback_platform.review.anchors import ANCHOR_DROP_SUFFIXES
from feedback_platform.review.labels import REVIEW_DROP_SUFFIXES
from feedback_platform.runs import process_tags, settle_dead_runs
from feedback_platform.settings import ENGINE_SPARK, Settings

PIPELINE_JOB = "feedback_pipeline"
PUBLISH_JOB_NAME = "publish_datasets"
REPORT_JOB = "participation_report"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # SIGTERM (systemd, a container stop, `kill`) stops a run as Ctrl-C does: the run is
    # marked failed and dagster-dbt stops its dbt child, instead of leaving both behind.
    signal.signal(signal.SIGTERM, _interrupt)
    return args.handler(args)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedback-platform", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="command")

    generate = commands.add_parser("generate", help="write realistic synthetic event drops")
    generate.add_argument("--out", type=Path, required=True, help="folder to write drops into")
    _add_generator_options(generate)
    generate.set_defaults(handler=_generate)

    run = commands.add_parser(
        "run", help="ingest every new drop and materialize everything downstream"
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental dbt models from all raw events (after an upgrade that"
        " changed their columns, or to start them over)",
    )
    run.set_defaults(handler=_run)

    publish = commands.add_parser(
        "publish",
        help="publish new dataset versions now (preference pairs, KTO signals) and contributor"
        " impact, as the daily schedule does",
    )
    publish.set_defaults(handler=_publish)

    train = commands.add_parser(
        "train",
        help="train a local causal LM on a published dataset version with TRL, its weight"
        " column in effect (needs the `train` extra: pip install feedback-platform[train])",
    )
    train.add_argument("--dataset", choices=["preference_pairs", "kto_signals"], required=True)
    train.add_argument("--version", default="latest", help="a version folder's name, or latest")
    train.add_argument("--model", required=True, help="folder of the model and its tokenizer")
    train.add_argument("--out", type=Path, required=True, help="folder for the trained model")
    train.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (-1: epochs)")
    train.add_argument("--epochs", type=float, default=1.0)
    train.add_argument("--batch-size", type=int, default=8)
    train.set_defaults(handler=_train)

    demo = commands.add_parser(
        "demo", help="generate drops into an empty landing folder, then run everything"
    )
    _add_generator_options(demo)
    demo.set_defaults(handler=_demo)

    privacy = commands.add_parser("privacy", help="privacy requests (erasure, training consent)")
    privacy_commands = privacy.add_subparsers(required=True, metavar="command")
    status = privacy_commands.add_parser("status", help="what was done with one request")
    status.add_argument("request_id")
    status.set_defaults(handler=_privacy_status)

    spark = commands.add_parser(
        "spark", help="the local Spark Thrift server of FEEDBACK_PLATFORM_ENGINE=spark"
    )
    spark.add_argument("action", choices=["start", "stop", "status"])
    spark.set_defaults(handler=_spark)

    docs = commands.add_parser(
        "docs", help="build the dbt docs site (one offline HTML file) under the platform home"
    )
    docs.set_defaults(handler=_docs)

    ui = commands.add_parser("ui", help="serve the Dagster UI for this platform home")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=_ui)
    return parser


def _add_generator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)


def _generate(args: argparse.Namespace) -> int:
    from feedback_platform.synthetic.generate import generate_drops

    files = generate_drops(args.out, users=args.users, days=args.days, seed=args.seed)
    print(f"Wrote {len(files)} drops to {args.out.resolve()}")
    for path in files:
        print(f"  {path.name}")
    return 0


def _run(args: argparse.Namespace) -> int:
    return run_pipeline(Settings.from_env(), full_refresh=args.full_refresh)


def _publish(_: argparse.Namespace) -> int:
    return publish(Settings.from_env())


def _privacy_status(args: argparse.Namespace) -> int:
    from feedback_platform.privacy.status import request_status

    status = request_status(Settings.from_env(), args.request_id)
    if status is None:
        print(f"No privacy request {args.request_id} has been ingested.", file=sys.stderr)
        return 1
    print(status)
    return 0


def _spark(args: argparse.Namespace) -> int:
    """Start, stop or ask after the home's Spark Thrift server (it keeps running between
    commands, like a database server, until stopped)."""
    from feedback_platform.spark.thrift_server import ThriftServer

    settings = Settings.from_env()
    server = ThriftServer(settings.spark_dir, settings.spark_thrift_port)
    address = f"{server.host}:{server.port}"
    if args.action == "start":
        started = server.start()
        print(f"Spark Thrift server {'started' if started else 'already running'} on {address}")
    elif args.action == "stop":
        stopped = server.stop()
        print("Spark Thrift server stopped" if stopped else "No Spark Thrift server was running")
    else:
        running = server.is_running()
        print(f"Spark Thrift server on {address}: {'running' if running else 'not running'}")
        return 0 if running else 3
    return 0


def _train(args: argparse.Namespace) -> int:
    # Imported here: torch and TRL come with the optional `train` extra only.
    from feedback_platform.train.trl_weighted import load_published, train

    data = load_published(Settings.from_env().datasets_dir, args.dataset, args.version)
    print(f"Training on {args.dataset} {data.version.version} ({data.version.path})")
    metrics = train(
        data,
        args.model,
        args.out,
        max_steps=args.max_steps,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
    )
    for name, value in sorted(metrics.items()):
        print(f"  {name}: {value:.4f}")
    print(f"Model and {args.out / 'training_data.json'} written to {args.out}")
    return 0


def run_pipeline(settings: Settings, *, full_refresh: bool = False) -> int:
    """Materialize every asset in this process, on the platform's own Dagster instance: the
    pipeline, then the weekly report for every complete week whose data the pipeline changed
    (as its dbt step observed). ``full_refresh`` rebuilds the incremental dbt models from all
    raw events, and reports every complete week again."""
    settings.ensure_dirs()
    print(f"Platform home: {settings.home}")
    for folder, suffixes in (
        (settings.events_landing_dir, SUPPORTED_SUFFIXES),
        (settings.reviews_landing_dir, REVIEW_DROP_SUFFIXES),
        (settings.privacy_landing_dir, PRIVACY_DROP_SUFFIXES),
        (settings.anchors_landing_dir, ANCHOR_DROP_SUFFIXES),
    ):
        pending = drop_files(folder, suffixes)
        print(f"Drops in {folder}: {len(pending)} (ingested ones are skipped)")
    return run_job(
        settings, PIPELINE_JOB, ops={"dbt_models": {"config": {"full_refresh": full_refresh}}}
    )


def publish(settings: Settings) -> int:
    """Publish the datasets now (what the daily schedule does), in this process."""
    return run_job(settings, PUBLISH_JOB_NAME, reports=False)


def run_job(
    settings: Settings, job_name: str, *, ops: dict | None = None, reports: bool = True
) -> int:
    """Execute ``job_name`` in this process on the platform's instance and print its summary;
    then, with ``reports``, the weekly report of every week its dbt step observed as stale (what
    ``stale_reports_sensor`` asks for after a drop's run). Non-zero when anything failed."""
    run_config = {**_RUN_CONFIG, **({"ops": ops} if ops else {})}
    with _platform(settings) as (defs, instance):
        for dead in settle_dead_runs(instance):
            print(dead.describe())
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config, tags=process_tags()
        )
        code = _print_summary(result, settings)
        if not reports:
            return code
        if code != 0:
            print("Weekly reports not refreshed: the run failed.")
            return code
        weeks = _stale_report_weeks(result)
        print(
            f"\nWeekly participation reports: {len(weeks)} weeks with data newer than their report"
        )
        report_job = defs.resolve_job_def(REPORT_JOB)
        for week in weeks:
            report = report_job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=_RUN_CONFIG,
                partition_key=week,
                tags=process_tags(),
            )
            code = max(code, _print_report_summary(report, week))
    return code


_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@contextmanager
def _platform(settings: Settings) -> Iterator[tuple[dg.Definitions, dg.DagsterInstance]]:
    """The code location and the platform's own instance, so the UI shows the CLI's runs."""
    from feedback_platform.definitions import build_definitions
    from feedback_platform.instance import platform_instance

    settings.ensure_dirs()
    if settings.engine == ENGINE_SPARK:
        _start_spark(settings)
    with platform_instance(settings) as instance:
        yield build_definitions(settings), instance


def _start_spark(settings: Settings) -> None:
    """The home's Spark Thrift server, started before the run (it takes a minute or two) rather
    than by its first dbt step; it stays up afterwards, as a service (`feedback-platform spark
    stop`)."""
    from feedback_platform.spark.thrift_server import ThriftServer

    server = ThriftServer(settings.spark_dir, settings.spark_thrift_port)
    if not server.is_running():
        print(f"Starting the Spark Thrift server on {server.host}:{server.port} ...", flush=True)
        server.start()


def _stale_report_weeks(result: dg.ExecuteInProcessResult) -> list[str]:
    """The weeks the run's dbt step observed ``participation_weekly`` for: their data changed."""
    return sorted(
        {
            event.asset_observation_data.asset_observation.partition
            for event in result.all_events
            if event.event_type == dg.DagsterEventType.ASSET_OBSERVATION
            and event.asset_key == dg.AssetKey("participation_weekly")
        }
    )


def _print_report_summary(result: dg.ExecuteInProcessResult, week: str) -> int:
    if not result.success:
        for _, reason in _step_failures(result):
            print(f"  report FAILED for the week of {week}: {reason}")
        return 1
    [materialization] = result.asset_materializations_for_node("participation_weekly")
    rate = materialization.metadata["explicit_participation_rate"].value
    shown = "no sessions" if math.isnan(rate) else f"{rate:.1%} of sessions with explicit feedback"
    print(f"  report for the week of {week}: {shown}")
    print(f"    {materialization.metadata['report_path'].value}")
    return 0


def _step_failures(result: dg.ExecuteInProcessResult) -> list[tuple[str, str]]:
    """(step, first line of its error) for every failed step of the run."""
    failures = []
    for failure in result.get_step_failure_events():
        error = failure.step_failure_data.error
        reason = error.message.strip().splitlines()[0] if error else "unknown error"
        failures.append((failure.step_key, reason))
    return failures


def _print_summary(result: dg.ExecuteInProcessResult, settings: Settings) -> int:
    print("\nSummary")
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        rows = materialization.metadata.get("dagster/row_count")
        suffix = f": {rows.value} rows" if rows is not None else ""
        print(f"  materialized {materialization.asset_key.to_user_string()}{suffix}")
    failed_checks = [
        evaluation for evaluation in result.get_asset_check_evaluations() if not evaluation.passed
    ]
    for evaluation in failed_checks:
        level = "FAILED" if evaluation.severity == dg.AssetCheckSeverity.ERROR else "warning"
        print(
            f"  check {level}: {evaluation.asset_key.to_user_string()} "
            f"{evaluation.check_name}: {evaluation.description or ''}"
        )
    for step_key, reason in _step_failures(result):
        print(f"  step FAILED: {step_key}: {reason}")
    blocking = [e for e in failed_checks if e.severity == dg.AssetCheckSeverity.ERROR]
    ok = result.success and not blocking
    print(f"\nRun {result.run_id}: {'succeeded' if ok else 'FAILED'}")
    print(f"Warehouse: {settings.warehouse_path}")
    return 0 if ok else 1


def _demo(args: argparse.Namespace) -> int:
    from feedback_platform.synthetic.generate import generate_drops

    settings = Settings.from_env()
    settings.ensure_dirs()
    if drop_files(settings.events_landing_dir):
        print(f"{settings.events_landing_dir} already has drops; not generating new ones.")
    else:
        files = generate_drops(
            settings.events_landing_dir, users=args.users, days=args.days, seed=args.seed
        )
        print(f"Generated {len(files)} demo drops in {settings.events_landing_dir}")
    code = run_pipeline(settings)
    print(
        "\nOutputs\n"
        f"  warehouse (DuckDB): {settings.warehouse_path}\n"
        "    tables: raw.feedback_events, raw.quarantined_events, raw.ingested_files,\n"
        "            raw.review_labels, staging.stg_feedback_events, intermediate.int_*,\n"
        "            marts.fct_sessions, marts.fct_generations, marts.fct_signal_metrics_daily,\n"
        "            marts.fct_preference_candidates, marts.fct_review_candidates,\n"
        "            marts.fct_kto_candidates, training.preference_pairs,\n"
        "            training.kto_signals, training.contributor_impact, review.review_queue,\n"
        "            review.agreement, reports.participation_weekly,\n"
        "            reports.participation_skew_weekly\n"
        f"  datasets:           {settings.datasets_dir}/preference_pairs/LATEST,\n"
        f"                      {settings.datasets_dir}/kto_signals/LATEST\n"
        f"  review queue:       {settings.review_dir / 'queue.jsonl'}\n"
        f"  review labels:      drop them in {settings.reviews_landing_dir}\n"
        f"  reports:            {settings.reports_dir}\n"
        "Open the Dagster UI with `make ui` (or `feedback-platform ui`), then http://localhost:3000"
    )
    return code


def _docs(_: argparse.Namespace) -> int:
    """`dbt docs generate --static`: models, columns, lineage and the warehouse's catalog in one
    self-contained HTML file that opens from disk, no server or network needed."""
    from feedback_platform.dbt_project import DBT_PROJECT_DIR, dbt_environment
    from feedback_platform.resources import executable

    settings = Settings.from_env()
    settings.ensure_dirs()
    target = settings.home / "dbt_docs"
    command = [
        executable("dbt"),
        "docs",
        "generate",
        "--static",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
    ]
    completed = subprocess.run(command, env={**os.environ, **dbt_environment(settings)})
    if completed.returncode != 0:
        return completed.returncode
    print(f"dbt docs: {target / 'static_index.html'} (open it in a browser)")
    return 0


def _ui(args: argparse.Namespace) -> int:
    """`dg dev` for this platform home, stopped cleanly by Ctrl-C, SIGINT, SIGTERM or SIGHUP.

    dg dev (the webserver, daemon, code servers and run workers under it) runs in a session of
    its own, with this process as its parent: a signal here becomes SIGINT to that whole
    process group, then SIGKILL of what is left after a grace period (a second signal kills at
    once). The dagster processes must not inherit an ignored SIGINT (a background job of a
    non-interactive shell starts with SIGINT ignored): Python would keep ignoring it, and
    dagster gives SIGTERM the SIGINT handler, so neither would stop them. Installing handlers
    here first means the child starts with the default dispositions (exec resets them).
    """
    import signal
    import time

    from feedback_platform.instance import ensure_instance_home
    from feedback_platform.processes import group_has_live_process
    from feedback_platform.resources import executable

    grace_seconds = 7.0  # then SIGKILL: everything is gone well within 10 s
    settings = Settings.from_env()
    settings.ensure_dirs()
    venv_bin = Path(sys.executable).parent
    # the folder whose pyproject.toml names the code location for dg ([tool.dg]): the
    # package's parent (the dbt project may be elsewhere: FEEDBACK_PLATFORM_DBT_PROJECT_DIR)
    project_root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DAGSTER_HOME": str(ensure_instance_home(settings)),
        "FEEDBACK_PLATFORM_HOME": str(settings.home),
        # the code server and `dbt parse` on load look for dbt on PATH: put this venv first
        "PATH": os.pathsep.join([str(venv_bin), os.environ.get("PATH", "")]),
        "VIRTUAL_ENV": str(venv_bin.parent),
    }
    command = [executable("dg"), "dev", "--target-path", str(project_root), "-p", str(args.port)]

    requests: list[int] = []
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in stops:
        signal.signal(signum, lambda signum, _frame: requests.append(signum))
    print(f"Serving the Dagster UI on http://localhost:{args.port} (Ctrl-C to stop)", flush=True)
    process = subprocess.Popen(command, env=env, cwd=project_root, start_new_session=True)
    group = process.pid

    def signal_group(signum: int) -> bool:
        """Send ``signum`` to dg dev's process group; False once the group is empty."""
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            return False
        return True

    deadline = None  # when the group gets SIGKILL
    killed = False
    while True:
        time.sleep(0.1)
        exited = process.poll() is not None
        if deadline is None and (requests or exited):
            # a stop was asked for, or dg dev ended by itself: the rest of its group goes too
            if requests:
                print("Stopping the Dagster UI ...", flush=True)
            if not signal_group(signal.SIGINT):
                break
            deadline = time.monotonic() + grace_seconds
        elif (
            deadline is not None
            and not killed
            and (len(requests) > 1 or time.monotonic() >= deadline)
        ):
            signal_group(signal.SIGKILL)
            killed = True
            deadline = time.monotonic() + 2  # the kernel's time to remove them
        if exited and not group_has_live_process(group):
            break
        if killed and time.monotonic() >= deadline:
            break  # only unreaped zombies can be left
    for signum in stops:
        signal.signal(signum, signal.SIG_DFL)
    if requests:
        print("The Dagster UI stopped" + (" (killed after the grace period)." if killed else "."))
        return 0
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
