"""The core dbt build on Spark against DuckDB, on the demo's data (preview of issue 17).

    python benchmarks/spark.py --home /tmp/spark-bench

Makes the demo in ``--home`` first if it has no warehouse (``feedback-platform demo``), then
times a full ``dbt build`` of the models the core ``dbt_models`` step builds: on DuckDB (a copy
of the demo's warehouse, so the demo stays as it was) and on a local Spark (``local[2]``) whose
source tables are the warehouse's, copied through Parquet. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feedback_platform.assets.transformation import CORE_EXCLUDE  # noqa: E402
from tests.spark.spark_dbt import (  # noqa: E402
    dbt_on_spark,
    environment,
    export_source_tables,
    open_spark,
    register_source_tables,
    run_dbt,
)

CORE_BUILD = ("build", "--full-refresh", "--exclude", *CORE_EXCLUDE.split())


def timed(step) -> float:
    started = time.perf_counter()
    step()
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    home = parser.parse_args().home.resolve()
    warehouse = home / "warehouse.duckdb"
    if not warehouse.exists():
        env = {**os.environ, "FEEDBACK_PLATFORM_HOME": str(home)}
        subprocess.run(["feedback-platform", "demo"], env=env, check=True)

    work = home / "spark-bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    shutil.copyfile(warehouse, work / "warehouse.duckdb")
    with environment(FEEDBACK_PLATFORM_WAREHOUSE_PATH=str(work / "warehouse.duckdb")):
        duckdb_s = timed(lambda: run_dbt(*CORE_BUILD, target="duckdb", target_path=work / "d"))
    export_source_tables(warehouse, work / "sources")

    started = time.perf_counter()
    with open_spark(work / "spark") as spark:
        session_s = round(time.perf_counter() - started, 1)
        register_source_tables(spark, work / "sources")
        events = spark.table("raw.feedback_events").count()
        spark_s = timed(lambda: dbt_on_spark(*CORE_BUILD, target_path=work / "s"))
    print(
        json.dumps(
            {
                "events": events,
                "duckdb_dbt_build_s": duckdb_s,
                "spark_session_start_s": session_s,
                "spark_dbt_build_s": spark_s,
            }
        )
    )


if __name__ == "__main__":
    main()
