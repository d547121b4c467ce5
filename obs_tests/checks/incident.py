"""After a high-load incident: does every component still answer its health endpoint, and did any alert
fire that the incident should not have caused?

- :func:`health_endpoints` — where each component says it is healthy: ``/-/healthy`` and ``/-/ready`` of
  Prometheus, ``/-/healthy`` of Alertmanager, the health path of every service of the system under test;
- :func:`probe_health` — a finding for every endpoint that does not answer 200 (its status, or that it did
  not answer within the timeout);
- :func:`unexpected_alerts` — once no alert is left pending (each either fired or went away: at most the
  longest ``for:`` of the loaded rules plus two evaluations), a finding for every alert that was firing
  at any time since the incident began and is neither the watchdog nor expected.

Example::

    findings = probe_health(health_endpoints(urls, {"gateway": "/healthz"}))
    findings += unexpected_alerts(prom, since=started, expected={"GatewayHighLatency"})
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import requests

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.core.findings import Finding
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, WaitTimeout

__all__ = ["HealthEndpoint", "health_endpoints", "probe_health", "unexpected_alerts"]

#: the monitoring's own health endpoints
MONITORING_HEALTH = {"prometheus": ("/-/healthy", "/-/ready"), "alertmanager": ("/-/healthy",)}
WATCHDOG = "Watchdog"


@dataclass(frozen=True)
class HealthEndpoint:
    """A component's health endpoint."""

    component: str
    url: str


def health_endpoints(urls: Mapping[str, str], service_paths: Mapping[str, str]) -> list[HealthEndpoint]:
    """The health endpoints of the components in ``urls`` (component → base URL): Prometheus' and
    Alertmanager's own, and ``service_paths`` (component → health path) for the services."""
    found = []
    for component, paths in MONITORING_HEALTH.items():
        if component in urls:
            found += [HealthEndpoint(component, urls[component].rstrip("/") + path) for path in paths]
    for component, path in service_paths.items():
        if component in urls:
            found.append(HealthEndpoint(component, urls[component].rstrip("/") + path))
    return found


def probe_health(endpoints: Sequence[HealthEndpoint], *, timeout: float = 2.0) -> list[Finding]:
    """A finding for each endpoint that does not answer 200 within ``timeout`` seconds."""
    findings = []
    with requests.Session() as session:
        for endpoint in endpoints:
            try:
                status = session.get(endpoint.url, timeout=timeout).status_code
            except requests.Timeout:
                findings.append(
                    Finding("health", endpoint.component, f"{endpoint.url} did not answer within {timeout:g}s")
                )
                continue
            except requests.RequestException as exc:
                findings.append(
                    Finding("health", endpoint.component, f"{endpoint.url} unreachable: {type(exc).__name__}")
                )
                continue
            if status != 200:
                findings.append(Finding("health", endpoint.component, f"{endpoint.url} answered {status}, not 200"))
    return findings


def _longest_for(prom: PrometheusClient) -> float:
    durations = [
        float(rule.get("duration") or 0.0)
        for group in prom.rules()
        for rule in group.get("rules") or []
        if rule.get("type") == "alerting"
    ]
    return max(durations, default=0.0)


def unexpected_alerts(
    prom: PrometheusClient, *, since: float, expected: Collection[str] = (), evaluation: float = 1.0
) -> list[Finding]:
    """Findings for the alerts (but the watchdog and ``expected``) firing at any time since ``since``,
    judged once none is pending any more — at most the longest ``for:`` plus two evaluations."""
    bound = _longest_for(prom) + 2 * evaluation

    def settled() -> Poll[list[str]]:
        pending = sorted({a["labels"].get("alertname", "") for a in prom.alerts() if a.get("state") == "pending"})
        return Poll(not pending, pending, f"pending: {', '.join(pending) or 'none'}")

    try:
        wait_for(settled, timeout=bound, interval=0.2, expected="no alert pending", transient=(ObsTestsError,))
    except WaitTimeout as exc:
        return [Finding("alerts", "prometheus", f"alerts still pending after the incident: {exc.message}")]
    window = max(math.ceil(time.time() - since), 1)
    query = f'count by (alertname) (max_over_time(ALERTS{{alertstate="firing"}}[{window}s]))'
    fired = sorted({series.labels.get("alertname", "") for series in prom.query(query)})
    return [
        Finding("alerts", name, f"{name} fired during the incident (expected: {', '.join(sorted(expected)) or 'none'})")
        for name in fired
        if name != WATCHDOG and name not in expected
    ]
