"""Where the dbt models run (``FEEDBACK_PLATFORM_ENGINE``), as the platform's Python sees it.

The platform's own tables (raw drops and their ledgers, the review loop's tables) live in the
DuckDB warehouse on either engine: ingestion, review and erasure are single-writer work on
small rows, done in one DuckDB transaction each. The engine runs the dbt models. On DuckDB it
is the warehouse itself. On Spark the dbt step first hands the engine the current rows of every
dbt source (``publish_sources``), dbt builds the models on Spark, and the step then brings the
relations it built back into the warehouse (``fetch_relations``), so every Python step after it
(review export, dataset publication, reports) reads the engine's results through the one code
path it has, and the datasets it writes are the engine's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dagster_duckdb import DuckDBResource

from feedback_platform.settings import ENGINE_SPARK, Settings


class Engine(Protocol):
    #: The dbt profile's target (dbt_project/profiles.yml) the models are built on.
    dbt_target: str

    def publish_sources(self, warehouse: DuckDBResource, tables: Sequence[str]) -> None:
        """Make the warehouse's current rows of ``tables`` (schema.name, the dbt sources) the
        rows the engine's models read."""

    def fetch_relations(self, warehouse: DuckDBResource, relations: Sequence[str]) -> None:
        """Copy the engine's ``relations`` (schema.name, as dbt built them) into the
        warehouse, replacing each, for the Python steps that read them."""

    def refuse_unported(self, step: str) -> None:
        """Raise when ``step`` cannot run correctly on this engine yet."""


def engine_for(settings: Settings) -> Engine:
    """The engine of ``settings.engine``."""
    if settings.engine == ENGINE_SPARK:
        from feedback_platform.engine.spark import SparkEngine

        return SparkEngine(settings)
    from feedback_platform.engine.duckdb import DuckDBEngine

    return DuckDBEngine()
