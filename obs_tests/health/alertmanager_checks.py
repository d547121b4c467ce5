"""Health of an Alertmanager: ready, cluster, receivers — from its API — and failing notifications,
from Prometheus' view of ``alertmanager_notifications_failed_total`` (read-only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.prometheus import Sample, Target
from obs_tests.errors import ApiError
from obs_tests.health.status import CheckResult, Problem, Status

__all__ = [
    "AlertmanagerState",
    "fetch_alertmanager",
    "judge_am_api",
    "judge_am_cluster",
    "judge_am_notifications",
    "judge_am_receivers",
]


@dataclass
class AlertmanagerState:
    """What one run fetched from Alertmanager."""

    url: str
    ready: bool
    status: dict[str, Any]
    receivers: list[str] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


def fetch_alertmanager(client: AlertmanagerClient) -> AlertmanagerState:
    """``/-/ready``, ``/api/v2/status``, ``/api/v2/receivers`` and the active alerts (errors propagate)."""
    ready = client.request("GET", "/-/ready", expect=(200, 503)).status_code == 200
    status = client.status()
    if not isinstance(status, dict) or "cluster" not in status:
        raise ApiError(
            f"Alertmanager at {client.base_url}: /api/v2/status has no 'cluster' — is this URL really Alertmanager?"
        )
    receivers = client.receivers()
    alerts = client.alerts(silenced=True, inhibited=True)
    return AlertmanagerState(client.base_url, ready, status, receivers, alerts)


def judge_am_api(state: AlertmanagerState) -> CheckResult:
    """Alertmanager answers and is ready."""
    version = str(state.status.get("versionInfo", {}).get("version", "?"))
    where = f"Alertmanager {version} at {state.url}"
    if not state.ready:
        problem = Problem(Status.CRITICAL, where, "/-/ready answers 503: not ready")
        return CheckResult.judge("alertmanager.api", "alertmanager", "", [problem])
    return CheckResult.judge("alertmanager.api", "alertmanager", f"{where} is ready", [])


def judge_am_cluster(status: Mapping[str, Any]) -> CheckResult:
    """The cluster is ready (or clustering is disabled: a single instance)."""
    cluster = status.get("cluster") or {}
    state = str(cluster.get("status", "?"))
    peers = cluster.get("peers") or []
    metrics = {"alertmanager_peers": float(len(peers))}
    if state == "disabled":
        return CheckResult.judge(
            "alertmanager.cluster", "alertmanager", "clustering disabled (a single instance)", [], metrics
        )
    if state == "ready":
        return CheckResult.judge(
            "alertmanager.cluster", "alertmanager", f"cluster ready with {len(peers)} peer(s)", [], metrics
        )
    problem = Problem(
        Status.WARNING,
        "cluster",
        f"cluster status '{state}' with {len(peers)} peer(s) — still settling after a start, or the peers cannot "
        "reach each other (--cluster.peer, port 9094): notifications may be duplicated or lost",
        {"cluster_status": state, "peers": len(peers)},
    )
    return CheckResult.judge("alertmanager.cluster", "alertmanager", "", [problem], metrics)


def judge_am_receivers(receivers: Sequence[str]) -> CheckResult:
    """Alertmanager has receivers configured."""
    if not receivers:
        problem = Problem(Status.CRITICAL, "receivers", "no receiver configured: notifications go nowhere")
        return CheckResult.judge("alertmanager.receivers", "alertmanager", "", [problem])
    return CheckResult.judge(
        "alertmanager.receivers",
        "alertmanager",
        f"{len(receivers)} receiver(s): {', '.join(receivers)}",
        [],
        {"alertmanager_receivers": float(len(receivers))},
    )


def _alertmanager_targets(targets: Sequence[Target], alertmanager_url: str | None) -> list[Target]:
    """The scrape targets of Alertmanager: a job named for it, or the address of the Alertmanager checked."""
    address = urlsplit(alertmanager_url).netloc.rpartition("@")[2] if alertmanager_url else ""
    return [t for t in targets if "alertmanager" in t.job.lower() or (address and t.instance == address)]


def judge_am_notifications(
    failed: Sequence[Sample],
    total: Sequence[Sample],
    window: str,
    *,
    scraped: bool,
    alertmanager_given: bool,
    targets: Sequence[Target] = (),
    alertmanager_url: str | None = None,
) -> CheckResult:
    """No integration failed to deliver notifications over the window (CRITICAL when every attempt failed).
    ``scraped``: Prometheus has ``alertmanager_notifications_total`` series at all; ``targets``: the
    scrape targets, to tell a scrape job that is missing from one whose target is down."""
    name = "alertmanager.notifications"
    if not scraped:
        down = [t for t in _alertmanager_targets(targets, alertmanager_url) if not t.up]
        if down:
            where = ", ".join(f"job {t.job} target {t.instance}" for t in down)
            return CheckResult.skip(
                name,
                "alertmanager",
                f"not judged now: Prometheus cannot scrape Alertmanager ({where} is down), so its notification "
                "counters are stale",
            )
        if not alertmanager_given:
            return CheckResult.skip(name, "alertmanager", "Prometheus has no alertmanager_notifications_total series")
        problem = Problem(
            Status.WARNING,
            "self-monitoring",
            "Prometheus does not scrape Alertmanager (no alertmanager_notifications_total series): failing "
            "notifications would go unnoticed — add a scrape job for Alertmanager",
        )
        return CheckResult.judge(name, "alertmanager", "", [problem])
    sent = {(s.labels.get("instance", ""), s.labels.get("integration", "")): s.value for s in total}
    problems = []
    for sample in failed:
        if sample.value <= 0:
            continue
        key = (sample.labels.get("instance", ""), sample.labels.get("integration", ""))
        attempts = sent.get(key, 0.0)
        every = attempts > 0 and sample.value >= attempts
        problems.append(
            Problem(
                Status.CRITICAL if every else Status.WARNING,
                f"integration {key[1]} ({key[0]})",
                f"{sample.value:.0f} of {attempts:.0f} notifications failed in the last {window}"
                + (" — every one: nobody is being notified" if every else "")
                + " — check the receiver's URL/credentials in the Alertmanager log",
                {"instance": key[0], "integration": key[1], "failed": round(sample.value, 1), "total": attempts},
            )
        )
    count = sum(sent.values())
    return CheckResult.judge(
        name,
        "alertmanager",
        f"{count:.0f} notifications in the last {window}, none failed",
        problems,
        {"notifications_failed": float(sum(s.value for s in failed))},
    )
