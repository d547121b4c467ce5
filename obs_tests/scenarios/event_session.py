"""Sets a trading-bot scenario's world up for a run and takes it down again (:class:`EventSession`).

A session subscribes to the bot's events on the stack's NATS *before* anything moves (so no event of the
run is missed), restarts the exchange's candle feed (``setup.exchange``), resets the bot with a fresh run
id (``setup.bot``; its ``poll_interval`` multiplied by the time scale like every other duration of the
bot's world) — or, with ``setup.replay``, idles the bot and re-publishes a recording instead. On close,
on every path, it stops the replay, unsubscribes, puts the bot and the feed back to their defaults and
writes the recording (``setup.recording``).

The components it talks to are the demo's names (``nats``, ``exchange``, ``bot``): a system that speaks
this language offers the same admin APIs (see docs/scenarios.md#the-trading-bot-language).

Example::

    with EventSession(setup, stack, scenario="flash crash", stop=stop) as session:
        session.log.cycles()   # grows as the bot runs
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from obs_tests.clients.event_bus import EventBus
from obs_tests.clients.services import ServiceClient
from obs_tests.errors import ObsTestsError
from obs_tests.scenarios.event_setup import BotSetup, EventSetup, output_path
from obs_tests.scenarios.events import EVENT_SUBJECT_PREFIX, BotWorld, EventLog, RecordedEvent, exchange_summary
from obs_tests.scenarios.recording import Recording, Replayer, load_recording, save_recording
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.stack.protocol import Stack

__all__ = ["BOT", "EXCHANGE", "NATS", "EventSession", "finish_session", "open_session"]

NATS, EXCHANGE, BOT = "nats", "exchange", "bot"


class EventSession:
    """The bot's world for one run (see the module docstring)."""

    def __init__(
        self, setup: EventSetup, stack: Stack, *, scenario: str, stop: threading.Event, output_dir: Path = Path()
    ) -> None:
        self.setup = setup
        self.output_dir = output_dir
        self.stack = stack
        self.scenario = scenario
        self.stop = stop
        self.recording: Recording | None = None
        replay = setup.replay_path()
        if replay is not None:
            self.recording = load_recording(replay)
        self.run_id = self.recording.run if self.recording else f"{_slug(scenario)}-{uuid.uuid4().hex[:8]}"
        self.log = EventLog(run=self.run_id)
        self.recorded_to: Path | None = None
        self.replayed = 0
        self._bus: EventBus | None = None
        self.on_event: Callable[[RecordedEvent], None] | None = None
        self._replay_thread: threading.Thread | None = None
        self._exchange = ServiceClient(stack.url(EXCHANGE), timeout=5.0) if setup.exchange is not None else None
        self._bot = ServiceClient(stack.url(BOT), timeout=5.0) if setup.drives_bot else None

    def __enter__(self) -> EventSession:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        """Subscribe, then set the feed and the bot up. The bot is paused before the feed restarts, so no
        cycle of its previous run takes a candle of this one, and stays paused, reset, until :meth:`resume`
        (which also starts a replay)."""
        if self.setup.drives_bot:
            self._bus = EventBus(self.stack.url(NATS))
            self._bus.subscribe(f"{EVENT_SUBJECT_PREFIX}.>", self._received)
        if self._bot is not None:
            self._bot.reset_bot({"running": False})
        if self._exchange is not None and self.setup.exchange is not None:
            self._exchange.set_candles(self.setup.exchange.body())
        if self._bot is not None and self.setup.bot is not None and self.recording is None:
            bot = self.setup.bot
            self._bot.reset_bot(
                {
                    "initial_capital": bot.initial_capital,
                    "pool_count": bot.pool_count,
                    "poll_interval_seconds": round(bot.poll_interval * self.stack.time_scale, 4),
                    "strategy": bot.strategy,
                    "run": self.run_id,
                    "running": False,  # until the scenario's faults due at once are on (resume)
                }
            )

    def resume(self, after: threading.Event | None = None) -> None:
        """Let the bot cycle, or start the replay, once ``after`` is set (at most 30 s): after :meth:`start`
        the world waits, so that event chaos at a cycle is installed before that cycle comes, however long
        installing takes on a busy machine."""
        if after is not None:
            after.wait(30)
        if self._bot is not None and self.recording is not None:
            self._start_replay(self.recording)
        elif self._bot is not None and self.setup.bot is not None:
            self._bot.reset_bot({"running": True})

    def _received(self, body: bytes, _subject: str) -> None:
        # the event itself, not log.events[-1]: that copies every event so far, at every event (a long run's
        # subscriber fell behind the bus)
        event = self.log.add_raw(body)
        if event is not None and self.on_event is not None:
            self.on_event(event)

    def _start_replay(self, recording: Recording) -> None:
        assert self._bus is not None
        assert self.setup.replay is not None
        replayer = Replayer(self._bus, recording, self.setup.replay.speed_multiplier)

        def play() -> None:
            with contextlib.suppress(ObsTestsError):
                self.replayed = replayer.run(self.stop)

        self._replay_thread = threading.Thread(target=play, name="replay", daemon=True)
        self._replay_thread.start()

    @property
    def replay_done(self) -> bool:
        """True once the whole recording has been published (always True without a replay)."""
        return self._replay_thread is None or not self._replay_thread.is_alive()

    def world(self) -> BotWorld:
        """What the steps see: the events, a cycle's seconds (the bot's scaled poll interval, or the replay's
        recorded pace), the time scale of ``wait_for_time``."""
        scale = self.stack.time_scale
        if self.recording is not None and self.setup.replay is not None:
            cycles = max((e.cycle for e in self.recording.events), default=0) or 1
            seconds = self.recording.duration / cycles / self.setup.replay.speed_multiplier
        else:
            seconds = (self.setup.bot or BotSetup()).poll_interval * scale
        return BotWorld(self.log, max(seconds, 0.001), scale)

    def chaos_stats(self) -> dict[str, Any] | None:
        """The bot's event-chaos counters now (None without a bot, or when it does not answer)."""
        if self._bot is None or self.recording is not None:
            return None
        try:
            stats: dict[str, Any] = self._bot.event_rules().get("stats") or {}
        except (ObsTestsError, OSError):
            return None
        return stats

    def close(self) -> None:
        """Stop the replay, unsubscribe, reset the bot and the feed, write the recording (every path)."""
        if self._replay_thread is not None:
            self._replay_thread.join(timeout=10)
        if self._bus is not None:
            self._bus.close()
            self._bus = None
        for reset in (self._reset_bot, self._reset_exchange):
            with contextlib.suppress(ObsTestsError, OSError):
                reset()
        recording = self.setup.recording
        if recording is not None and recording.enabled and self.recorded_to is None:
            path = output_path(recording.output, self.scenario, self.output_dir)
            self.recorded_to = save_recording(path, self.scenario, self.run_id, self.log.events)

    def _reset_bot(self) -> None:
        if self._bot is not None:
            self._bot.clear_event_rules()
            self._bot.reset_bot(None)

    def _reset_exchange(self) -> None:
        if self._exchange is not None:
            self._exchange.set_candles(None)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:40] or "run"


def open_session(
    setup: EventSetup | None,
    stack: Stack,
    scenario: str,
    stop: threading.Event,
    output_dir: Path,
    on_event: Callable[[RecordedEvent], None] | None = None,
) -> EventSession | None:
    """The trading-bot world of a scenario, set up (None when the scenario has none); ``on_event`` is told
    every event of the run as it arrives."""
    if setup is None:
        return None
    session = EventSession(setup, stack, scenario=scenario, stop=stop, output_dir=output_dir)
    session.on_event = on_event
    return session.__enter__()


def finish_session(session: EventSession, result: ScenarioResult) -> None:
    """Close ``session`` and put what its run saw into ``result``: the events, the prices (the ``exchange``
    block), the recording written."""
    session.close()
    result.events = session.log.summary()
    result.exchange = exchange_summary(session.log.prices())
    result.recording = str(session.recorded_to) if session.recorded_to else None
    result.event_log = [e.to_json() for e in session.log.events]
