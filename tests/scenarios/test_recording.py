"""Recordings: written and read back, refused when they are not one, replayed at their pace."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.events import RecordedEvent, checksum
from obs_tests.scenarios.recording import FORMAT, Recording, Replayer, load_recording, save_recording


def _event(name: str, cycle: int, at: float) -> RecordedEvent:
    data = {"cycle": cycle}
    return RecordedEvent(name, "run-1", cycle, cycle, at, data, checksum(data), at)


EVENTS = [
    _event("BotMonitoringCycleStarted", 1, 100.0),
    _event("MarketPriceFetched", 1, 100.0),
    _event("BotMonitoringCycleStarted", 2, 100.5),
]


class FakeBus:
    """Records what a replayer publishes (the replay logic without a server; the bus itself is tested live)."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, bytes]]] = []

    def publish_many(self, messages: list[tuple[str, bytes]]) -> None:
        self.batches.append(messages)


def test_a_recording_round_trips(tmp_path: Path) -> None:
    path = save_recording(tmp_path / "deep" / "run.json", "Flash Crash", "run-1", EVENTS)
    recording = load_recording(path)
    assert recording.scenario == "Flash Crash" and recording.run == "run-1"
    assert list(recording.events) == EVENTS and recording.duration == 0.5
    assert orjson.loads(path.read_bytes())["format"] == FORMAT


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not a JSON recording"),
        (b'{"format": "other", "events": []}', "not an obs-tests recording"),
        (orjson.dumps({"format": FORMAT, "events": [{"seq": 1}]}), r"events\[0\]: not an event"),
    ],
)
def test_what_is_not_a_recording_is_refused_naming_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ScenarioInvalid, match=f"{path}: {message}"):
        load_recording(path)
    with pytest.raises(ScenarioInvalid, match="cannot read the recording"):
        load_recording(tmp_path / "absent.json")


def test_a_replay_publishes_every_event_on_its_subject_in_order_batching_simultaneous_ones() -> None:
    bus = FakeBus()
    recording = Recording(Path("r.json"), "x", "run-1", tuple(EVENTS))
    replayer = Replayer(bus, recording, speed_multiplier=100.0)  # type: ignore[arg-type]
    assert replayer.run(threading.Event()) == 3
    assert [[subject for subject, _ in batch] for batch in bus.batches] == [
        ["bot.events.BotMonitoringCycleStarted", "bot.events.MarketPriceFetched"],
        ["bot.events.BotMonitoringCycleStarted"],
    ]
    body = orjson.loads(bus.batches[0][0][1])
    assert body["run"] == "run-1" and body["checksum"] == EVENTS[0].checksum and "received_at" not in body


def test_a_stopped_replay_publishes_nothing_more_and_a_bad_speed_is_refused() -> None:
    stop = threading.Event()
    stop.set()
    bus = FakeBus()
    recording = Recording(Path("r.json"), "x", "run-1", tuple(EVENTS))
    assert Replayer(bus, recording).run(stop) == 0  # type: ignore[arg-type]
    with pytest.raises(ScenarioInvalid, match="speed_multiplier must be positive"):
        Replayer(bus, recording, 0)  # type: ignore[arg-type]
