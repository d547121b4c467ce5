"""Recordings of a run's bus events, and their replay.

A recording is a JSON file::

    {"format": "obs-tests-recording/1", "scenario": "Flash Crash Recovery Test", "run": "flash-crash-1a2b",
     "recorded_at": "2026-12-03T11:00:00+00:00", "events": [{"event": ..., "seq": ..., "received_at": ...}, ...]}

:class:`Replayer` publishes a recording's events again on the bus, on their own subjects, keeping their
spacing divided by ``speed_multiplier``; a scenario with ``setup.replay`` records them as it would a live
run (they keep their run id, so nothing live mixes in) and judges them with the same assertions.

Example::

    save_recording(Path("recordings/x.json"), "x", "run-1", log.events)
    Replayer(bus, load_recording(Path("recordings/x.json")), speed_multiplier=10).run(stop)
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from obs_tests.clients.event_bus import EventBus
from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.events import EVENT_SUBJECT_PREFIX, RecordedEvent

__all__ = ["FORMAT", "Recording", "Replayer", "load_recording", "save_recording"]

FORMAT = "obs-tests-recording/1"


@dataclass(frozen=True)
class Recording:
    """A loaded recording."""

    path: Path
    scenario: str
    run: str
    events: tuple[RecordedEvent, ...]

    @property
    def duration(self) -> float:
        """Seconds from the first event to the last, as recorded."""
        if not self.events:
            return 0.0
        return self.events[-1].received_at - self.events[0].received_at


def save_recording(path: Path, scenario: str, run: str, events: Sequence[RecordedEvent]) -> Path:
    """Write ``events`` to ``path`` (parents created); the path written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": FORMAT,
        "scenario": scenario,
        "run": run,
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "events": [e.to_json() for e in events],
    }
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return path


def load_recording(path: Path) -> Recording:
    """Read a recording; :class:`ScenarioInvalid` (exit 2) naming the file and what is wrong."""
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ScenarioInvalid(
            f"{path}: cannot read the recording ({exc.strerror}) — record one with setup.recording"
        ) from None
    except orjson.JSONDecodeError as exc:
        raise ScenarioInvalid(f"{path}: not a JSON recording ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("events"), list):
        raise ScenarioInvalid(f"{path}: not an obs-tests recording (expected format {FORMAT!r} and an events list)")
    events = []
    for index, entry in enumerate(doc["events"]):
        try:
            if not isinstance(entry, dict):
                raise ValueError("not a mapping")
            events.append(RecordedEvent.from_json(entry))
        except ValueError as exc:
            raise ScenarioInvalid(f"{path}: events[{index}]: {exc}") from None
    return Recording(path, str(doc.get("scenario", "")), str(doc.get("run", "")), tuple(events))


class Replayer:
    """Publishes a recording's events on the bus at ``speed_multiplier`` times their recorded pace."""

    def __init__(self, bus: EventBus, recording: Recording, speed_multiplier: float = 1.0) -> None:
        if speed_multiplier <= 0:
            raise ScenarioInvalid(f"{recording.path}: speed_multiplier must be positive, got {speed_multiplier}")
        self.bus = bus
        self.recording = recording
        self.speed = speed_multiplier
        self.published = 0

    def run(self, stop: threading.Event) -> int:
        """Publish every event at its (scaled) offset from the first, unless ``stop`` is set first; the number
        published. Events due at the same moment go out together."""
        events = self.recording.events
        if not events:
            return 0
        first = events[0].received_at
        started = time.monotonic()
        index = 0
        while index < len(events) and not stop.is_set():
            due = (events[index].received_at - first) / self.speed
            if stop.wait(max(0.0, due - (time.monotonic() - started))):
                break
            batch = []
            while index < len(events) and (events[index].received_at - first) / self.speed <= due:
                event = events[index]
                body = {k: v for k, v in event.to_json().items() if k != "received_at"}
                batch.append((f"{EVENT_SUBJECT_PREFIX}.{event.name}", orjson.dumps(body)))
                index += 1
            self.bus.publish_many(batch)
            self.published += len(batch)
        return self.published
