from __future__ import annotations

from collections import Counter

from obs_tests.demo.accounting import (
    GATEWAY_METRICS,
    PIPELINE_METRICS,
    Workload,
    check_accounting,
    check_signal_flow,
    expected_deltas,
    format_key,
)

WORK = Workload(accepted_by_action=Counter(buy=5, sell=3, hold=2), invalid_by_reason=Counter(missing_field=4))


def _key(metric: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return metric, tuple(sorted(labels.items()))


def test_expected_deltas_follow_routing() -> None:
    expected = expected_deltas(WORK)
    assert expected[_key("gateway_webhooks_total", status="accepted")] == 10
    assert expected[_key("gateway_webhooks_total", status="invalid")] == 4
    assert expected[_key("gateway_processing_duration_seconds_count")] == 14
    assert expected[_key("gateway_validation_errors_total", reason="missing_field")] == 4
    # risk and sentiment get every signal, momentum and correlation only buy/sell
    assert expected[_key("agent_messages_processed_total", agent_type="risk")] == 10
    assert expected[_key("agent_messages_processed_total", agent_type="sentiment")] == 10
    assert expected[_key("agent_messages_processed_total", agent_type="momentum")] == 8
    assert expected[_key("agent_messages_processed_total", agent_type="correlation")] == 8
    assert expected[_key("orchestrator_workflows_total", status="completed")] == 10


def _ledger(expected: dict, scale: float = 1.0) -> dict:
    return {k: v * scale for k, v in expected.items()}


def test_exact_match_passes() -> None:
    expected = expected_deltas(WORK)
    before = dict.fromkeys(expected, 100.0)
    after = {k: 100.0 + v for k, v in expected.items()}
    assert check_accounting(expected, before, after, GATEWAY_METRICS + PIPELINE_METRICS) == []


def test_shortfall_and_surplus_are_reported_per_series() -> None:
    expected = expected_deltas(WORK)
    before = dict.fromkeys(expected, 0.0)
    after = dict(expected)
    after[_key("gateway_webhooks_total", status="accepted")] = 8
    after[_key("gateway_webhooks_total", status="error")] = 2
    after[_key("gateway_validation_errors_total", reason="wrong_type")] = 1
    findings = {f.subject: f.message for f in check_accounting(expected, before, after, GATEWAY_METRICS)}
    assert findings['gateway_webhooks_total{status="accepted"}'] == "expected +10, got +8 (2 unaccounted)"
    assert findings['gateway_webhooks_total{status="error"}'] == "expected +0, got +2 (2 counted that did not happen)"
    assert findings['gateway_validation_errors_total{reason="wrong_type"}'].startswith("expected +0, got +1")


def test_pipeline_loss_is_named() -> None:
    expected = expected_deltas(WORK)
    after = dict(expected)
    after[_key("agent_messages_processed_total", agent_type="momentum")] = 0
    [finding] = check_accounting(expected, {}, after, PIPELINE_METRICS)
    assert finding.subject == 'agent_messages_processed_total{agent_type="momentum"}'
    assert "8 unaccounted" in finding.message


def test_format_key() -> None:
    assert format_key(_key("x")) == "x"
    assert format_key(_key("x", a="1", b="2")) == 'x{a="1", b="2"}'


def test_signal_flow() -> None:
    cid = "trace-1"
    logs = {
        "gateway": [{"correlation_id": cid}],
        "agent-risk": [{"correlation_id": cid}],
        "agent-sentiment": [{"correlation_id": cid}],
        "agent-momentum": [{"correlation_id": "other"}],
        "orchestrator": [{"correlation_id": cid}],
    }
    assert check_signal_flow(cid, "hold", logs) == []
    findings = check_signal_flow(cid, "buy", logs)
    assert [f.subject for f in findings] == ["agent-momentum", "agent-correlation"]
    assert "never appears in its log" in findings[0].message
    assert findings[1].message == "no log available for this component"
