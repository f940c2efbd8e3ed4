"""Text comparisons shared by the dataset assets and their checks (the dbt models use the
`normalize_whitespace` macro, which spells the same rule for DuckDB)."""


def normalized(expression: str) -> str:
    """SQL for ``expression`` with runs of whitespace collapsed to one space and ends trimmed."""
    return f"trim(regexp_replace({expression}, '\\s+', ' ', 'g'))"
