"""The scale benchmark still runs end to end (at a tiny N: the figures themselves are measured
by running it, never asserted by a test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def test_the_benchmark_prints_its_summary(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(BENCHMARK), "--events", "2000", "--home", str(tmp_path / "bench")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["events"] == 2000
    assert set(summary) >= {
        "full_s", "baseline_s", "ratio_full_vs_baseline", "incremental_s",
        "ratio_incremental_vs_full", "publication_s", "peak_rss_mb",
    }  # fmt: skip
    ratio = summary["full_s"] / summary["baseline_s"]
    assert summary["ratio_full_vs_baseline"] == pytest.approx(ratio, rel=0.05)
    assert summary["peak_rss_mb"] > 0
    # a row per pipeline step: the datasets in the full run, the publication and the tiny drop,
    # never in a drop's own run
    pairs_rows = [line for line in lines if "preference_pairs" in line]
    assert [row.split(":")[0] for row in pairs_rows] == ["full", "publication", "tiny drop"]
    assert any(line.startswith("incremental 1%: dbt_models") for line in lines)
    # and the dbt models' own times, full and incremental
    assert any(line.split()[:1] == ["fct_generations"] for line in lines)
    # the baseline wrote its pairs and the pipeline its first dataset version
    assert (tmp_path / "bench" / "baseline_pairs.parquet").exists()
    assert (tmp_path / "bench" / "home" / "datasets" / "preference_pairs" / "LATEST").exists()
