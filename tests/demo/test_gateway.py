from __future__ import annotations

import random
import signal
import time

import orjson
import pytest

from obs_tests.demo.signal_routing import AGENT_TYPES, agents_for, subject_for
from obs_tests.demo.signals import REASONS
from tests.demo.conftest import (
    Launcher,
    Stack,
    call,
    metric,
    post_signal,
    scrape,
    signal_body,
    unique_id,
    wait_for,
)


def _counts(stack: Stack) -> dict[str, float]:
    gateway = scrape(stack.gateway.url)
    orchestrator = scrape(stack.orchestrator.url)
    counts = {
        status: gateway[("gateway_webhooks_total", frozenset({("source", "tradingview"), ("status", status)}))]
        for status in ("accepted", "invalid", "error")
    }
    for agent in AGENT_TYPES:
        counts[agent] = metric(stack.agent(agent).url, "agent_messages_processed_total", agent_type=agent)
    for status in ("completed", "failed", "timeout"):
        counts[f"wf_{status}"] = orchestrator[("orchestrator_workflows_total", frozenset({("status", status)}))]
    return counts


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before if after[key] != before[key]}


def test_gateway_signals_flow_to_routed_agents_and_complete_workflows(live: Stack) -> None:
    live.settle()
    before = _counts(live)
    plan = {"buy": 3, "sell": 2, "hold": 4}
    ids: dict[str, list[str]] = {action: [] for action in plan}
    for action, count in plan.items():
        for _ in range(count):
            correlation_id = unique_id(f"flow-{action}")
            reply = post_signal(live.gateway, signal_body(action), correlation_id)
            assert reply.status == 200, reply.body
            assert reply.json() == {
                "status": "accepted",
                "correlation_id": correlation_id,
                "subject": subject_for(action),
            }
            assert reply.headers["x-correlation-id"] == correlation_id
            ids[action].append(correlation_id)
    expected = {"accepted": float(sum(plan.values())), "wf_completed": float(sum(plan.values()))}
    for agent in AGENT_TYPES:
        expected[agent] = float(sum(n for action, n in plan.items() if agent in agents_for(action)))
    wait_for(lambda: _delta(before, _counts(live)) == expected, timeout=10, what=f"counter deltas {expected}")
    live.settle()
    assert _delta(before, _counts(live)) == expected, "nothing more may be counted later"
    for action, correlation_ids in ids.items():
        for correlation_id in correlation_ids:
            assert correlation_id in live.gateway.log()
            assert correlation_id in live.orchestrator.log()
            for agent in AGENT_TYPES:
                assert (correlation_id in live.agent(agent).log()) == (agent in agents_for(action))
    completed = [
        r
        for r in live.orchestrator.log_records()
        if r["msg"] == "workflow completed" and r["correlation_id"] in ids["buy"]
    ]
    assert len(completed) == 3
    assert all(r["verdict"] in ("approve", "reject") and r["level"] == "INFO" for r in completed)


def test_gateway_log_lines_are_structured_json(live: Stack) -> None:
    correlation_id = unique_id("log")
    assert post_signal(live.gateway, signal_body("hold"), correlation_id).status == 200
    # the line is written right after the response (BufferedJsonLogger: at the end of the loop iteration)
    record = wait_for(
        lambda: next((r for r in live.gateway.log_records() if r.get("correlation_id") == correlation_id), None),
        timeout=5,
        what=f"the gateway's log line of {correlation_id}",
    )
    assert set(record) >= {"ts", "level", "component", "msg", "correlation_id"}
    assert record["component"] == "gateway"
    assert record["level"] == "INFO"
    assert record["ts"].endswith("Z")
    assert len(record["ts"]) == len("2026-11-22T10:00:00.123Z")


BAD_BODIES = [
    pytest.param(b"", "empty_body", id="empty"),
    pytest.param(b"not json", "invalid_json", id="not-json"),
    pytest.param(b"[]", "invalid_json", id="array"),
    pytest.param(orjson.dumps({"instrument": "BTCUSD"}), "missing_field", id="missing"),
    pytest.param(orjson.dumps({**signal_body(), "leverage": 100}), "unknown_field", id="unknown"),
    pytest.param(orjson.dumps(signal_body(confidence="high")), "wrong_type", id="wrong-type"),
    pytest.param(orjson.dumps(signal_body(confidence=1.5)), "out_of_range", id="out-of-range"),
    pytest.param(orjson.dumps(signal_body(action="short")), "out_of_range", id="enum"),
]


