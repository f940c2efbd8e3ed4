"""The platform's local Spark Thrift server: one JVM that owns the Spark metastore and
warehouse of a platform home, reached over Thrift by dbt (``method: thrift``) and by the
platform's own Python (PyHive).

Why a server rather than a Spark session per client: the embedded Derby metastore admits one
JVM at a time, so a dbt ``session`` connection and a Python step could not both see the same
tables, and each session costs its own JVM start (54-68 s each on this project's machines).
One long-lived server holds the metastore lock and every client shares its catalog. A cluster
deployment points the same clients at its own Thrift endpoint instead (README, "Spark").

Started and stopped like the UI: in a session of its own (its process group gets the signal),
its pid in ``spark/thrift-server.pid``, its log in ``spark/thrift-server.log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from feedback_platform.processes import group_has_live_process

SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
#: Authentication the local server and its clients agree on: none, over plain Thrift (the
#: server listens on 127.0.0.1 only). dbt-spark and PyHive both speak it.
AUTH = "NOSASL"


@dataclass(frozen=True)
class ThriftServer:
    folder: Path
    port: int
    host: str = "127.0.0.1"
    master: str = "local[2]"

    @property
    def pid_file(self) -> Path:
        return self.folder / "thrift-server.pid"

    @property
    def log_file(self) -> Path:
        return self.folder / "thrift-server.log"

    def command(self) -> list[str]:
        """``spark-submit`` of the Thrift server, with the warehouse and the Derby metastore
        in ``folder`` (Parquet tables: no Delta or Iceberg jars are needed)."""
        from pyspark.find_spark_home import _find_spark_home

        metastore = f"jdbc:derby:;databaseName={self.folder / 'metastore_db'};create=true"
        hive_conf = {
            "hive.server2.thrift.port": str(self.port),
            "hive.server2.thrift.bind.host": self.host,
            "hive.server2.authentication": AUTH,
        }
        return [
            str(Path(_find_spark_home()) / "bin" / "spark-submit"),
            "--master", self.master,
            "--name", "feedback-platform-thrift-server",
            "--class", SERVER_CLASS,
            "--conf", f"spark.sql.warehouse.dir={self.folder / 'warehouse'}",
            "--conf", f"spark.hadoop.javax.jdo.option.ConnectionURL={metastore}",
            "--conf", "spark.ui.enabled=false",
            # as the dbt profile's Spark targets: UTC, few shuffle partitions for small data,
            # and Parquet timestamps from DuckDB read as Spark's (UTC) timestamp type
            "--conf", "spark.sql.session.timeZone=UTC",
            "--conf", "spark.sql.shuffle.partitions=4",
            "--conf", "spark.sql.parquet.inferTimestampNTZ.enabled=false",
            *[arg for key, value in hive_conf.items() for arg in ("--hiveconf", f"{key}={value}")],
            "spark-internal",
        ]  # fmt: skip

    def is_running(self) -> bool:
        """The recorded server is alive and takes connections."""
        return self._recorded_pid() is not None and self._port_open()

    def start(self, timeout_seconds: float = 240.0) -> bool:
        """Start the server unless it runs already; wait until it takes connections. True when
        this call started it. A server that dies while starting raises, with its log's end."""
        if self.is_running():
            return False
        self.stop()  # a server that lost its port, or a pid file a reboot left behind
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                with_default_stop_signals(self.command()),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.folder,  # derby.log and Spark's scratch files stay in the home
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout_seconds
        while not self._port_open():
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the Spark Thrift server did not start on {self.host}:{self.port};"
                    f" the end of {self.log_file}:\n{self._log_tail()}"
                )
            time.sleep(0.5)
        return True

    def stop(self, grace_seconds: float = 30.0) -> bool:
        """Stop the server's process group: SIGTERM (Spark's shutdown hooks close the metastore
        cleanly), then SIGKILL after the grace period. True when a server was running."""
        pid = self._recorded_pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        _signal_group(pid, signal.SIGKILL)
        return True

    def connect(self):
        """A PyHive connection to the server (DB-API 2.0)."""
        from pyhive import hive

        return hive.connect(host=self.host, port=self.port, auth=AUTH, username="feedback")

    def _recorded_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _group_alive(pid) else None

    def _port_open(self) -> bool:
        with socket.socket() as probe:
            probe.settimeout(1.0)
            return probe.connect_ex((self.host, self.port)) == 0

    def _log_tail(self, lines: int = 30) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


#: Run by the interpreter before it becomes the server (``exec``, the same pid): the stop
#: signals back at their defaults, then the command.
_RESET_AND_EXEC = (
    "import os, signal, sys\n"
    "for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):\n"
    "    signal.signal(signum, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def with_default_stop_signals(command: list[str]) -> list[str]:
    """``command``, started with SIGHUP, SIGINT and SIGTERM at their defaults whatever this
    process ignores. A JVM never handles a stop signal that it inherits ignored (it honours
    ``nohup``), so its shutdown hooks, which close the Derby metastore, never run and ``stop``
    waits out its grace period before SIGKILL. Ignored signals are inherited: a shell script's
    background job ignores SIGINT, a pytest-xdist worker too, and once Dagster has run a job
    in-process it maps SIGTERM to SIGINT's handler, so SIGTERM is ignored from then on (the
    Spark tests' server took the whole 30 s to stop, and logged no shutdown)."""
    return [sys.executable, "-c", _RESET_AND_EXEC, *command]


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _group_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it when this process started it (no zombie)
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a pid reused by another user's process: not ours
        return False
    return group_has_live_process(pid)  # zombies of its killed children are not alive
