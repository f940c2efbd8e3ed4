"""Real public data from ``shared/realdata`` (beside the repository, as in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REALDATA = Path(
    os.environ.get(
        "FEEDBACK_PLATFORM_REALDATA",
        Path(__file__).resolve().parents[2].parent / "shared" / "realdata",
    )
)


def _realdata_file(relative: str) -> Path:
    path = REALDATA / relative
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set FEEDBACK_PLATFORM_REALDATA)")
    return path


@pytest.fixture
def oasst1_path() -> Path:
    return _realdata_file("oasst1_en_validation/oasst1_en_validation.jsonl")


@pytest.fixture
def copilot_arena_path() -> Path:
    return _realdata_file("copilot_arena_examples/copilot_arena_examples_v1.csv")
