"""Verdicts on Prometheus' alerting path: it sends to an Alertmanager, its notification queue neither fills
nor drops nor fails to send, and the always-firing watchdog alert fires and reaches Alertmanager. Pure
functions from fetched API data (:mod:`obs_tests.health.prometheus_state`) to
:class:`~obs_tests.health.status.CheckResult`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from obs_tests.clients.prometheus import Sample
from obs_tests.health.recency import ONGOING, Recency
from obs_tests.health.settings import HealthSettings
from obs_tests.health.status import CheckResult, Problem, Status

__all__ = ["judge_alertmanagers", "judge_notifications", "judge_watchdog"]


def judge_alertmanagers(data: Mapping[str, Any], *, wanted: bool | None = True) -> CheckResult:
    """Prometheus sends alerts to at least one Alertmanager. ``wanted``: True when the user asked for one
    (``--alertmanager-url``, or a contract whose ``stack.alertmanager`` is set): none is CRITICAL; False when
    the contract declares none (``stack.alertmanager: null``): not applicable; None when nobody said: a
    WARNING (alerts go nowhere, which may be on purpose)."""
    active = [str(a.get("url", "?")) for a in data.get("activeAlertmanagers") or []]
    dropped = data.get("droppedAlertmanagers") or []
    if not active:
        if wanted is False:
            return CheckResult.skip(
                "prometheus.alertmanagers",
                "prometheus",
                "not applicable: the contract declares no Alertmanager (stack.alertmanager: null)",
            )
        extra = f" ({len(dropped)} dropped by relabelling)" if dropped else ""
        fix = "configure alerting.alertmanagers"
        if not wanted:
            fix += ", or give a contract with stack.alertmanager: null when the stack has none on purpose"
        problem = Problem(
            Status.CRITICAL if wanted else Status.WARNING,
            "alerting",
            f"Prometheus has no Alertmanager{extra}: alerts fire but go nowhere — {fix}",
        )
        return CheckResult.judge("prometheus.alertmanagers", "prometheus", "", [problem], {"alertmanagers": 0.0})
    return CheckResult.judge(
        "prometheus.alertmanagers",
        "prometheus",
        f"{len(active)} Alertmanager(s): {', '.join(active)}",
        [],
        {"alertmanagers": float(len(active))},
    )


def _queue_problems(queue: Sequence[Sample], settings: HealthSettings) -> list[Problem]:
    """A notification queue filled past the warning (or critical) ratio."""
    problems = []
    for sample in queue:
        where = sample.labels.get("instance", "?")
        if sample.value >= settings.queue_critical or sample.value >= settings.queue_warning:
            status = Status.CRITICAL if sample.value >= settings.queue_critical else Status.WARNING
            problems.append(
                Problem(
                    status,
                    f"Prometheus {where}",
                    f"the notification queue is {sample.value:.0%} full — Alertmanager is too slow or unreachable; "
                    "alerts will be dropped when it is full",
                    {"instance": where, "queue_fill_ratio": round(sample.value, 4)},
                )
            )
    return problems


def _dropped_problems(dropped: Sequence[Sample], window: str, recency: Recency) -> list[Problem]:
    """Notifications dropped: CRITICAL while it goes on, a WARNING once it ended within the window."""
    problems = []
    for sample in dropped:
        if sample.value > 0:
            where = sample.labels.get("instance", "?")
            ended = recency.ended(sample)
            lost = f"{sample.value:.0f} alert notifications dropped in the last {window}"
            why = "(no Alertmanager accepted them, or the queue overflowed)"
            problems.append(
                Problem(
                    Status.CRITICAL if ended is None else Status.WARNING,
                    f"Prometheus {where}",
                    f"{lost} {why} — those alerts never reached anyone"
                    if ended is None
                    else f"{lost}, {recency.describe(ended)}; those alerts never reached anyone",
                    {"instance": where, "dropped": round(sample.value, 1), **recency.fields(ended)},
                )
            )
    return problems


def _send_error_problems(errors: Sequence[Sample], window: str, recency: Recency) -> list[Problem]:
    """A WARNING per Alertmanager that sends to failed, saying when they stopped if they did."""
    problems = []
    for sample in errors:
        where = sample.labels.get("alertmanager", "?")
        ended = recency.ended(sample)
        failed = f"{sample.value:.0f} failed send(s) from Prometheus {sample.labels.get('instance', '?')} in the last "
        problems.append(
            Problem(
                Status.WARNING,
                f"Alertmanager {where}",
                f"{failed}{window} — is that Alertmanager up and reachable?"
                if ended is None
                else f"{failed}{window}, {recency.describe(ended)}",
                {
                    "alertmanager": where,
                    "instance": sample.labels.get("instance", "?"),
                    "errors": round(sample.value, 1),
                    **recency.fields(ended),
                },
            )
        )
    return problems


def judge_notifications(
    queue: Sequence[Sample],
    dropped: Sequence[Sample],
    errors: Sequence[Sample],
    settings: HealthSettings,
    *,
    dropped_recency: Recency = ONGOING,
    errors_recency: Recency = ONGOING,
) -> CheckResult:
    """The notification queue is not filling up, no alert was dropped, no send failed (over the window). Drops
    that ended within the window (``dropped_recency``) are a recovered incident: WARNING with when they ended,
    not CRITICAL."""
    window = settings.window_text
    fill = max((s.value for s in queue), default=0.0)
    problems = [
        *_queue_problems(queue, settings),
        *_dropped_problems(dropped, window, dropped_recency),
        *_send_error_problems(errors, window, errors_recency),
    ]
    metrics = {"notification_queue_ratio": round(fill, 4)}
    return CheckResult.judge(
        "prometheus.notifications",
        "prometheus",
        f"queue {fill:.0%} full, nothing dropped and no failed send in the last {window}",
        problems,
        metrics,
    )


_ALWAYS = re.compile(r"\s*(vector\(\s*1\s*\)|1)\s*")


def _alerting_rules(groups: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for g in groups for r in g.get("rules") or [] if r.get("type") == "alerting"]


def judge_watchdog(
    name: str,
    alerts: Sequence[Mapping[str, Any]],
    groups: Sequence[Mapping[str, Any]],
    am_alerts: Sequence[Mapping[str, Any]] | None = None,
    am_url: str | None = None,
    *,
    am_age: float | None = None,
    resend_grace: float = 75.0,
    discover: bool = False,
) -> CheckResult:
    """The always-firing watchdog alert fires in Prometheus and (given an Alertmanager) reached it.

    Alertmanager keeps no alerts across a restart; Prometheus re-sends firing alerts every
    ``--rules.alert.resend-delay``. An Alertmanager younger (``am_age`` seconds) than ``resend_grace``
    that lacks the watchdog is a WARNING, not yet a CRITICAL. ``discover``: when no rule is named
    ``name``, an alerting rule whose expression always fires (``vector(1)``) under another name — as
    community packs write their watchdogs — is the watchdog."""
    rules = _alerting_rules(groups)
    if discover and not any(r.get("name") == name for r in rules):
        stand_in = next((r for r in rules if _ALWAYS.fullmatch(str(r.get("query", "")))), None)
        if stand_in is not None:
            found = str(stand_in.get("name"))
            result = _judge_watchdog(found, alerts, groups, am_alerts, am_url, am_age=am_age, resend_grace=resend_grace)
            note = f" (no rule named {name}; {found} always fires: expr {stand_in.get('query')})"
            return replace(result, summary=result.summary + note) if result.status is Status.OK else result
    return _judge_watchdog(name, alerts, groups, am_alerts, am_url, am_age=am_age, resend_grace=resend_grace)


def _judge_watchdog(
    name: str,
    alerts: Sequence[Mapping[str, Any]],
    groups: Sequence[Mapping[str, Any]],
    am_alerts: Sequence[Mapping[str, Any]] | None,
    am_url: str | None,
    *,
    am_age: float | None,
    resend_grace: float,
) -> CheckResult:
    mine = [a for a in alerts if a.get("labels", {}).get("alertname") == name]
    firing = [a for a in mine if a.get("state") == "firing"]
    check = "pipeline.watchdog"
    if not firing:
        rule = next((r for r in _alerting_rules(groups) if r.get("name") == name), None)
        if mine:
            problem = Problem(
                Status.WARNING,
                f"alert {name}",
                f"pending, not firing yet ({len(mine)} instance(s)) — a watchdog should have no `for:`",
            )
        elif rule is None:
            problem = Problem(
                Status.WARNING,
                f"alert {name}",
                f"no alerting rule named {name} is loaded, so nothing proves the alerting pipeline alive — add an "
                "always-firing rule (expr: vector(1)) or name yours with --watchdog-alert",
            )
        else:
            error = rule.get("lastError") or ""
            problem = Problem(
                Status.CRITICAL,
                f"alert {name}",
                f"the rule is loaded but the alert is not firing (health {rule.get('health', '?')}"
                + (f": {error}" if error else "")
                + ") — rule evaluation is broken",
            )
        return CheckResult.judge(check, "pipeline", "", [problem])
    if am_alerts is not None:
        received = [a for a in am_alerts if a.get("labels", {}).get("alertname") == name]
        if not received and am_age is not None and am_age < resend_grace:
            problem = Problem(
                Status.WARNING,
                f"alert {name}",
                f"firing in Prometheus, not yet in Alertmanager at {am_url}, which started {am_age:.0f}s ago — "
                f"Prometheus re-sends firing alerts every resend delay (expected within {resend_grace:.0f}s)",
            )
            return CheckResult.judge(check, "pipeline", "", [problem])
        if not received:
            problem = Problem(
                Status.CRITICAL,
                f"alert {name}",
                f"firing in Prometheus but Alertmanager at {am_url} does not have it — alerts from Prometheus do not "
                "reach Alertmanager (alerting config, network, or a different Alertmanager)",
            )
            return CheckResult.judge(check, "pipeline", "", [problem])
        return CheckResult.judge(check, "pipeline", f"{name} firing in Prometheus and received by Alertmanager", [])
    return CheckResult.judge(check, "pipeline", f"{name} firing in Prometheus", [])