@pytest.mark.parametrize(("body", "reason"), BAD_BODIES)
def test_gateway_invalid_payload_is_400_and_counted_by_reason(live: Stack, body: bytes, reason: str) -> None:
    before = scrape(live.gateway.url)
    reply = post_signal(live.gateway, body)
    assert reply.status == 400
    doc = reply.json()
    assert doc["status"] == "rejected"
    assert doc["reason"] == reason
    assert doc["error"]
    after = scrape(live.gateway.url)
    changed = {
        key[0] + str(sorted(key[1])): after[key] - before.get(key, 0.0)
        for key in after
        if key[0] in ("gateway_validation_errors_total", "gateway_webhooks_total")
        and after[key] != before.get(key, 0.0)
    }
    assert changed == {
        f"gateway_validation_errors_total[('reason', '{reason}')]": 1.0,
        "gateway_webhooks_total[('source', 'tradingview'), ('status', 'invalid')]": 1.0,
    }


def test_gateway_fuzz_never_answers_5xx_and_counts_every_request(live: Stack) -> None:
    rng = random.Random(2026)
    base = orjson.dumps(signal_body())
    bodies: list[bytes] = [
        b"NaN",
        b'{"price": NaN}',
        b'{"price": Infinity, "confidence": -Infinity}',
        b"1e999999",
        b'{"a": ' * 200 + b"1" + b"}" * 200,
        b'{"timestamp": 1, "timestamp": "x"}',
        base[:-1] + b', "action": "sell", "action": 7}',
        b"\xff\xfe\xfd",
        b"\x00" * 50,
        b'{"instrument": "\\ud800"}',
        orjson.dumps({**signal_body(), "price": 1e308, "stop_loss": 5e-324}),
        orjson.dumps([signal_body()]),
        b"9" * 5000,
    ]
    for _ in range(120):
        bodies.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
        mutated = bytearray(base)
        for _ in range(rng.randrange(1, 6)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        bodies.append(bytes(mutated))
    content_types = ["application/json", "text/plain", "application/x-www-form-urlencoded", "", "image/png"]
    before = scrape(live.gateway.url)
    statuses: dict[int, int] = {}
    for index, body in enumerate(bodies):
        headers = {"Content-Type": content_types[index % len(content_types)]}
        reply = call("POST", f"{live.gateway.url}/webhook/tradingview", body, headers=headers)
        statuses[reply.status] = statuses.get(reply.status, 0) + 1
        assert reply.status < 500, (body[:80], reply.body)
    after = scrape(live.gateway.url)
    total = sum(after[key] - before[key] for key in after if key[0] == "gateway_webhooks_total")
    assert total == len(bodies)
    assert statuses.get(400, 0) >= len(bodies) - 5


def test_gateway_oversized_body_is_413_and_counted(live: Stack) -> None:
    before = metric(live.gateway.url, "gateway_webhooks_total", source="tradingview", status="invalid")
    reply = post_signal(live.gateway, b"{" + b" " * 70_000 + b"}")
    assert reply.status == 413
    assert reply.json()["reason"] == "too_large"
    after = metric(live.gateway.url, "gateway_webhooks_total", source="tradingview", status="invalid")
    assert after == before + 1


def test_gateway_correlation_id_generated_when_missing_or_malformed(live: Stack) -> None:
    for header in (None, "bad id with spaces", "x" * 129):
        reply = post_signal(live.gateway, signal_body("hold"), header)
        generated = reply.json()["correlation_id"]
        assert generated != header
        assert len(generated) == 32
        int(generated, 16)
        assert reply.headers["x-correlation-id"] == generated


def test_gateway_unknown_route_404_wrong_method_405(live: Stack) -> None:
    assert call("GET", f"{live.gateway.url}/nope").status == 404
    reply = call("GET", f"{live.gateway.url}/webhook/tradingview")
    assert reply.status == 405
    assert "POST" in reply.headers["allow"]
    assert call("POST", f"{live.gateway.url}/metrics").status == 405


def test_gateway_duplicate_correlation_id_is_deduplicated_by_jetstream(live: Stack) -> None:
    live.settle()
    correlation_id = unique_id("dup")
    before = live.nats.stream_last_seq("SIGNALS")
    first = post_signal(live.gateway, signal_body("hold"), correlation_id)
    second = post_signal(live.gateway, signal_body("hold"), correlation_id)
    assert first.status == second.status == 200
    assert "duplicate" not in first.json()
    assert second.json()["duplicate"] is True
    assert live.nats.stream_last_seq("SIGNALS") == before + 1
    live.settle()


def test_gateway_nats_paused_answers_503_counts_failure_and_recovers(private: Launcher) -> None:
    nats = private.nats()
    gateway = private.service("gateway", "gateway", "--publish-timeout", "0.5", nats_url=nats.url)
    exporter = private.service("exporter", "nats-exporter", "--nats-monitor-url", nats.monitor_url)
    wait_for(gateway.healthy, timeout=20, what="gateway healthy")
    wait_for(exporter.healthy, timeout=20, what="exporter healthy")
    assert post_signal(gateway, signal_body()).status == 200
    assert metric(exporter.url, "nats_up") == 1.0
    nats.proc.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        reply = post_signal(gateway, signal_body())
        assert reply.status == 503
        assert time.monotonic() - started < 2.0, "publish must time out, not hang"
        assert "could not publish" in reply.json()["error"]
        assert metric(gateway.url, "gateway_nats_publish_failures_total") == 1.0
        assert metric(gateway.url, "gateway_webhooks_total", source="tradingview", status="error") == 1.0
        started = time.monotonic()
        assert metric(exporter.url, "nats_up") == 0.0
        assert time.monotonic() - started < 1.5, "a paused NATS must give a fast scrape"
    finally:
        nats.proc.signal(signal.SIGCONT)
    wait_for(lambda: post_signal(gateway, signal_body()).status == 200, timeout=10, what="gateway publishing again")
    assert metric(exporter.url, "nats_up") == 1.0
    assert metric(gateway.url, "gateway_webhooks_total", source="tradingview", status="accepted") >= 2.0


def test_gateway_nats_down_fails_fast_then_recovers_when_nats_returns(private: Launcher) -> None:
    nats = private.nats()
    gateway = private.service("gateway", "gateway", "--publish-timeout", "0.5", nats_url=nats.url)
    wait_for(gateway.healthy, timeout=20, what="gateway healthy")
    nats.proc.signal(signal.SIGKILL)
    assert nats.proc.popen is not None
    nats.proc.popen.wait(5)
    wait_for(lambda: call("GET", f"{gateway.url}/healthz").status == 503, timeout=10, what="gateway degraded")
    health = call("GET", f"{gateway.url}/healthz").json()
    assert health["status"] == "degraded"
    assert health["nats"] == "disconnected"
    reply = post_signal(gateway, signal_body())
    assert reply.status == 503
    assert reply.elapsed < 1.0
    restarted = private.start("nats2", nats.proc.argv, nats.proc.port)
    assert restarted.popen is not None
    wait_for(gateway.healthy, timeout=15, what="gateway healthy after NATS restart (streams recreated)")
    assert post_signal(gateway, signal_body()).status == 200


def test_gateway_reasons_are_preinitialised(live: Stack) -> None:
    samples = scrape(live.gateway.url)
    for reason in REASONS:
        assert ("gateway_validation_errors_total", frozenset({("reason", reason)})) in samples
    for status in ("accepted", "invalid", "error"):
        key = ("gateway_webhooks_total", frozenset({("source", "tradingview"), ("status", status)}))
        assert key in samples
    assert ("gateway_processing_duration_seconds_bucket", frozenset({("le", "0.0005")})) in samples
    assert ("process_start_time_seconds", frozenset()) in samples


def test_gateway_without_instrumentation_serves_but_counts_nothing(private: Launcher) -> None:
    """The throughput benchmark's baseline: same behaviour, metrics stay at 0 (and are still exposed)."""
    nats = private.nats()
    gateway = private.service("gateway", "gateway", "--no-instrumentation", nats_url=nats.url)
    wait_for(gateway.healthy, timeout=20, what="gateway healthy")
    assert post_signal(gateway, signal_body()).status == 200
    assert post_signal(gateway, b'{"nope": 1}').status == 400
    assert nats.stream_last_seq("SIGNALS") == 1
    assert metric(gateway.url, "gateway_webhooks_total", source="tradingview", status="accepted") == 0.0
    assert metric(gateway.url, "gateway_webhooks_total", source="tradingview", status="invalid") == 0.0
    assert metric(gateway.url, "gateway_processing_duration_seconds_count") == 0.0
    assert metric(gateway.url, "process_cpu_seconds_total") > 0.0
