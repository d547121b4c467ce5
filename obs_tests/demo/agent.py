"""An agent: consumes signals from its durable JetStream consumer, scores them and publishes decisions.

One process per agent type (``--agent-type momentum|risk|sentiment|correlation``) so each can be
killed alone. For each message, in batches of up to 256:

1. a redelivery (``num_delivered > 1``) counts ``agent_redeliveries_total``; a message (stream sequence +
   store time) already processed by this process is acked and not counted again (bounded memory dedupe);
2. an undecodable payload counts ``agent_messages_failed_total{reason="decode"}`` and is terminated;
   an injected ``error_rate`` failure counts ``reason="injected"`` and is terminated;
3. otherwise the signal is scored (:mod:`obs_tests.demo.scoring`), a decision is published on
   ``decisions.<agent_type>`` (all decisions of a batch concurrently), and on success the message is
   counted in ``agent_messages_processed_total`` and acked; a failed decision publish counts
   ``reason="publish"`` and the message is nak'ed for redelivery.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

import orjson
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import Counter, Gauge, Histogram

from obs_tests.demo.bus import MessageKey, NatsLink, PullWorker, SeenSequences, message_key
from obs_tests.demo.runtime import CommonOptions, Service
from obs_tests.demo.scoring import score, verdict
from obs_tests.demo.service_metrics import DURATION_BUCKETS, preinit
from obs_tests.demo.signal_routing import (
    AGENT_TYPES,
    DECISIONS_STREAM,
    HEADER_CORRELATION_ID,
    HEADER_MSG_ID,
    HEADER_RECEIVED_AT,
    SIGNALS_STREAM,
    consumer_for,
    decision_subject,
    msg_id,
)
from obs_tests.errors import PublishError

__all__ = ["FAILURE_REASONS", "Agent"]

FAILURE_REASONS: Final = ("decode", "injected", "publish")
_SIGNAL_FIELDS: Final = (
    "correlation_id",
    "action",
    "instrument",
    "confidence",
    "price",
    "stop_loss",
    "take_profit",
)
#: a message whose decision is being published: (message, its key, when it was taken, decision, score)
_Pending = tuple[Msg, MessageKey, float, dict[str, Any], float]


def decode_signal(data: bytes) -> dict[str, Any]:
    """The signal a gateway published; ``ValueError`` when the payload is not one."""
    doc = orjson.loads(data)
    if not isinstance(doc, dict) or any(name not in doc for name in _SIGNAL_FIELDS):
        raise ValueError("payload is not a signal")
    return doc


class Agent(Service):
    """An agent service (``python -m obs_tests.demo agent --agent-type risk``)."""

    component = "agent"

    def __init__(self, options: CommonOptions, *, agent_type: str, publish_timeout: float = 2.0) -> None:
        if agent_type not in AGENT_TYPES:
            raise ValueError(f"unknown agent type {agent_type!r}; known: {', '.join(AGENT_TYPES)}")
        self.component = f"agent-{agent_type}"
        super().__init__(options)
        self.agent_type = agent_type
        self.publish_timeout = publish_timeout
        self.spec = consumer_for(agent_type)
        self.link = NatsLink(
            options.nats_url,
            name=self.spec.durable,
            log=self.log,
            faults=self.faults,
            streams=(SIGNALS_STREAM, DECISIONS_STREAM),
            setup=self._setup,
        )
        self.worker = PullWorker(self.link, self.spec, self._handle)
        self.seen = SeenSequences()
        registry = self.registry
        labels = {"agent_type": agent_type}
        self._processed = Counter(
            "agent_messages_processed_total",
            "Signals scored and decided by the agent (each stream message counted once).",
            ["agent_type"],
            registry=registry,
        ).labels(**labels)
        failed = Counter(
            "agent_messages_failed_total",
            "Signals the agent could not process, by reason (decode, injected, publish).",
            ["agent_type", "reason"],
            registry=registry,
        )
        preinit(failed, "reason", FAILURE_REASONS, **labels)
        self._failed = {reason: failed.labels(reason=reason, **labels) for reason in FAILURE_REASONS}
        self._redeliveries = Counter(
            "agent_redeliveries_total",
            "Messages JetStream delivered more than once to the agent.",
            ["agent_type"],
            registry=registry,
        ).labels(**labels)
        self._score = Gauge(
            "agent_confidence_score",
            "Score of the last signal the agent decided, in [0, 1].",
            ["agent_type"],
            registry=registry,
        ).labels(**labels)
        self._duration = Histogram(
            "agent_processing_duration_seconds",
            "Time from taking a message to acking it, including the decision publish.",
            ["agent_type"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        ).labels(**labels)
        self._pending = Gauge(
            "nats_consumer_pending_messages",
            "Messages in the stream not yet delivered to the consumer (JetStream num_pending).",
            ["consumer"],
            registry=registry,
        ).labels(consumer=self.spec.durable)

    async def _setup(self, js: JetStreamContext) -> None:
        await self.worker.bind(js)

    async def start(self) -> None:
        """Connect, then consume and poll the consumer's pending count in the background."""
        await super().start()
        self.spawn(self.link.run(), "nats-connect")
        self.spawn(self.worker.run(), "consume")
        self.spawn(self._poll_pending(), "poll-pending")

    async def stop(self) -> None:
        """Stop consuming and close NATS."""
        await super().stop()
        await self.link.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when NATS is connected and the consumer is bound."""
        return self.link.ready, {"nats": self.link.state(), "consumer": self.spec.durable}

    async def _poll_pending(self) -> None:
        while True:
            pending = await self.link.consumer_pending(self.spec.stream, self.spec.durable)
            if pending is not None:
                self._pending.set(pending)
            await asyncio.sleep(1.0)

    async def _handle(self, msgs: list[Msg]) -> None:
        faults = self.faults
        publishes: list[Any] = []
        work: list[_Pending] = []
        for msg in msgs:
            metadata = msg.metadata
            sequence = metadata.sequence.stream
            key = message_key(msg)
            if metadata.num_delivered > 1:
                self._redeliveries.inc()
            if key in self.seen:
                await msg.ack()
                continue
            await faults.hold()
            started = time.perf_counter()
            try:
                signal = decode_signal(msg.data)
            except ValueError:
                await self._terminate(msg, key, "decode", "undecodable signal terminated", stream_sequence=sequence)
                continue
            correlation_id = str(signal["correlation_id"])
            if faults.should_fail():
                await self._terminate(
                    msg, key, "injected", "injected processing failure", correlation_id=correlation_id
                )
                continue
            value = score(self.agent_type, signal)
            received_at = signal.get("received_at", time.time())
            decision = {
                "correlation_id": correlation_id,
                "agent_type": self.agent_type,
                "action": signal["action"],
                "instrument": signal["instrument"],
                "score": value,
                "verdict": verdict(value),
                "received_at": received_at,
                "decided_at": time.time(),
            }
            headers = {
                HEADER_CORRELATION_ID: correlation_id,
                HEADER_RECEIVED_AT: repr(received_at),
                HEADER_MSG_ID: msg_id(correlation_id, self.agent_type),
            }
            publishes.append(
                self.link.publish(
                    decision_subject(self.agent_type), orjson.dumps(decision), headers, self.publish_timeout
                )
            )
            work.append((msg, key, started, decision, value))
        if not work:
            return
        results = await asyncio.gather(*publishes, return_exceptions=True)
        await self._settle(work, results)

    async def _terminate(self, msg: Msg, key: MessageKey, reason: str, message: str, **fields: Any) -> None:
        """A message that cannot be processed (undecodable, injected failure): counted, never redelivered."""
        self._failed[reason].inc()
        self.seen.add(key)
        self.log.warning(message, **fields)
        await msg.term()

    async def _settle(self, work: list[_Pending], results: list[Any]) -> None:
        """Ack each message whose decision was published (and count it), nak the others for redelivery."""
        for (msg, key, started, decision, value), result in zip(work, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, PublishError):
                    raise result
                self._failed["publish"].inc()
                self.log.warning(
                    "decision publish failed; message will be redelivered",
                    correlation_id=decision["correlation_id"],
                    error=str(result),
                )
                await msg.nak(delay=1.0)
                continue
            self.seen.add(key)
            # counted before the ack: once NATS holds nothing unacknowledged (what the accounting waits for
            # before it reads the counters) every count is already there; a redelivery is deduplicated
            self._processed.inc()
            self._score.set(value)
            self._duration.observe(time.perf_counter() - started)
            await msg.ack()
            self.log.info(
                "signal processed",
                correlation_id=decision["correlation_id"],
                action=decision["action"],
                score=round(value, 4),
                verdict=decision["verdict"],
            )
