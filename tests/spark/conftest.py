"""One local Spark for the Spark tests: dbt's `spark` target (dbt_project/profiles.yml, method
`session`) in this process, so dbt and the tests share one SparkSession, one JVM and its Derby
metastore, which admits one JVM at a time. Starting it costs most of a minute; it is started
once per test process."""

from __future__ import annotations

from collections.abc import Iterator

import pyspark  # the `spark` extra, which `make test` installs: no skip hides a missing one
import pytest

from tests.spark.spark_dbt import open_spark


@pytest.fixture(scope="session")
def spark(tmp_path_factory) -> Iterator[pyspark.sql.SparkSession]:
    """The session dbt opens for the `spark` target, its warehouse and metastore in a temporary
    directory."""
    with open_spark(tmp_path_factory.mktemp("spark")) as session:
        yield session
