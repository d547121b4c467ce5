"""The orchestrator: turns agent decisions into workflows, with workflow state in Redis.

A workflow is one signal (one correlation id). It completes when every agent that
``routing.agents_for(action)`` names has decided; a sweeper closes workflows older than
``--workflow-timeout`` (measured from the gateway's receive time) as ``timeout``. Each workflow is
counted exactly once in ``orchestrator_workflows_total{status}`` (completed | failed | timeout): both
paths close a workflow inside a Redis Lua script that sets a ``workflow-done:<id>`` marker with
``SET NX``, so a late or redelivered decision, a second orchestrator or a sweep racing a completion can
never close it twice.

Redis layout: hash ``workflow:<correlation_id>`` (``a:<agent_type>`` → decision JSON, ``started_at``),
sorted set ``workflows:open`` (member correlation id, score = gateway receive time), string
``workflow-done:<correlation_id>`` (final status, expires after an hour). One pipeline per batch.
Redis down → ``orchestrator_redis_errors_total``, the batch is nak'ed with a delay, ``/healthz`` degrades.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Final

import orjson
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import Counter, Gauge, Histogram
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from obs_tests.demo.bus import MessageKey, NatsLink, PullWorker, SeenSequences, message_key
from obs_tests.demo.runtime import CommonOptions, Service
from obs_tests.demo.scoring import verdict
from obs_tests.demo.service_metrics import preinit
from obs_tests.demo.signal_routing import (
    ACTIONS,
    AGENT_TYPES,
    DECISIONS_STREAM,
    ORCHESTRATOR_CONSUMER,
    agents_for,
)

__all__ = ["OPEN_KEY", "WORKFLOW_STATUSES", "Orchestrator", "decode_decision"]

WORKFLOW_STATUSES: Final = ("completed", "failed", "timeout")
OPEN_KEY: Final = "workflows:open"
_DONE_TTL_SECONDS: Final = 3600
_WORKFLOW_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

# KEYS: workflow hash, open set, done marker.
# ARGV: correlation id, agent type, decision JSON, required agents (comma list), started_at,
#       status to close with if this decision completes the workflow, done-marker TTL.
_RECORD: Final = """
if redis.call('EXISTS', KEYS[3]) == 1 then return {'late'} end
if redis.call('HSETNX', KEYS[1], 'a:' .. ARGV[2], ARGV[3]) == 0 then return {'dup'} end
redis.call('HSETNX', KEYS[1], 'started_at', ARGV[5])
redis.call('ZADD', KEYS[2], 'NX', ARGV[5], ARGV[1])
for agent in string.gmatch(ARGV[4], '[^,]+') do
  if redis.call('HEXISTS', KEYS[1], 'a:' .. agent) == 0 then return {'pending'} end
