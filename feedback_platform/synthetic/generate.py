"""Realistic synthetic event drops for demos, tests and benchmarks.

It simulates an LLM assistant: users in a few segments open sessions on some days, ask
questions, and react the way real users do. Implicit signals (views, copies, edits,
regenerations) are common; explicit feedback (thumbs, ratings, comments, corrections, choices)
is rare. One model version is visibly worse: more edits, regenerations and thumbs down. Drops
come one file per day in every supported format, with a handful of malformed lines and a late
file holding events that belong to earlier days. Output is byte-for-byte deterministic for the
same arguments.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from feedback_platform import contract

DEFAULT_START = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday

#: segment -> (share of users, locale)
SEGMENTS = {
    "free/en": (0.40, "en-US"),
    "pro/en": (0.25, "en-US"),
    "pro/de": (0.15, "de-DE"),
    "enterprise/en": (0.15, "en-GB"),
    "edu/fr": (0.05, "fr-FR"),
}


@dataclass(frozen=True)
class ModelBehaviour:
    """How users react to a model's outputs (probabilities per generation)."""

    regenerate: float
    edit: float
    copy: float
    thumbs_up: float
    thumbs_down: float
    task_complete: float


MODELS = {
    "assistant-2026-08": ModelBehaviour(0.10, 0.10, 0.35, 0.025, 0.010, 0.55),
    "assistant-2026-09": ModelBehaviour(0.07, 0.07, 0.40, 0.030, 0.006, 0.60),
    "assistant-2026-10-exp": ModelBehaviour(0.30, 0.25, 0.22, 0.012, 0.050, 0.35),
}

TOPICS = [
    "DuckDB window functions",
    "a Dagster sensor",
    "dbt incremental models",
    "a polite reply to a customer",
    "the causes of the French revolution",
    "a Python retry decorator",
    "a weekly meal plan",
    "photosynthesis for a ten-year-old",
    "a SQL query for monthly churn",
    "a cover letter for a data engineer",
    "the difference between TCP and UDP",
    "a haiku about autumn",
]
PROMPTS = [
    "Explain {topic} in three sentences.",
    "Write a short example of {topic}.",
    "What are common mistakes with {topic}?",
    "Summarize {topic} for a busy manager.",
    "Give me a checklist for {topic}.",
]
OPENINGS = ["Sure.", "Here is a concise answer.", "Good question.", "In short:"]
BODIES = [
    "The key idea behind {topic} is to keep each step small and observable.",
    "Start from the data you have, then make {topic} explicit and testable.",
    "Most problems with {topic} come from hidden state and unclear ownership.",
    "A good rule of thumb for {topic} is to measure before you optimise.",
]
CLOSINGS = ["Let me know if you want more detail.", "Hope this helps!", ""]
COMMENTS = [
    "Too long, I only needed the first part.",
    "This is wrong about the details.",
    "Great, exactly what I needed.",
    "Please use simpler words.",
]
APPS = ["web", "web", "ios", "android"]


@dataclass
class _Drop:
    """Events of one simulated day, collected before they are written."""

    events: list[dict] = field(default_factory=list)


