"""The DuckDB engine: dbt builds the models in the warehouse itself, so there is nothing to
hand over in either direction."""

from __future__ import annotations

from collections.abc import Sequence

from dagster_duckdb import DuckDBResource


class DuckDBEngine:
    dbt_target = "duckdb"

    def publish_sources(self, warehouse: DuckDBResource, tables: Sequence[str]) -> None:
        """The models read the warehouse's tables directly."""

    def fetch_relations(self, warehouse: DuckDBResource, relations: Sequence[str]) -> None:
        """dbt built the relations in the warehouse."""

    def refuse_unported(self, step: str) -> None:
        """Every step runs on DuckDB."""
