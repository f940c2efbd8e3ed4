"""The Dagster instance the platform runs on, kept under the platform home by default."""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as db
from dagster import DagsterInstance
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

from feedback_platform.settings import Settings

#: The first line of every ``dagster.yaml`` the platform writes: a file that starts otherwise is
#: the user's own and is left alone.
WRITTEN_BY = "# Written by feedback-platform."

#: Every asset that opens the DuckDB file is in the ``duckdb`` pool; the file has one writer.
#: The storage is Dagster's SQLite storage in the instance folder, with the event log of
#: ``PooledSqliteEventLogStorage``.
DAGSTER_YAML = """\
{written_by} DuckDB allows one writer per file, so every step that opens
# the warehouse is in the `duckdb` pool and at most one such step runs at a time.
concurrency:
  pools:
    granularity: op
    default_limit: 1
storage:
  custom:
    module: feedback_platform.instance
    class: PlatformSqliteStorage
    config:
      base_dir: {base_dir}
telemetry:
  enabled: false
"""


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, keeping its database engines instead of making one per write.

    The stock storage creates a SQLAlchemy engine, connects and disposes of it for every
    statement: a drop's run writes about 800 events, each through 5-6 of these connections,
    and that took 13 s of a 45 s run on 2 cores before its first step started (the planned
    events of its 248 assets) and about a third of its time in all (cProfile of
    `feedback-platform run`, benchmarks/RESULTS.md). Here each database file (the index and
    one per run) keeps an engine; the least recently used are disposed of beyond a few, so a
    long-lived webserver that reads many runs holds a handful of open files. Its connections
    write with ``synchronous=NORMAL``: the storage keeps SQLite's write-ahead log, in which
    that mode never corrupts the file and loses a commit only to a power cut, not to a killed
    process.
    """

    #: Open engines kept: the index, the run being written and a few being read.
    MAX_ENGINES = 8

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.pop(shard, None) or self._new_engine(shard)
            self._engines[shard] = engine
            while len(self._engines) > self.MAX_ENGINES:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            return engine

    def _new_engine(self, shard: str) -> Engine:
        engine = db.create_engine(
            self.conn_string_for_shard(shard),
            pool_size=1,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        db.event.listen(engine, "connect", _write_with_synchronous_normal)
        return engine

    def dispose(self) -> None:
        super().dispose()
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


def _write_with_synchronous_normal(dbapi_connection, _record) -> None:
    dbapi_connection.execute("pragma synchronous = normal")


class PlatformSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, event log, schedules in the instance folder, laid out as
    the default storage lays them out) with the pooled event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage.dispose()
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, str]
    ) -> PlatformSqliteStorage:
        # the parent's names its own class, so a subclass's config would make the parent
        return cls.from_local(inst_data=inst_data, **config_value)


def ensure_instance_home(settings: Settings) -> Path:
    """Create the instance folder with its ``dagster.yaml``; rewrite a ``dagster.yaml`` the
    platform wrote before (an older platform's, or one of a home that moved), never one the
    user wrote."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # a JSON string is a YAML string, quoted as any path needs
    base_dir = json.dumps(os.fspath(home.resolve()))
    wanted = DAGSTER_YAML.format(written_by=WRITTEN_BY, base_dir=base_dir)
    written = config.read_text() if config.exists() else None
    if written is None or (written.startswith(WRITTEN_BY) and written != wanted):
        staged = config.with_suffix(".yaml.tmp")
        staged.write_text(wanted)
        staged.replace(config)  # a webserver reading it never sees half a file
    return home


def platform_instance(settings: Settings) -> DagsterInstance:
    return DagsterInstance.from_config(str(ensure_instance_home(settings)))
