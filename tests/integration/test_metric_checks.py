"""Every metric check fails, with a clear message, on a real broken variant of the mock system.

Broken variants are switched on through the services' admin endpoint (exposition corruptions, faults)
on a stack of this module's own — their history (a counter that went down, exploded series) must not
leak into other tests. The checks run the way users run them: `obs-tests check -k ...`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from obs_tests.clients.services import ServiceClient
from obs_tests.config.contract import load_contract
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.demo.workload import measure_latency_quantiles, run_accounting, trace_signal, wait_scraped_after
from obs_tests.stack import EmbeddedStack

from .helpers import CONTRACT, ROOT, check_stack_of_yours

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def broken() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(load_contract(CONTRACT)) as stack:
        yield stack


def _check(stack: EmbeddedStack, keyword: str, tmp_path: Path, contract: Path = CONTRACT) -> tuple[int, str]:
    return check_stack_of_yours(stack.prometheus_url, contract, tmp_path, keyword)


def _job(component: str) -> str:
    return "agents" if component.startswith("agent-") else component


def _corrupt(stack: EmbeddedStack, component: str, *names: str) -> ServiceClient:
    admin = ServiceClient(stack.url(component))
    admin.patch_faults({"exposition": list(names)})
    wait_scraped_after(stack.prometheus(), [_job(component)], time.time())
    return admin


def _heal(stack: EmbeddedStack, component: str, admin: ServiceClient) -> None:
    admin.clear_faults()
    wait_scraped_after(stack.prometheus(), [_job(component)], time.time())


def test_counter_reset_by_restart_is_allowed(broken: EmbeddedStack, tmp_path: Path) -> None:
    broken.restart("gateway")
    broken.heal()
    wait_scraped_after(broken.prometheus(), ["gateway"], time.time())
    code, out = _check(broken, "counters_never_decrease", tmp_path)
    assert code == 0, out
    resets = int(out.split(" resets by restart")[0].rsplit("; ", 1)[1])
    assert resets >= 1, out


def test_counter_going_down_without_restart_fails(broken: EmbeddedStack, tmp_path: Path) -> None:
    admin = _corrupt(broken, "gateway", "counter_decrease")
    try:
        code, out = _check(broken, "counters_never_decrease", tmp_path)
    finally:
        _heal(broken, "gateway", admin)
    assert code == 1, out
    assert 'job="gateway", service="gateway"}: went down from' in out
    assert "without a restart (process_start_time_seconds stayed" in out


@pytest.mark.parametrize(
    ("corruption", "message"),
    [
        ("histogram_nonmonotonic", "buckets must be cumulative"),
        ("histogram_inf_mismatch", 'le="+Inf" bucket = '),
    ],
)
def test_broken_histogram_fails(broken: EmbeddedStack, tmp_path: Path, corruption: str, message: str) -> None:
    admin = _corrupt(broken, "gateway", corruption)
    try:
        code, out = _check(broken, "histogram_consistent and gateway", tmp_path)
    finally:
        _heal(broken, "gateway", admin)
    assert code == 1, out
    assert "gateway_processing_duration_seconds" in out and message in out


def test_histogram_that_does_not_describe_client_latency_fails(broken: EmbeddedStack) -> None:
    """A gateway that observes milliseconds into its _seconds histogram: quantiles are wrong."""
    admin = _corrupt(broken, "gateway", "histogram_unit_ms")
    try:
        results = measure_latency_quantiles(broken.prometheus(), broken.url("gateway"), n=100)
    finally:
        _heal(broken, "gateway", admin)
    findings = [f for r in results for f in r.findings]
    assert len(findings) == 2, findings
    assert "histogram_quantile gives 5000.0 ms, the workload measured" in findings[0].message
    assert "off by more than one bucket width" in findings[0].message


def test_gauge_out_of_range_fails(broken: EmbeddedStack, tmp_path: Path) -> None:
    admin = _corrupt(broken, "agent-risk", "gauge_out_of_range")
    try:
        code, out = _check(broken, "gauge_in_range and agent_confidence_score", tmp_path)
    finally:
        _heal(broken, "agent-risk", admin)
    assert code == 1, out
    assert 'agent_confidence_score{agent_type="risk"' in out and "= 1.5 > max 1" in out


def test_metric_named_against_conventions_is_flagged_by_promtool(broken: EmbeddedStack, tmp_path: Path) -> None:
    admin = _corrupt(broken, "gateway", "bad_metric_name")
    try:
        code, out = _check(broken, "exposition_lint and gateway", tmp_path)
    finally:
        _heal(broken, "gateway", admin)
    assert code == 1, out
    assert "promtool: mockLatencyMilliseconds: metric names should be written in 'snake_case'" in out


def test_exposition_disagreeing_with_the_contract_fails(broken: EmbeddedStack, tmp_path: Path) -> None:
    admin = _corrupt(broken, "agent-risk", "unexpected_label", "type_mismatch")
    try:
        code, out = _check(broken, "exposition_matches_contract and agents", tmp_path)
    finally:
        _heal(broken, "agent-risk", admin)
    assert code == 1, out
    assert "agent_confidence_score is exposed as unknown (# TYPE), the contract declares gauge" in out
    assert "has label(s) the contract does not declare: pod" in out


def test_label_explosion_over_budget_fails(broken: EmbeddedStack, tmp_path: Path) -> None:
    admin = _corrupt(broken, "gateway", "label_explosion")
    try:
        code, out = _check(broken, "cardinality_budget and gateway_webhooks_total", tmp_path)
    finally:
        _heal(broken, "gateway", admin)
    assert code == 1, out
    assert "over the budget of 12" in out
    assert "labels with the most values: status (20" in out and "exploded_" in out


def test_declared_metric_nobody_exports_fails(broken: EmbeddedStack, tmp_path: Path) -> None:
    data = yaml.safe_load(CONTRACT.read_text())
    data["metrics"].append({"name": "gateway_signals_routed_total", "type": "counter", "job": "gateway"})
    data["files"] = {
        k: str(ROOT / v) if isinstance(v, str) else [str(ROOT / p) for p in v] for k, v in data["files"].items()
    }
    contract = tmp_path / "obs.yaml"
    contract.write_text(yaml.safe_dump(data))
    code, out = _check(broken, "metric_present or metrics_coverage", tmp_path, contract=contract)
    assert code == 1, out
    assert "Prometheus has no series of gateway_signals_routed_total by job 'gateway'" in out
    assert "metric gateway_signals_routed_total: declared in obs.yaml but no target exports it" in out


def test_killed_target_makes_its_series_stale(broken: EmbeddedStack, tmp_path: Path) -> None:
    prom = broken.prometheus()
    broken.kill("exchange")
    try:
        wait_for(
            lambda: Poll(not prom.query("exchange_price"), None),
            timeout=15,
            expected="exchange_price series stale after the kill",
            bound="1 scrape interval + scrape timeout",
        )
        code, out = _check(broken, "metric_fresh and exchange_price", tmp_path)
    finally:
        broken.heal()
    assert code == 1, out
    assert "3 series went stale (seen recently, gone now — is their target down?)" in out
    assert 'exchange_price{instance="127.0.0.1:' in out


def test_accounting_detects_silently_dropped_publishes(broken: EmbeddedStack) -> None:
    admin = ServiceClient(broken.url("gateway"))
    with admin.faults_applied({"drop_publishes": 1.0}):
        run = run_accounting(broken.prometheus(), broken.url("gateway"), n_valid=30, n_invalid=10, seed=5)
    messages = {f.subject: f.message for f in run.findings}
    assert not any(s.startswith("gateway_") for s in messages), messages  # the gateway counted what it answered
    risk = messages['agent_messages_processed_total{agent_type="risk"}']
    assert risk == "expected +30, got +0 (30 unaccounted)"
    assert 'orchestrator_workflows_total{status="completed"}' in messages


def test_signal_flow_detects_a_signal_that_never_arrives(broken: EmbeddedStack) -> None:
    logs = {name: broken.log_path(name) for name in broken.components}
    admin = ServiceClient(broken.url("gateway"))
    with admin.faults_applied({"drop_publishes": 1.0}):
        correlation_id, findings = trace_signal(broken.prometheus(), broken.url("gateway"), logs, action="hold")
    subjects = [f.subject for f in findings]
    assert {"agent-risk", "agent-sentiment", "orchestrator"} <= set(subjects)
    assert "gateway" not in subjects
    assert any(correlation_id in f.message and "never appears in its log" in f.message for f in findings)
