"""One settings object, read from the environment, shared by the CLI, Dagster and the tests.

Every path the platform touches hangs off ``FEEDBACK_PLATFORM_HOME`` so that a test (or a
second deployment) gets a complete, isolated platform by pointing one variable elsewhere.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

DEV_USER_SALT = "feedback-platform-dev-salt"

#: Ingestion limits (README, "Settings"): the decompressed bytes of one drop, the bytes of one
#: line (a row as read), and the characters of one text field.
DEFAULT_MAX_DROP_BYTES = 4 * 1024**3
DEFAULT_MAX_LINE_BYTES = 1024**2
DEFAULT_MAX_TEXT_CHARS = 100_000

#: Where free text is scrubbed of personal data (``ingest/scrub.py``): ``store``, before
#: anything is stored, or ``off``.
SCRUB_STORE = "store"
SCRUB_OFF = "off"
SCRUB_MODES = (SCRUB_STORE, SCRUB_OFF)

#: The engine the models and tables live on (``FEEDBACK_PLATFORM_ENGINE``): the embedded
#: DuckDB file, or Spark through the platform's Thrift server (spark/thrift_server.py).
ENGINE_DUCKDB = "duckdb"
ENGINE_SPARK = "spark"
ENGINES = (ENGINE_DUCKDB, ENGINE_SPARK)
DEFAULT_SPARK_THRIFT_PORT = 10000

DEFAULT_PUBLISH_CRON = "0 2 * * *"  # daily at 02:00 UTC
DEFAULT_SENSOR_INTERVAL = 15  # seconds


_dev_salt_warned = False


def _warn_dev_salt_once() -> None:
    """Settings are read by every asset and resource: say it once per process, not each time."""
    global _dev_salt_warned
    if _dev_salt_warned:
        return
    _dev_salt_warned = True
    warnings.warn(
        "FEEDBACK_PLATFORM_USER_SALT is not set; user ids are hashed with the public dev salt,"
        " so anyone can reverse these user keys by hashing candidate ids. Fine for the demo;"
        " set a secret salt in any deployment that sees real users.",
        stacklevel=3,
    )


def sensor_interval_seconds(environ: dict[str, str] | None = None) -> int:
    """How often the drop sensors look for new drops; read when the code location loads,
    since a sensor's interval is part of its definition."""
    env = os.environ if environ is None else environ
    return int(env.get("FEEDBACK_PLATFORM_SENSOR_INTERVAL_SECONDS", DEFAULT_SENSOR_INTERVAL))


def scrub_mode(value: str) -> str:
    """``FEEDBACK_PLATFORM_SCRUB`` checked: a mode this platform has, or a message saying which
    it has (``publish``, scrubbing only what is published, is not built yet)."""
    if value == "publish":
        raise ValueError(
            "FEEDBACK_PLATFORM_SCRUB=publish (scrubbing free text only when datasets are"
            " published) is not supported yet; use store (the default: scrub before storing)"
            " or off"
        )
    if value not in SCRUB_MODES:
        raise ValueError(f"FEEDBACK_PLATFORM_SCRUB={value!r}: expected one of store, off")
    return value


def engine_name(value: str) -> str:
    """``FEEDBACK_PLATFORM_ENGINE`` checked."""
    if value not in ENGINES:
        raise ValueError(f"FEEDBACK_PLATFORM_ENGINE={value!r}: expected one of duckdb, spark")
    return value


def retention_days(value: str) -> float | None:
    """``FEEDBACK_PLATFORM_RETENTION_DAYS`` checked: unset or empty keeps everything, else a
    positive number of days (0 would delete every event as it lands)."""
    if not value.strip():
        return None
    days = float(value)
    if days <= 0:
        raise ValueError(
            f"FEEDBACK_PLATFORM_RETENTION_DAYS={value!r}: expected a number of days > 0"
        )
    return days


