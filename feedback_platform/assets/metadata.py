"""Asset metadata shown in the Dagster UI."""

from __future__ import annotations

#: Longest text a metadata table cell shows before it is cut.
CELL_CHARACTERS = 80


def md_table(headers: list[str], rows: list[tuple]) -> str:
    """A markdown table; long texts are cut, newlines flattened and pipes escaped."""

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        if len(text) > CELL_CHARACTERS:
            text = text[: CELL_CHARACTERS - 3] + "..."
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)
