"""The text comparisons behind degenerate pairs and the split, evaluated by DuckDB."""

from __future__ import annotations

import duckdb
import pytest

from feedback_platform.datasets.text import has_text, same_text, without_whitespace


def evaluate(sql: str, a: str, b: str = ""):
    """``sql`` over the texts bound to the columns ``a`` and ``b``."""
    with duckdb.connect() as con:
        query = f"select {sql} from (select $1 as a, $2 as b)"
        return con.execute(query, [a, b]).fetchone()[0]


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ("a  b", "a b", True),
        (" a\tb\n", "a b", True),
        ("a\r\nb", "a b", True),
        ("a b", "ab", False),  # equal without whitespace, not once normalized
        ("Paris.", "Paris!", False),
    ],
)
def test_same_text_ignores_only_runs_of_whitespace(left, right, same):
    assert evaluate(same_text("a", "b"), left, right) is same


def test_has_text_and_the_whitespace_free_key():
    assert evaluate(has_text("a"), " \t\n\r\f") is False
    assert evaluate(has_text("a"), " x ") is True
    assert evaluate(without_whitespace("a"), " What is\tDuckDB?\n") == "WhatisDuckDB?"