@dataclass(frozen=True)
class Settings:
    home: Path
    user_salt: str
    dagster_home: Path
    freshness_warn_hours: float = 12.0
    freshness_fail_hours: float = 24.0
    duckdb_memory_limit: str = "8GB"
    max_drop_bytes: int = DEFAULT_MAX_DROP_BYTES
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    #: When the datasets are published (cron, UTC); ``off`` leaves the schedule stopped.
    publish_cron: str = DEFAULT_PUBLISH_CRON
    #: ``store``: personal data in free text is replaced before it is stored; ``off``: kept.
    scrub: str = SCRUB_STORE
    engine: str = ENGINE_DUCKDB
    #: The local Spark Thrift server's port (on 127.0.0.1).
    spark_thrift_port: int = DEFAULT_SPARK_THRIFT_PORT
    #: Raw events older than this many days (by event time) are deleted on each run; None keeps
    #: them for good.
    retention_days: float | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        salt = env.get("FEEDBACK_PLATFORM_USER_SALT")
        if not salt:
            _warn_dev_salt_once()
            salt = DEV_USER_SALT
        home = Path(env.get("FEEDBACK_PLATFORM_HOME", "./data")).expanduser().resolve()
        dagster_home = env.get("DAGSTER_HOME")
        return cls(
            home=home,
            user_salt=salt,
            # DAGSTER_HOME when set, else an instance folder under the platform home.
            dagster_home=Path(dagster_home).resolve() if dagster_home else home / "dagster",
            freshness_warn_hours=float(env.get("FEEDBACK_PLATFORM_FRESHNESS_WARN_HOURS", 12)),
            freshness_fail_hours=float(env.get("FEEDBACK_PLATFORM_FRESHNESS_FAIL_HOURS", 24)),
            duckdb_memory_limit=env.get("FEEDBACK_PLATFORM_DUCKDB_MEMORY_LIMIT", "8GB"),
            max_drop_bytes=int(env.get("FEEDBACK_PLATFORM_MAX_DROP_BYTES", DEFAULT_MAX_DROP_BYTES)),
            max_line_bytes=int(env.get("FEEDBACK_PLATFORM_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES)),
            max_text_chars=int(env.get("FEEDBACK_PLATFORM_MAX_TEXT_CHARS", DEFAULT_MAX_TEXT_CHARS)),
            publish_cron=env.get("FEEDBACK_PLATFORM_PUBLISH_CRON", DEFAULT_PUBLISH_CRON),
            scrub=scrub_mode(env.get("FEEDBACK_PLATFORM_SCRUB", SCRUB_STORE)),
            engine=engine_name(env.get("FEEDBACK_PLATFORM_ENGINE", ENGINE_DUCKDB)),
            spark_thrift_port=int(
                env.get("FEEDBACK_PLATFORM_SPARK_THRIFT_PORT", DEFAULT_SPARK_THRIFT_PORT)
            ),
            retention_days=retention_days(env.get("FEEDBACK_PLATFORM_RETENTION_DAYS", "")),
        )

    @cached_property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @cached_property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @cached_property
    def events_landing_dir(self) -> Path:
        return self.landing_dir / "events"

    @cached_property
    def reviews_landing_dir(self) -> Path:
        return self.landing_dir / "reviews"

    @cached_property
    def privacy_landing_dir(self) -> Path:
        return self.landing_dir / "privacy"

    @cached_property
    def anchors_landing_dir(self) -> Path:
        return self.landing_dir / "anchors"

    @cached_property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @cached_property
    def review_dir(self) -> Path:
        return self.home / "review"

    @cached_property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @cached_property
    def spark_dir(self) -> Path:
        """The Spark engine's warehouse, metastore and Thrift server files."""
        return self.home / "spark"

    @cached_property
    def dbt_target_dir(self) -> Path:
        """dbt's artifacts for this home, kept from one run to the next: dbt reuses the parse
        it saved there (its profile names this home's warehouse, so a parse made for another
        home or at packaging time does not match)."""
        return self.home / "dbt" / "target"

    def ensure_dirs(self) -> None:
        for path in (
            self.events_landing_dir,
            self.reviews_landing_dir,
            self.privacy_landing_dir,
            self.anchors_landing_dir,
            self.datasets_dir,
            self.review_dir,
            self.reports_dir,
        ):
            path.mkdir(parents=True, exist_ok=True)
