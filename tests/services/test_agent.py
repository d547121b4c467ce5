from __future__ import annotations

import pytest

from obs_tests.services.agent import FAILURE_REASONS, decode_signal
from obs_tests.services.routing import AGENT_TYPES
from tests.services.conftest import Stack, call, metric, post_signal, scrape, signal_body, unique_id, wait_for


def test_agent_decode_signal_rejects_non_signals() -> None:
    with pytest.raises(ValueError):
        decode_signal(b"[]")
    with pytest.raises(ValueError):
        decode_signal(b'{"correlation_id": "x"}')
    with pytest.raises(ValueError):
        decode_signal(b"\xff{")


def test_agent_series_preinitialised_and_pending_exported(live: Stack) -> None:
    for agent in AGENT_TYPES:
        samples = scrape(live.agent(agent).url)
        for reason in FAILURE_REASONS:
            key = ("agent_messages_failed_total", frozenset({("agent_type", agent), ("reason", reason)}))
            assert key in samples
        assert ("agent_messages_processed_total", frozenset({("agent_type", agent)})) in samples
        assert ("agent_redeliveries_total", frozenset({("agent_type", agent)})) in samples
        assert ("nats_consumer_pending_messages", frozenset({("consumer", f"agent-{agent}")})) in samples
        score = samples[("agent_confidence_score", frozenset({("agent_type", agent)}))]
        assert 0.0 <= score <= 1.0


def test_agent_error_rate_terminates_messages_and_counts_injected(live: Stack) -> None:
    live.settle()
    risk = live.agent("risk")
    assert call("PUT", f"{risk.url}/admin/faults", {"error_rate": 1}).status == 200
    before_failed = metric(risk.url, "agent_messages_failed_total", agent_type="risk", reason="injected")
    before_ok = metric(risk.url, "agent_messages_processed_total", agent_type="risk")
    for _ in range(3):
        assert post_signal(live.gateway, signal_body("hold"), unique_id("inj")).status == 200
    wait_for(
        lambda: metric(risk.url, "agent_messages_failed_total", agent_type="risk", reason="injected")
        == before_failed + 3,
        timeout=10,
        what="3 injected failures",
    )
    assert metric(risk.url, "agent_messages_processed_total", agent_type="risk") == before_ok
    assert call("DELETE", f"{risk.url}/admin/faults").status == 200
    correlation_id = unique_id("after-clear")
    assert post_signal(live.gateway, signal_body("hold"), correlation_id).status == 200
    wait_for(
        lambda: metric(risk.url, "agent_messages_processed_total", agent_type="risk") == before_ok + 1,
        timeout=10,
        what="processing restored",
    )
    # the 3 hold workflows lacked the risk decision: they time out, each counted once
    live.settle(timeout=15)


def test_agent_hang_stops_consuming_pending_grows_then_drains(live: Stack) -> None:
    live.settle()
    sentiment = live.agent("sentiment")
    before = metric(sentiment.url, "agent_messages_processed_total", agent_type="sentiment")
    assert call("PATCH", f"{sentiment.url}/admin/faults", {"hang": True}).status == 200
    for _ in range(5):
        assert post_signal(live.gateway, signal_body("hold"), unique_id("hang")).status == 200
    wait_for(
        lambda: metric(sentiment.url, "nats_consumer_pending_messages", consumer="agent-sentiment") >= 4,
        timeout=10,
        what="pending >= 4 on the hung consumer",
    )
    assert metric(sentiment.url, "agent_messages_processed_total", agent_type="sentiment") <= before + 1
    assert call("DELETE", f"{sentiment.url}/admin/faults").status == 200
    wait_for(
        lambda: metric(sentiment.url, "agent_messages_processed_total", agent_type="sentiment") == before + 5,
        timeout=10,
        what="all 5 processed after clearing the hang",
    )
    wait_for(
        lambda: metric(sentiment.url, "nats_consumer_pending_messages", consumer="agent-sentiment") == 0,
        timeout=10,
        what="pending back to 0",
    )
    live.settle()


def test_agent_latency_slows_processing(live: Stack) -> None:
    live.settle()
    momentum = live.agent("momentum")
    fault = {"latency": {"distribution": "fixed", "value_ms": 300}}
    assert call("PUT", f"{momentum.url}/admin/faults", fault).status == 200
    count_before = metric(momentum.url, "agent_processing_duration_seconds_count", agent_type="momentum")
    sum_before = metric(momentum.url, "agent_processing_duration_seconds_sum", agent_type="momentum")
    assert post_signal(live.gateway, signal_body("buy"), unique_id("lat")).status == 200
    wait_for(
        lambda: metric(momentum.url, "agent_processing_duration_seconds_count", agent_type="momentum")
        == count_before + 1,
        timeout=10,
        what="one slow message processed",
    )
    live.settle()
    # the delay is added before processing starts; the workflow still completes, later
    assert metric(momentum.url, "agent_processing_duration_seconds_sum", agent_type="momentum") >= sum_before


def test_gateway_corrupt_payloads_make_agents_count_decode_failures(live: Stack) -> None:
    live.settle()
    before = {
        agent: metric(live.agent(agent).url, "agent_messages_failed_total", agent_type=agent, reason="decode")
        for agent in AGENT_TYPES
    }
    assert call("PUT", f"{live.gateway.url}/admin/faults", {"corrupt_payloads": 1}).status == 200
    assert post_signal(live.gateway, signal_body("buy"), unique_id("corrupt")).status == 200
    assert call("DELETE", f"{live.gateway.url}/admin/faults").status == 200
    for agent in AGENT_TYPES:
        url = live.agent(agent).url
        wait_for(
            lambda url=url, agent=agent: metric(url, "agent_messages_failed_total", agent_type=agent, reason="decode")
            == before[agent] + 1,
            timeout=10,
            what=f"{agent} decode failure",
        )
    live.settle()
