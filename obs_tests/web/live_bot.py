"""Follows a trading-bot run while it goes: every ``interval`` seconds, the events its
:class:`~obs_tests.scenarios.event_session.EventSession` has recorded so far (total, by name, cycles,
missing, corrupted) and what event chaos did (the bot's counters), handed on when they changed — the
dashboard puts them in the run's ``status`` stream message and status document.

Cheap by design: the counts are read from the session's in-memory log, the chaos counters with one small
``GET /admin/events`` of the bot; nothing waits on the run.

Example::

    with LiveBot(lambda: runner.session, on_sample=show):
        runner.run()
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from obs_tests.scenarios.event_session import EventSession
from obs_tests.scenarios.events import EventLog
from obs_tests.web.views import bot_view

__all__ = ["SAMPLE_INTERVAL", "LiveBot", "sample"]

SAMPLE_INTERVAL = 1.0

SessionSource = Callable[[], EventSession | None]


def sample(log: EventLog, chaos_stats: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the dashboard shows of a running bot run: its events so far and the chaos counters."""
    view = bot_view(log.summary(), chaos_stats, live=True)
    assert view is not None  # a summary is never None
    return view


class LiveBot:
    """Samples the session ``source`` gives (None: no bot run, or not set up yet) in a thread of its own
    until the context ends; ``on_sample`` is called with each sample that differs from the last. The chaos
    counters never go down (the session resets the bot, and its counters, when the run ends)."""

    def __init__(
        self,
        source: SessionSource,
        on_sample: Callable[[dict[str, Any]], None],
        *,
        interval: float = SAMPLE_INTERVAL,
    ) -> None:
        self.source = source
        self.on_sample = on_sample
        self.interval = interval
        self.last: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="live-bot", daemon=True)

    def __enter__(self) -> LiveBot:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def poll(self) -> dict[str, Any] | None:
        """Take one sample now; hand it on when it changed. The sample (None without a session)."""
        session = self.source()
        if session is None:
            return None
        current = sample(session.log, session.chaos_stats())
        if self.last is not None:  # the counters only grow in a run: a bot reset as the run ends reads 0
            before = self.last["chaos"]
            current["chaos"] = {key: max(value, before.get(key, 0)) for key, value in current["chaos"].items()}
        if current != self.last:
            self.last = current
            self.on_sample(current)
        return current

    def _follow(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()
