"""The bot's two ends of the bus: :class:`EventBus` publishes each event through event chaos (a rule may
drop it, change its data under the old checksum, or send it later), and :class:`Subscriptions` judges each
message a stage receives (run, sequence, checksum) before handing the accepted ones on.

Both are independent of NATS: the bus sends with a ``send(subject, payload) -> bool`` coroutine and the
subscriptions take ``(stage, subject, payload)``; the bot service connects them to its NATS connection.
Metrics: ``bot_events_published_total`` (sent, after chaos), ``bot_event_chaos_total{action}``,
``bot_events_received_total``, ``bot_events_corrupt_total`` and, from :meth:`Subscriptions.expire`,
``bot_events_missing_total``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from obs_tests.demo.bot_chaos import EventChaos
from obs_tests.demo.bot_events import Event, Inbox, Sequencer, make_event, subject
from obs_tests.demo.bot_metrics import BotMetrics
from obs_tests.demo.logs import JsonLogger

__all__ = ["EventBus", "Send", "Subscriptions"]

Send = Callable[[str, bytes], Awaitable[bool]]
"""Puts bytes on a subject; False when they could not be sent (not connected, publish fault)."""


class EventBus:
    """The publishing side: sequence numbers per run, event chaos, delayed sends."""

    def __init__(self, send: Send, chaos: EventChaos, metrics: BotMetrics, log: JsonLogger, run: str) -> None:
        self.send = send
        self.chaos = chaos
        self.metrics = metrics
        self.log = log
        self.run = run
        self.sequencer = Sequencer()
        self._delayed: set[asyncio.Task[None]] = set()

    def reset(self, run: str) -> None:
        """A new run: sequences from 1, events still waiting to be sent dropped."""
        self.cancel()
        self.run = run
        self.sequencer.reset()

    def cancel(self) -> None:
        """Drop every event waiting for its delay."""
        for task in self._delayed:
            task.cancel()
        self._delayed.clear()

    @property
    def waiting(self) -> int:
        """Events delayed and not sent yet."""
        return len(self._delayed)

    async def publish(self, name: str, cycle: int, data: dict[str, Any]) -> None:
        """Make event ``name`` (its checksum over ``data``), apply chaos, send it (now or later)."""
        event = make_event(name, self.run, seq=self.sequencer.next(name), cycle=cycle, data=data)
        verdict = self.chaos.on_publish(name, cycle, data)
        for action in verdict.actions:
            self.metrics.chaos.labels(action=action).inc()
        if verdict.drop:
            self.log.debug("event dropped by chaos", event=name, cycle=cycle, seq=event.seq)
            return
        if verdict.data is not None and verdict.data is not data:
            event = event.with_data(verdict.data)
        if verdict.delay_ms <= 0.0:
            await self._send(event)
            return
        task = asyncio.get_running_loop().create_task(self._send_later(event, verdict.delay_ms / 1000.0))
        self._delayed.add(task)
        task.add_done_callback(self._delayed.discard)

    async def _send_later(self, event: Event, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._send(event)

    async def _send(self, event: Event) -> None:
        if await self.send(subject(event.name), event.stamped(time.time()).encode()):
            self.metrics.published.labels(event=event.name).inc()


Dispatch = Callable[[str, Event], Awaitable[None]]
"""Hands an accepted event to ``stage``."""


class Subscriptions:
    """The receiving side: one :class:`~obs_tests.demo.bot_events.Inbox` per stage."""

    def __init__(
        self,
        stages: Mapping[str, tuple[str, ...]],
        dispatch: Dispatch,
        metrics: BotMetrics,
        log: JsonLogger,
        run: str,
        grace_seconds: float,
    ) -> None:
        self.stages = dict(stages)
        self.dispatch = dispatch
        self.metrics = metrics
        self.log = log
        self.inboxes = {stage: Inbox(run, grace_seconds) for stage in stages}

    def reset(self, run: str, grace_seconds: float) -> None:
        """A new run: sequences forgotten, events of other runs ignored from now on."""
        for inbox in self.inboxes.values():
            inbox.reset(run, grace_seconds)

    async def receive(self, stage: str, subject_: str, payload: bytes) -> None:
        """Judge one message of ``stage``'s subscription; hand it on when accepted. Never raises."""
        receipt = self.inboxes[stage].accept(subject_, payload, time.monotonic())
        name = receipt.name
        if receipt.verdict == "other_run":
            return
        self.metrics.received.labels(event=name).inc()
        if receipt.verdict == "corrupt":
            self.metrics.corrupt.labels(event=name).inc()
            self.log.warning("event rejected", stage=stage, event_name=name, reason=receipt.error)
            return
        if not receipt.accepted or receipt.event is None:
            return
        try:
            await self.dispatch(stage, receipt.event)
        except Exception as exc:  # noqa: BLE001 -- a stage must survive any one event
            self.log.error("stage failed on an event", stage=stage, event_name=name, error=repr(exc))

    def expire(self) -> dict[str, int]:
        """Count the events no stage received in time as missing; what was counted now, by name."""
        now, counted = time.monotonic(), dict[str, int]()
        for inbox in self.inboxes.values():
            for name, missing in inbox.expire(now).items():
                self.metrics.missing.labels(event=name).inc(missing)
                counted[name] = counted.get(name, 0) + missing
        if counted:
            self.log.warning("events missing", missing=counted)
        return counted