class _Simulator:
    def __init__(
        self, users: int, days: int, seed: int, start: datetime, first_user: int = 0
    ) -> None:
        self.rng = random.Random(seed)
        self.users = users
        self.first_user = first_user
        self.days = days
        self.start = start
        self.seed = seed
        self.counter = 0
        self.outputs: dict[str, str] = {}

    # identifiers -------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.seed}-{self.counter:08x}"

    # texts -------------------------------------------------------------------------------

    def _prompt(self) -> tuple[str, str]:
        topic = self.rng.choice(TOPICS)
        return topic, self.rng.choice(PROMPTS).format(topic=topic)

    def _output(self, topic: str) -> str:
        parts = [
            self.rng.choice(OPENINGS),
            self.rng.choice(BODIES).format(topic=topic),
            self.rng.choice(BODIES).format(topic=topic),
            self.rng.choice(CLOSINGS),
        ]
        return " ".join(part for part in parts if part)

    def _edited(self, output: str) -> str:
        choice = self.rng.random()
        if choice < 0.4:
            return output.replace("small", "tiny", 1).replace("data", "facts", 1) + " Thanks."
        if choice < 0.7:
            return output + " Add a concrete example before shipping it."
        return output.split(". ")[0] + "."

    # the simulation ----------------------------------------------------------------------

    def run(self) -> list[_Drop]:
        drops = [_Drop() for _ in range(self.days)]
        for user_index in range(self.users):
            self._simulate_user(user_index, drops)
        for drop in drops:
            drop.events.sort(key=lambda event: (event["occurred_at"], event["event_id"]))
        return drops

    def _simulate_user(self, user_index: int, drops: list[_Drop]) -> None:
        segment = self._pick_segment()
        user = {
            "user_id": f"user-{self.first_user + user_index:05d}",
            "user_segment": segment,
            "locale": SEGMENTS[segment][1],
            "app": self.rng.choice(APPS),
        }
        activity = self.rng.uniform(0.2, 0.8)
        for day in range(self.days):
            if self.rng.random() > activity:
                continue
            clock = self.start + timedelta(days=day, hours=self.rng.uniform(7, 20))
            for _ in range(self.rng.choice([1, 1, 1, 2])):
                clock = self._simulate_session(user, clock, drops[day].events)
                clock += timedelta(hours=self.rng.uniform(1.5, 4))

    def _pick_segment(self) -> str:
        roll = self.rng.random()
        for segment, (share, _) in SEGMENTS.items():
            roll -= share
            if roll < 0:
                return segment
        return next(iter(SEGMENTS))

    def _simulate_session(self, user: dict, clock: datetime, out: list[dict]) -> datetime:
        model = self.rng.choices(list(MODELS), weights=[0.4, 0.4, 0.2])[0]
        behaviour = MODELS[model]
        session = self._next_id("sess") if self.rng.random() < 0.9 else None
        context = {**user, "session_id": session, "model_version": model}
        completed = False
        for _ in range(self.rng.randint(1, 5)):
            clock, completed_turn = self._simulate_turn(context, behaviour, clock, out)
            completed = completed or completed_turn
            # mostly short pauses; sometimes a coffee break that may end the session
            gap = (
                self.rng.uniform(25, 40) * 60
                if self.rng.random() < 0.05
                else self.rng.uniform(20, 240)
            )
            clock += timedelta(seconds=gap)
        if not completed and self.rng.random() < behaviour.task_complete:
            out.append(self._event("task_complete", context, clock))
        return clock

    def _simulate_turn(
        self, context: dict, behaviour: ModelBehaviour, clock: datetime, out: list[dict]
    ) -> tuple[datetime, bool]:
        topic, prompt = self._prompt()
        if self.rng.random() < 0.03:
            return self._simulate_choice(context, topic, prompt, clock, out)
        generation, clock = self._generate(context, topic, prompt, None, clock, out)
        regenerations = 0
        while self.rng.random() < behaviour.regenerate * (1.6 if regenerations else 1) and (
            regenerations < 5
        ):
            clock = self._emit(out, "regenerate", context, clock, (3, 40), generation_id=generation)
            regenerations += 1
            generation, clock = self._generate(context, topic, prompt, generation, clock, out)
        return self._react(context, behaviour, generation, topic, clock, out)

    def _simulate_choice(
        self, context: dict, topic: str, prompt: str, clock: datetime, out: list[dict]
    ) -> tuple[datetime, bool]:
        first, clock = self._generate(context, topic, prompt, None, clock, out)
        second, clock = self._generate(context, topic, prompt, None, clock, out)
        chosen, rejected = (first, second) if self.rng.random() < 0.5 else (second, first)
        clock = self._emit(
            out,
            "prefer",
            context,
            clock,
            (5, 60),
            generation_id=chosen,
            other_generation_id=rejected,
        )
        return clock, False

    def _generate(
        self,
        context: dict,
        topic: str,
        prompt: str,
        parent: str | None,
        clock: datetime,
        out: list[dict],
    ) -> tuple[str, datetime]:
        generation = self._next_id("gen")
        clock = self._tick(clock, 1, 8)
        fields = {
            "generation_id": generation,
            "model_version": context["model_version"],
            "prompt": prompt,
            "output": self._output(topic),
        }
        if parent:
            fields["parent_generation_id"] = parent
        if self.rng.random() < 0.2:
            fields["properties"] = {"latency_ms": self.rng.randint(300, 4000)}
        out.append(self._event("generation", context, clock, **fields))
        self.outputs[generation] = fields["output"]
        return generation, clock

    def _react(
        self,
        context: dict,
        behaviour: ModelBehaviour,
        generation: str,
        topic: str,
        clock: datetime,
        out: list[dict],
    ) -> tuple[datetime, bool]:
        rng = self.rng
        completed = False
        if rng.random() < 0.8:
            clock = self._emit(
                out,
                "view",
                context,
                clock,
                (2, 90),
                generation_id=generation,
                dwell_ms=int(rng.lognormvariate(9, 0.8)),
            )
        if rng.random() < behaviour.edit:
            output = self.outputs[generation]
            for _ in range(rng.choice([1, 1, 2])):
                clock = self._tick(clock, 10, 120)
                text = output + "  " if rng.random() < 0.08 else self._edited(output)
                out.append(
                    self._event("edit", context, clock, generation_id=generation, edited_text=text)
                )
        if rng.random() < behaviour.copy:
            clock = self._emit(out, "copy", context, clock, (2, 30), generation_id=generation)
            completed = True
        if rng.random() < 0.03:
            clock = self._emit(out, "share", context, clock, (2, 30), generation_id=generation)
            completed = True
        clock = self._explicit(context, behaviour, generation, clock, out)
        return clock, completed

    def _explicit(
        self,
        context: dict,
        behaviour: ModelBehaviour,
        generation: str,
        clock: datetime,
        out: list[dict],
    ) -> datetime:
        """Explicit feedback is rare, and thumbs down more likely on the worse model."""
        rng = self.rng
        if rng.random() < behaviour.thumbs_up:
            clock = self._emit(out, "thumbs_up", context, clock, (1, 20), generation_id=generation)
        elif rng.random() < behaviour.thumbs_down:
            clock = self._emit(
                out, "thumbs_down", context, clock, (1, 20), generation_id=generation
            )
            if rng.random() < 0.3:
                clock = self._emit(
                    out,
                    "comment",
                    context,
                    clock,
                    (5, 60),
                    generation_id=generation,
                    comment=rng.choice(COMMENTS[:2] + COMMENTS[3:]),
                )
        if rng.random() < 0.008:
            clock = self._emit(
                out,
                "rating",
                context,
                clock,
                (2, 20),
                generation_id=generation,
                rating=rng.randint(1, 5),
            )
        if rng.random() < 0.004:
            clock = self._emit(
                out,
                "comment",
                context,
                clock,
                (5, 60),
                generation_id=generation,
                comment=rng.choice(COMMENTS),
            )
        if rng.random() < 0.004:
            clock = self._emit(
                out,
                "correction",
                context,
                clock,
                (20, 200),
                generation_id=generation,
                edited_text=self._edited(self.outputs[generation]),
            )
        return clock

    def _emit(
        self,
        out: list[dict],
        event_type: str,
        context: dict,
        clock: datetime,
        delay: tuple[float, float],
        **fields,
    ) -> datetime:
        """Append an event ``delay`` seconds (uniform in the range) after ``clock``."""
        clock = self._tick(clock, *delay)
        out.append(self._event(event_type, context, clock, **fields))
        return clock

    def _tick(self, clock: datetime, low: float, high: float) -> datetime:
        return clock + timedelta(seconds=self.rng.uniform(low, high))

    def _event(self, event_type: str, context: dict, clock: datetime, **fields) -> dict:
        event = {
            "event_id": self._next_id("evt"),
            "event_type": event_type,
            "occurred_at": clock.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{clock.microsecond // 1000:03d}Z",
            "user_id": context["user_id"],
            "user_segment": context["user_segment"],
            "app": context["app"],
            "locale": context["locale"],
            "schema_version": "1",
        }
        if context["session_id"]:
            event["session_id"] = context["session_id"]
        event.update(fields)
        return event


def generate_drops(
    out_dir: Path,
    *,
    users: int = 200,
    days: int = 14,
    seed: int = 7,
    start: datetime | None = None,
) -> list[Path]:
    """Write synthetic event drops into ``out_dir``; return the files in drop order. File names
    carry the date and the seed (``events-2026-10-05-seed7.jsonl``), so drops generated with
    another seed never take the name of a demo drop."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    simulator = _Simulator(users, days, seed, start or DEFAULT_START)
    drops = simulator.run()
    late = _hold_back_late_events(drops, random.Random(seed + 1))
    files = []
    for day, drop in enumerate(drops):
        date = (simulator.start + timedelta(days=day)).strftime("%Y-%m-%d")
        lines = [json.dumps(event, separators=(",", ":")) for event in drop.events]
        stem = f"events-{date}-seed{seed}"
        files.append(_write_day(out_dir, stem, day, drop.events, _with_malformed(lines, day)))
    if late:
        last_date = (simulator.start + timedelta(days=days - 1)).strftime("%Y-%m-%d")
        lines = [json.dumps(event, separators=(",", ":")) for event in late]
        files.append(_write_text(out_dir / f"events-late-{last_date}-seed{seed}.jsonl", lines))
    return files


def write_jsonl_events(
    out_dir: Path,
    events: int,
    *,
    seed: int = 7,
    days: int = 14,
    start: datetime | None = None,
    name: str = "events",
    users_per_drop: int = 5_000,
) -> list[Path]:
    """Exactly ``events`` events as JSONL drops (``<name>-0001.jsonl``, ...), for benchmarks.

    ``users_per_drop`` users are simulated at a time (5,000 give about 370,000 events, a few
    hundred MB in memory) and written as one drop, so memory stays bounded however many events
    are asked for; the last drop is cut at the count. Every drop has its own users and seed, so
    ids never collide; there are no malformed lines.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    written = 0
    while written < events:
        index = len(files)
        simulator = _Simulator(
            users_per_drop,
            days,
            seed * 1_000 + index,
            start or DEFAULT_START,
            first_user=index * users_per_drop,
        )
        day_events = [event for drop in simulator.run() for event in drop.events]
        day_events = day_events[: events - written]
        lines = [json.dumps(event, separators=(",", ":")) for event in day_events]
        files.append(_write_text(out_dir / f"{name}-{index + 1:04d}.jsonl", lines))
        written += len(lines)
    return files


def _hold_back_late_events(drops: list[_Drop], rng: random.Random) -> list[dict]:
    """Move ~1% of the events of the earlier days to a late drop (they arrive days later)."""
    late = []
    for drop in drops[:-1]:
        keep = []
        for event in drop.events:
            (late if event["event_type"] != "generation" and rng.random() < 0.01 else keep).append(
                event
            )
        drop.events = keep
    return late


#: Contract violations planted in the JSONL days: (day index, line as written).
_MALFORMED = [
    (0, '{"event_id":"bad-truncated","event_type":"copy","occurred_at":"2026-10-0'),
    (
        0,
        '{"event_id":"bad-unknown","event_type":"emoji_reaction","occurred_at":'
        '"2026-10-05T10:00:00Z","user_id":"user-00001","generation_id":"gen-x"}',
    ),
    (
        4,
        '{"event_id":"bad-missing","event_type":"generation","occurred_at":'
        '"2026-10-09T10:00:00Z","user_id":"user-00002","generation_id":"gen-y",'
        '"model_version":"assistant-2026-09","prompt":"Hi"}',
    ),
    (
        5,
        '{"event_id":"bad-rating","event_type":"rating","occurred_at":"2026-10-10T10:00:00Z",'
        '"user_id":"user-00003","generation_id":"gen-z","rating":7}',
    ),
    (
        6,
        '{"event_id":"bad-naive-time","event_type":"copy","occurred_at":"2026-10-11T10:00:00",'
        '"user_id":"user-00004","generation_id":"gen-w"}',
    ),
]


def _with_malformed(lines: list[str], day: int) -> list[str]:
    planted = [line for planted_day, line in _MALFORMED if planted_day == day]
    if not planted or not lines:
        return lines
    middle = len(lines) // 2
    return lines[:middle] + planted + lines[middle:]


def _write_day(out_dir: Path, stem: str, day: int, events: list[dict], lines: list[str]) -> Path:
    """Most days are JSONL; day 2 is gzip, day 3 Parquet, day 8 CSV (if the run is that long)."""
    if day == 2:
        return _write_gzip(out_dir / f"{stem}.jsonl.gz", lines)
    if day == 3:
        return _write_parquet(out_dir / f"{stem}.parquet", events)
    if day == 8:
        return _write_csv(out_dir / f"{stem}.csv", events)
    return _write_text(out_dir / f"{stem}.jsonl", lines)


def _refuse_overwrite(path: Path) -> None:
    if path.exists():
        raise FileExistsError(f"{path} exists; generate into an empty folder")


def _write_text(path: Path, lines: list[str]) -> Path:
    _refuse_overwrite(path)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _write_gzip(path: Path, lines: list[str]) -> Path:
    _refuse_overwrite(path)
    payload = "".join(line + "\n" for line in lines).encode()
    # mtime=0 keeps the archive byte-for-byte deterministic
    path.write_bytes(gzip.compress(payload, mtime=0))
    return path


_COLUMNS = contract.FIELDS


def _flat(event: dict, column: str):
    value = event.get(column)
    if column == "properties" and value is not None:
        return json.dumps(value, separators=(",", ":"))
    return value


def _write_parquet(path: Path, events: list[dict]) -> Path:
    _refuse_overwrite(path)
    columns = {column: [_flat(event, column) for event in events] for column in _COLUMNS}
    schema = pa.schema(
        [(c, pa.int64() if c in ("rating", "dwell_ms") else pa.string()) for c in _COLUMNS]
    )
    pq.write_table(pa.table(columns, schema=schema), path)
    return path


def _write_csv(path: Path, events: list[dict]) -> Path:
    """CSV has no types: every cell is text; every other event uses epoch milliseconds."""
    _refuse_overwrite(path)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        for index, event in enumerate(events):
            row = {column: _flat(event, column) for column in _COLUMNS}
            if index % 2:
                when = datetime.strptime(row["occurred_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
                row["occurred_at"] = int(when.replace(tzinfo=UTC).timestamp() * 1000)
            writer.writerow(["" if row[c] is None else row[c] for c in _COLUMNS])
    return path