end
redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7])
redis.call('ZREM', KEYS[2], ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return {'done', ARGV[6], fields}
"""

# KEYS: open set. ARGV: cutoff, limit, done TTL, workflow key prefix, done key prefix.
_SWEEP: Final = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local closed = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  if redis.call('SET', ARGV[5] .. id, 'timeout', 'NX', 'EX', ARGV[3]) then
    redis.call('DEL', ARGV[4] .. id)
    table.insert(closed, id)
  end
end
return closed
"""


def decode_decision(data: bytes) -> dict[str, Any]:
    """A decision an agent published; ``ValueError`` when the payload is not one."""
    doc = orjson.loads(data)
    if not (
        isinstance(doc, dict)
        and isinstance(doc.get("correlation_id"), str)
        and doc.get("agent_type") in AGENT_TYPES
        and doc.get("action") in ACTIONS
        and isinstance(doc.get("score"), int | float)
        and isinstance(doc.get("received_at"), int | float)
    ):
        raise ValueError("payload is not a decision")
    return doc


class Orchestrator(Service):
    """The orchestrator service (``python -m obs_tests.demo orchestrator --redis-url …``)."""

    component = "orchestrator"

    def __init__(
        self,
        options: CommonOptions,
        *,
        redis_url: str = "redis://127.0.0.1:6379/0",
        workflow_timeout: float = 10.0,
        sweep_interval: float = 0.25,
    ) -> None:
        super().__init__(options)
        self.workflow_timeout = workflow_timeout
        self.sweep_interval = sweep_interval
        self.link = NatsLink(
            options.nats_url,
            name="orchestrator",
            log=self.log,
            faults=self.faults,
            streams=(DECISIONS_STREAM,),
            setup=self._setup,
        )
        self.worker = PullWorker(self.link, ORCHESTRATOR_CONSUMER, self._handle)
        self.redis: Redis = Redis.from_url(
            redis_url, socket_timeout=1.0, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        self._record = self.redis.register_script(_RECORD)
        self._sweep = self.redis.register_script(_SWEEP)
        self._redis_ok = False
        self.seen = SeenSequences()
        self._register_metrics()

    def _register_metrics(self) -> None:
        """The orchestrator's metrics in its registry, every label value pre-initialised; the hot path
        updates the children kept here."""
        registry = self.registry
        workflows = Counter(
            "orchestrator_workflows_total",
            "Workflows closed, by final status (completed, failed, timeout); each counted once.",
            ["status"],
            registry=registry,
        )
        preinit(workflows, "status", WORKFLOW_STATUSES)
        self._workflows = {status: workflows.labels(status=status) for status in WORKFLOW_STATUSES}
        self._duration = Histogram(
            "orchestrator_workflow_duration_seconds",
            "Time from the gateway receiving a signal to its workflow completing.",
            buckets=_WORKFLOW_BUCKETS,
            registry=registry,
        )
        decisions = Counter(
            "orchestrator_decisions_total",
            "Agent decisions recorded into workflows (duplicates and late ones excluded).",
            ["agent_type"],
            registry=registry,
        )
        preinit(decisions, "agent_type", AGENT_TYPES)
        self._decisions = {agent: decisions.labels(agent_type=agent) for agent in AGENT_TYPES}
        self._late = Counter(
            "orchestrator_late_decisions_total",
            "Decisions that arrived after their workflow was closed.",
            registry=registry,
        )
        failed = Counter(
            "orchestrator_messages_failed_total",
            "Decision messages the orchestrator could not process, by reason.",
            ["reason"],
            registry=registry,
        )
        preinit(failed, "reason", ("decode",))
        self._decode_failed = failed.labels(reason="decode")
        self._redis_errors = Counter(
            "orchestrator_redis_errors_total", "Redis commands or pipelines that failed.", registry=registry
        )
        self._open = Gauge("orchestrator_open_workflows", "Workflows waiting for decisions (Redis).", registry=registry)
        self._pending = Gauge(
            "nats_consumer_pending_messages",
            "Messages in the stream not yet delivered to the consumer (JetStream num_pending).",
            ["consumer"],
            registry=registry,
        ).labels(consumer=ORCHESTRATOR_CONSUMER.durable)

    async def _setup(self, js: JetStreamContext) -> None:
        await self.worker.bind(js)

    async def start(self) -> None:
        """Connect to NATS and Redis; consume, sweep and poll in the background."""
        await super().start()
        self.spawn(self.link.run(), "nats-connect")
        self.spawn(self.worker.run(), "consume")
        self.spawn(self._watch_redis(), "redis-ping")
        self.spawn(self._sweeper(), "sweeper")
        self.spawn(self._poll_pending(), "poll-pending")

    async def stop(self) -> None:
        """Stop, close NATS and Redis."""
        await super().stop()
        await self.link.close()
        with contextlib.suppress(TimeoutError, RedisError, OSError):
            async with asyncio.timeout(0.2):  # not wait_for: Python 3.11's can swallow a cancellation
                await self.redis.aclose()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when NATS is ready and the last Redis command succeeded."""
        redis_state = "connected" if self._redis_ok else "disconnected"
        return self.link.ready and self._redis_ok, {"nats": self.link.state(), "redis": redis_state}

    def _redis_failed(self, exc: BaseException, what: str) -> None:
        self._redis_errors.inc()
        if self._redis_ok:
            self.log.warning("Redis unavailable", operation=what, error=repr(exc))
        self._redis_ok = False

    async def _watch_redis(self) -> None:
        while True:
            try:
                await self.redis.ping()
                self._open.set(await self.redis.zcard(OPEN_KEY))
            except (RedisError, OSError) as exc:
                self._redis_failed(exc, "ping")
            else:
                if not self._redis_ok:
                    self.log.info("Redis connected")
                self._redis_ok = True
            await asyncio.sleep(0.5 if self._redis_ok else 0.25)

    async def _poll_pending(self) -> None:
        while True:
            pending = await self.link.consumer_pending(ORCHESTRATOR_CONSUMER.stream, ORCHESTRATOR_CONSUMER.durable)
            if pending is not None:
                self._pending.set(pending)
            await asyncio.sleep(1.0)

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            cutoff = time.time() - self.workflow_timeout
            try:
                closed = await self._sweep(
                    keys=[OPEN_KEY], args=[cutoff, 500, _DONE_TTL_SECONDS, "workflow:", "workflow-done:"]
                )
            except (RedisError, OSError) as exc:
                self._redis_failed(exc, "sweep")
                continue
            for raw in closed:
                self._workflows["timeout"].inc()
                correlation_id = raw.decode() if isinstance(raw, bytes) else str(raw)
                self.log.warning("workflow timed out", correlation_id=correlation_id, status="timeout")

    async def _handle(self, msgs: list[Msg]) -> None:
        faults = self.faults
        entries: list[tuple[Msg, MessageKey, dict[str, Any]]] = []
        for msg in msgs:
            key = message_key(msg)
            if key in self.seen:
                await msg.ack()
                continue
            await faults.hold()
            try:
                decision = decode_decision(msg.data)
            except ValueError:
                self._decode_failed.inc()
                self.seen.add(key)
                self.log.warning("undecodable decision terminated", stream_sequence=key[0])
                await msg.term()
                continue
            entries.append((msg, key, decision))
        if not entries:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for _, _, decision in entries:
                    correlation_id = decision["correlation_id"]
                    status = "failed" if faults.should_fail() else "completed"
                    record = {"score": decision["score"], "verdict": decision.get("verdict")}
                    await self._record(
                        keys=[f"workflow:{correlation_id}", OPEN_KEY, f"workflow-done:{correlation_id}"],
                        args=[
                            correlation_id,
                            decision["agent_type"],
                            orjson.dumps(record),
                            ",".join(agents_for(decision["action"])),
                            decision["received_at"],
                            status,
                            _DONE_TTL_SECONDS,
                        ],
                        client=pipe,
                    )
                results = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._redis_failed(exc, "record")
            for msg, _, _ in entries:
                await msg.nak(delay=1.0)
            return
        self._redis_ok = True
        now = time.time()
        for (msg, key, decision), result in zip(entries, results, strict=True):
            self.seen.add(key)
            # counted before the ack: once NATS holds nothing unacknowledged (what the accounting waits for
            # before it reads the counters) every count is already there; a redelivery is deduplicated
            self._count(decision, result, now)
            await msg.ack()

    def _count(self, decision: dict[str, Any], result: list[Any], now: float) -> None:
        outcome = result[0].decode() if isinstance(result[0], bytes) else str(result[0])
        if outcome == "late":
            self._late.inc()
            self.log.info("late decision", correlation_id=decision["correlation_id"])
            return
        if outcome == "dup":
            return
        self._decisions[decision["agent_type"]].inc()
        if outcome == "done":
            self._close(decision, result, now)

    def _close(self, decision: dict[str, Any], result: list[Any], now: float) -> None:
        status = result[1].decode() if isinstance(result[1], bytes) else str(result[1])
        fields = result[2]
        scores: dict[str, float] = {}
        for index in range(0, len(fields) - 1, 2):
            key = fields[index].decode() if isinstance(fields[index], bytes) else str(fields[index])
            if key.startswith("a:"):
                scores[key[2:]] = float(orjson.loads(fields[index + 1])["score"])
        mean = sum(scores.values()) / len(scores) if scores else 0.0
        duration = max(0.0, now - float(decision["received_at"]))
        self._workflows[status].inc()
        if status == "completed":
            self._duration.observe(duration)
        self.log.info(
            f"workflow {status}",
            correlation_id=decision["correlation_id"],
            status=status,
            verdict=verdict(mean) if status == "completed" else None,
            score=round(mean, 4),
            agents=sorted(scores),
            duration_seconds=round(duration, 6),
        )
