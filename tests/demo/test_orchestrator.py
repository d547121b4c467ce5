from __future__ import annotations

import asyncio
import signal
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from obs_tests.demo.orchestrator import WORKFLOW_STATUSES, Orchestrator, decode_decision
from obs_tests.demo.runtime import CommonOptions
from tests.demo.conftest import (
    WORKFLOW_TIMEOUT,
    Stack,
    call,
    metric,
    post_signal,
    scrape,
    signal_body,
    unique_id,
    wait_for,
)


def _workflows(stack: Stack) -> dict[str, float]:
    return {s: metric(stack.orchestrator.url, "orchestrator_workflows_total", status=s) for s in WORKFLOW_STATUSES}


def test_orchestrator_decode_decision_validates_fields() -> None:
    good = b'{"correlation_id": "a", "agent_type": "risk", "action": "hold", "score": 0.5, "received_at": 1.0}'
    assert decode_decision(good)["agent_type"] == "risk"
    for bad in (b"[]", b"{}", good.replace(b"risk", b"oracle"), good.replace(b"0.5", b'"x"'), b"\xff"):
        with pytest.raises(ValueError):
            decode_decision(bad)


def test_orchestrator_statuses_preinitialised(live: Stack) -> None:
    samples = scrape(live.orchestrator.url)
    for status in WORKFLOW_STATUSES:
        assert ("orchestrator_workflows_total", frozenset({("status", status)})) in samples
    assert ("nats_consumer_pending_messages", frozenset({("consumer", "orchestrator")})) in samples
    assert ("orchestrator_redis_errors_total", frozenset()) in samples


def test_orchestrator_error_rate_fails_workflows_once(live: Stack) -> None:
    live.settle()
    before = _workflows(live)
    assert call("PUT", f"{live.orchestrator.url}/admin/faults", {"error_rate": 1}).status == 200
    for _ in range(3):
        assert post_signal(live.gateway, signal_body("sell"), unique_id("wf-fail")).status == 200
    wait_for(lambda: _workflows(live)["failed"] == before["failed"] + 3, timeout=10, what="3 failed workflows")
    assert call("DELETE", f"{live.orchestrator.url}/admin/faults").status == 200
    assert post_signal(live.gateway, signal_body("sell"), unique_id("wf-ok")).status == 200
    wait_for(lambda: _workflows(live)["completed"] == before["completed"] + 1, timeout=10, what="completion")
    live.settle()
    after = _workflows(live)
    assert after == {**before, "failed": before["failed"] + 3, "completed": before["completed"] + 1}


def test_orchestrator_missing_or_corrupt_decisions_time_out_exactly_once(live: Stack) -> None:
    live.settle()
    before = _workflows(live)
    decode_before = metric(live.orchestrator.url, "orchestrator_messages_failed_total", reason="decode")
    # correlation never decides; momentum's decision arrives garbled: the workflow can only time out
    assert call("PUT", f"{live.agent('correlation').url}/admin/faults", {"error_rate": 1}).status == 200
    assert call("PUT", f"{live.agent('momentum').url}/admin/faults", {"corrupt_payloads": 1}).status == 200
    correlation_id = unique_id("wf-timeout")
    assert post_signal(live.gateway, signal_body("buy"), correlation_id).status == 200
    wait_for(
        lambda: (
            metric(live.orchestrator.url, "orchestrator_messages_failed_total", reason="decode") == decode_before + 1
        ),
        timeout=10,
        what="the corrupt decision counted as a decode failure",
    )
    wait_for(
        lambda: _workflows(live)["timeout"] == before["timeout"] + 1,
        timeout=WORKFLOW_TIMEOUT + 5,
        what=f"timeout after {WORKFLOW_TIMEOUT}s",
    )
    live.settle()
    assert _workflows(live) == {**before, "timeout": before["timeout"] + 1}
    record = next(r for r in live.orchestrator.log_records() if r.get("correlation_id") == correlation_id)
    assert record["msg"] == "workflow timed out"


def test_orchestrator_redis_paused_naks_counts_errors_and_recovers(live: Stack) -> None:
    live.settle()
    before = _workflows(live)
    errors_before = metric(live.orchestrator.url, "orchestrator_redis_errors_total")
    live.redis.signal(signal.SIGSTOP)
    try:
        correlation_id = unique_id("wf-redis")
        assert post_signal(live.gateway, signal_body("hold"), correlation_id).status == 200
        wait_for(
            lambda: metric(live.orchestrator.url, "orchestrator_redis_errors_total") > errors_before,
            timeout=10,
            what="Redis errors counted",
        )
        wait_for(
            lambda: call("GET", f"{live.orchestrator.url}/healthz").status == 503,
            timeout=10,
            what="orchestrator degraded",
        )
        assert call("GET", f"{live.orchestrator.url}/healthz").json()["redis"] == "disconnected"
    finally:
        live.redis.signal(signal.SIGCONT)
    wait_for(live.orchestrator.healthy, timeout=10, what="orchestrator healthy again")
    wait_for(lambda: _workflows(live)["completed"] == before["completed"] + 1, timeout=10, what="workflow completed")
    live.settle()
    assert _workflows(live) == {**before, "completed": before["completed"] + 1}, "counted exactly once"


class _Pipeline:
    def __init__(self, results: list[Any]) -> None:
        self.results = results

    async def __aenter__(self) -> _Pipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def execute(self) -> list[Any]:
        return self.results


def test_orchestrator_counts_a_decision_before_acking_it() -> None:
    """Like the agents: counting after the ack let Prometheus scrape a count one short once NATS showed
    nothing unacknowledged (what the exact accounting waits for). The count must be there at the ack."""
    orchestrator = Orchestrator(CommonOptions(port=1, log_level="ERROR"))
    done = [b"done", b"completed", [b"a:risk", orjson.dumps({"score": 0.5})]]
    orchestrator.redis = SimpleNamespace(pipeline=lambda transaction: _Pipeline([done]))  # type: ignore[assignment]

    async def record(**_: Any) -> None:
        return None

    orchestrator._record = record  # type: ignore[assignment]
    decision = {"correlation_id": "c", "agent_type": "risk", "action": "hold", "score": 0.5, "received_at": 1.0}
    seen_at_ack: list[tuple[float | None, float | None]] = []

    async def ack() -> None:
        registry = orchestrator.registry
        seen_at_ack.append(
            (
                registry.get_sample_value("orchestrator_decisions_total", {"agent_type": "risk"}),
                registry.get_sample_value("orchestrator_workflows_total", {"status": "completed"}),
            )
        )

    msg = SimpleNamespace(
        metadata=SimpleNamespace(sequence=SimpleNamespace(stream=7), num_delivered=1, timestamp="t0"),
        data=orjson.dumps(decision),
        ack=ack,
    )
    asyncio.run(orchestrator._handle([msg]))  # type: ignore[list-item]
    assert seen_at_ack == [(1.0, 1.0)]
