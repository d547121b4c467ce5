"""The embedded stack of real servers: readiness, process control, and checks failing on real faults."""

from __future__ import annotations

import time

import pytest
import requests

from obs_tests.checks.targets import MetricGroups, check_job_targets, check_metric_present, metric_groups_query
from obs_tests.clients.prometheus import PrometheusClient, Target
from obs_tests.config.contract import Contract, Metric
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import UnknownComponent
from obs_tests.stack import EmbeddedStack, Stack

pytestmark = pytest.mark.stack


def _target(prom: PrometheusClient, service: str) -> Target:
    return next(t for t in prom.targets() if t.labels.get("service") == service)


def _wait_health(prom: PrometheusClient, service: str, health: str, after: float = 0.0) -> Target:
    def probe() -> Poll[Target]:
        t = _target(prom, service)
        fresh = t.last_scrape is not None and t.last_scrape > after
        return Poll(t.health == health and fresh, t, f"{service}: {t.health} (last error {t.last_error!r})")

    return wait_for(
        probe, timeout=15, interval=0.1, expected=f"{service} {health}", bound="1 scrape interval + timeout"
    )


def test_every_component_ready_and_every_target_up(
    stack: EmbeddedStack, prom: PrometheusClient, contract: Contract
) -> None:
    assert all(s.ready for s in stack.status()), stack.status()
    targets = prom.targets()
    for job in contract.jobs:
        assert check_job_targets(job, targets) == []
    assert prom.query_value('sum(orchestrator_workflows_total{status="completed"})') >= 3
    flags = prom.flags()
    assert flags["web.enable-lifecycle"] == "true"
    assert flags["rules.alert.resend-delay"] == "1s"
    assert "obs-tests-stack-" in flags["storage.tsdb.path"]


def test_alertmanager_runs_without_cluster(stack: EmbeddedStack) -> None:
    status = requests.get(f"{stack.alertmanager_url}/api/v2/status", timeout=5).json()
    assert status["cluster"]["status"] == "disabled"


def test_urls_and_ports(stack: EmbeddedStack) -> None:
    assert stack.url("nats").startswith("nats://127.0.0.1:")
    assert stack.url("redis").startswith("redis://127.0.0.1:")
    assert requests.get(f"http://127.0.0.1:{stack.port('nats', 'monitor')}/healthz", timeout=5).ok
    with pytest.raises(UnknownComponent, match="unknown component 'gatewy' — this stack runs: prometheus"):
        stack.url("gatewy")


def test_a_started_embedded_stack_is_a_stack(stack: EmbeddedStack) -> None:
    assert isinstance(stack, Stack)
    assert stack.time_scale == stack.contract.stack.time_scale and stack.load_targets is not None


def test_kill_gateway_is_named_by_targets_check(
    healthy_stack: EmbeddedStack, prom: PrometheusClient, contract: Contract
) -> None:
    old_pid = healthy_stack.pid("gateway")
    healthy_stack.kill("gateway")
    # after kill() returned: the process is reaped, so a scrape from then on is refused; one that began
    # while it was dying reads EOF or a reset instead (CI: the finding without "connection refused")
    killed_at = time.time()
    down = _wait_health(prom, "gateway", "down", after=killed_at)
    [finding] = check_job_targets(contract.job("gateway"), prom.targets(), now=time.time())
    assert f"target {down.instance} (service=gateway) is DOWN" in finding.message
    assert "connection refused" in finding.message
    healthy_stack.start("gateway")
    assert healthy_stack.pid("gateway") != old_pid
    _wait_health(prom, "gateway", "up", after=time.time())


def test_pause_makes_scrapes_time_out(healthy_stack: EmbeddedStack, prom: PrometheusClient) -> None:
    paused_at = time.time()
    healthy_stack.pause("exchange")
    assert [s.state for s in healthy_stack.status() if s.name == "exchange"] == ["paused"]
    down = _wait_health(prom, "exchange", "down", after=paused_at)
    assert "deadline exceeded" in down.last_error
    healthy_stack.resume("exchange")
    _wait_health(prom, "exchange", "up", after=time.time())


def test_restart_changes_process_start_time(healthy_stack: EmbeddedStack, prom: PrometheusClient) -> None:
    query = 'process_start_time_seconds{service="orchestrator"}'
    before = prom.query_value(query)
    old_pid = healthy_stack.pid("orchestrator")
    healthy_stack.restart("orchestrator")
    assert healthy_stack.pid("orchestrator") != old_pid

    def probe() -> Poll[float]:
        value = prom.query_value(query) or 0.0
        return Poll(value > before, value)

    after = wait_for(probe, timeout=15, interval=0.1, expected="a new process_start_time_seconds")
    assert after > before


def test_stop_and_start(healthy_stack: EmbeddedStack) -> None:
    healthy_stack.stop("agent-risk")
    assert [s.state for s in healthy_stack.status() if s.name == "agent-risk"] == ["exited"]
    healthy_stack.start("agent-risk")
    assert [s.ready for s in healthy_stack.status() if s.name == "agent-risk"] == [True]


def test_heal_restores_everything(healthy_stack: EmbeddedStack, prom: PrometheusClient) -> None:
    healthy_stack.kill("agent-momentum")
    healthy_stack.pause("webhook-sink")
    assert sorted(healthy_stack.heal()) == ["agent-momentum", "webhook-sink"]
    assert all(t.up for t in prom.targets())


def test_metric_nobody_exports_fails_live(prom: PrometheusClient) -> None:
    """A contract metric with a typo is reported missing, with the real name suggested."""
    metric = Metric("gateway_webhook_total", "counter", job="gateway", labels=("source", "status"))
    groups = MetricGroups(tuple(prom.query(metric_groups_query(metric))))
    [finding] = check_metric_present(metric, groups, prom.metric_names())
    assert "no series of gateway_webhook_total by job 'gateway'" in finding.message
    assert "closest exported names: gateway_webhooks_total" in finding.message


def test_metric_missing_a_declared_label_fails_live(prom: PrometheusClient) -> None:
    metric = Metric("gateway_webhooks_total", "counter", job="gateway", labels=("source", "status", "tenant"))
    groups = MetricGroups(tuple(prom.query(metric_groups_query(metric))))
    [finding] = check_metric_present(metric, groups)
    assert "3 of 3 series lack the declared label 'tenant'" in finding.message
