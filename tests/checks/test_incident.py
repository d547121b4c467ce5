"""After a high-load incident: health endpoints probed (a real HTTP server on loopback answering 200, 503,
or too late), and the whole incident on the embedded stack — passing, and failing when a component stops
answering its health endpoint after the burst."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from obs_tests.checks.incident import HealthEndpoint, health_endpoints, probe_health
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.scenarios.settling import settle
from obs_tests.stack import EmbeddedStack
from obs_tests.stack.system_under_test import WorkloadContext
from tests.loopback import serving


def test_health_endpoints_are_the_monitorings_own_and_each_services_path() -> None:
    urls = {"prometheus": "http://p:1/", "alertmanager": "http://a:2", "gateway": "http://g:3", "redis": "r"}
    found = health_endpoints(urls, {"gateway": "/healthz", "bot": "/healthz"})
    assert found == [
        HealthEndpoint("prometheus", "http://p:1/-/healthy"),
        HealthEndpoint("prometheus", "http://p:1/-/ready"),
        HealthEndpoint("alertmanager", "http://a:2/-/healthy"),
        HealthEndpoint("gateway", "http://g:3/healthz"),  # bot: no URL, not probed
    ]


@pytest.fixture
def health_server() -> Iterator[str]:
    """``/ok`` 200, ``/down`` 503, ``/stuck`` answers only once the test is over."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/stuck":
                release.wait(10)
            self.send_response({"/ok": 200, "/down": 503}.get(self.path, 200))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        try:
            yield url
        finally:
            release.set()  # before the server shuts down: it waits for the stuck request


def test_every_endpoint_answering_200_is_healthy(health_server: str) -> None:
    assert probe_health([HealthEndpoint("gateway", f"{health_server}/ok")]) == []


def test_an_endpoint_answering_503_or_too_late_or_not_at_all_is_a_finding(health_server: str, closed_port: int) -> None:
    findings = probe_health(
        [
            HealthEndpoint("gateway", f"{health_server}/ok"),
            HealthEndpoint("orchestrator", f"{health_server}/down"),
            HealthEndpoint("exchange", f"{health_server}/stuck"),
            HealthEndpoint("bot", f"http://127.0.0.1:{closed_port}/healthz"),
        ],
        timeout=0.5,
    )
    assert [(f.subject, f.message.split(" ", 1)[1]) for f in findings] == [
        ("orchestrator", "answered 503, not 200"),
        ("exchange", "did not answer within 0.5s"),
        ("bot", "unreachable: ConnectionError"),
    ]


def _incident(stack: EmbeddedStack, prom: PrometheusClient) -> tuple[str, list[str]]:
    assert stack.system is not None
    context = WorkloadContext(prom, {c: stack.url(c) for c in stack.components}, {})
    outcome = stack.system.workloads["high_load_incident"](context)
    return outcome.summary, [str(f) for f in outcome.findings]


@pytest.mark.stack
@pytest.mark.load
def test_the_incident_holds_on_a_healthy_stack(stack: EmbeddedStack, prom: PrometheusClient) -> None:
    summary, findings = _incident(stack, prom)
    assert not findings, "\n".join(findings)
    assert summary.startswith("1000 webhooks (1000 valid, 0 invalid, 0 errors): 0 series off, sent at once")
    assert "unexpected alert" in summary and " 0 unexpected" in summary


@pytest.mark.stack
@pytest.mark.load
def test_the_incident_fails_when_a_component_stops_answering_its_health_endpoint(
    stack: EmbeddedStack, prom: PrometheusClient
) -> None:
    stack.pause("exchange")  # stuck (SIGSTOP): its /healthz does not answer; not on the webhooks' path
    try:
        summary, findings = _incident(stack, prom)
    finally:
        stack.resume("exchange")
        settle(prom, None, frozenset(), timeout=60.0, stop=threading.Event())  # what it fired cleared
    assert any(f.startswith("[health] exchange: ") and "healthz did not answer within" in f for f in findings), findings
    assert "0 series off" in summary  # the accounting still held: what failed is the health endpoint
