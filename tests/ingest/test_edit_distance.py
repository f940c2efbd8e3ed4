"""The dbt edit distance (``dbt_project/macros/cross_database.sql``) is bounded: exact under
``edit_distance_max_chars``, linear above it, so no edit can make ``fct_generations`` quadratic.
The DuckDB variant is rendered from the macro file and run on DuckDB."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import jinja2
import pytest
import yaml

MACROS = Path(__file__).parents[2] / "dbt_project" / "macros" / "cross_database.sql"
PROJECT = Path(__file__).parents[2] / "dbt_project" / "dbt_project.yml"
MAX_CHARS = yaml.safe_load(PROJECT.read_text())["vars"]["edit_distance_max_chars"]


def edit_distance_sql(variant: str = "duckdb") -> str:
    variables = {"edit_distance_max_chars": MAX_CHARS}
    module = (
        jinja2.Environment(extensions=["jinja2.ext.do"])  # dbt's environment has `do` too
        .from_string(MACROS.read_text())
        .make_module({"var": variables.__getitem__})
    )
    return str(getattr(module, f"{variant}__edit_distance")("$left", "$right"))


def distance(left: str, right: str, variant: str = "duckdb") -> int:
    with duckdb.connect() as con:
        sql = f"select {edit_distance_sql(variant)}"
        return con.execute(sql, {"left": left, "right": right}).fetchone()[0]


def test_the_bound_has_a_documented_default():
    assert MAX_CHARS == 2000
    assert "edit_distance_max_chars" in PROJECT.read_text()


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("kitten", "sitting"),
        ("", "abc"),
        ("same", "same"),
        ("a" * 1500 + "xyz" + "b" * 400, "a" * 1500 + "q" + "b" * 400),
        ("\u00e9t\u00e9 " * 300, "\u00e9t\u00e9s " * 300),
    ],
)
@pytest.mark.parametrize("variant", ["duckdb", "default"])
def test_under_the_bound_the_distance_is_exact(left, right, variant):
    with duckdb.connect() as con:
        exact = con.execute("select levenshtein(?, ?)", [left, right]).fetchone()[0]
    assert distance(left, right, variant) == exact


def test_a_huge_edit_takes_linear_time():
    """One edit of 120,000 characters made fct_generations take 102.6 s instead of 0.48 s."""
    output = "An answer. " * 11_000  # 121,000 characters
    edited = "A rewrite! " * 11_000
    started = time.perf_counter()
    result = distance(output, edited)
    assert time.perf_counter() - started < 5
    # all but the common prefix "A" and suffix " " differs: the longer middle's length
    assert result == len(output) - 2


def test_a_small_edit_in_a_huge_text_is_still_exact():
    output = "word " * 30_000
    edited = output[:70_000] + "typo" + output[70_004:]
    started = time.perf_counter()
    assert distance(output, edited) == 4
    assert time.perf_counter() - started < 5
