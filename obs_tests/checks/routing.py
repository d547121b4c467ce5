"""Alertmanager routing and notifications: routing tests as data, inhibition, silences, payloads.

Routing tests live in ``alertmanager/tests/*.yml``::

    tests:
      - alert: GatewayDown          # labels: alertname + the rule's static labels (+ `labels:` below)
        receivers: [critical]       # exactly these receivers, in routing-tree order
        labels: {service: gateway}  # optional extra labels the live alert would carry

They run through the real ``amtool config routes test --verify.receivers``; these functions load them,
build the label set from the rule, and judge what amtool, Alertmanager and the webhook sink said.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obs_tests.core.findings import Finding, display_path
from obs_tests.core.yamlfile import closest, load_located
from obs_tests.errors import ConfigInvalid
from obs_tests.rules.rulefiles import Rule

__all__ = [
    "RouteTest",
    "check_inhibition",
    "check_notifications",
    "check_route",
    "check_routing_coverage",
    "load_route_tests",
    "route_labels",
]

_TEST_KEYS = {"alert", "receivers", "labels", "description"}


@dataclass(frozen=True)
class RouteTest:
    """One routing expectation."""

    alert: str
    receivers: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    where: str = ""


def load_route_tests(paths: Iterable[Path]) -> tuple[list[RouteTest], list[Finding]]:
    """Every routing test in ``paths`` and the located problems of the files."""
    tests: list[RouteTest] = []
    problems: list[Finding] = []
    for path in paths:
        try:
            doc = load_located(path, error=ConfigInvalid)
        except ConfigInvalid as exc:
            problems.append(Finding("routing", str(path), exc.message, rule="alertmanager/route"))
            continue
        if isinstance(doc.data, dict) and "tests" not in doc.data and "inhibitions" in doc.data:
            continue  # inhibition tests (verified live), not routing tests
        items = (doc.data or {}).get("tests") if isinstance(doc.data, dict) else None
        if not isinstance(items, list):
            problems.append(
                Finding(
                    "routing",
                    doc.where(()),
                    "expected 'tests:' with a list of routing tests",
                    rule="alertmanager/route",
                )
            )
            continue
        for index, item in enumerate(items):
            here = doc.where(("tests", index))
            if not isinstance(item, dict) or not item.get("alert") or not item.get("receivers"):
                problems.append(
                    Finding("routing", here, "each test needs 'alert' and 'receivers'", rule="alertmanager/route")
                )
                continue
            unknown = sorted(set(item) - _TEST_KEYS)
            if unknown:
                problems.append(
                    Finding(
                        "routing",
                        here,
                        f"unknown field(s) {', '.join(unknown)} — known: {', '.join(sorted(_TEST_KEYS))}",
                        rule="alertmanager/route",
                    )
                )
            receivers = item["receivers"]
            if isinstance(receivers, str):
                receivers = [receivers]
            tests.append(
                RouteTest(
                    alert=str(item["alert"]),
                    receivers=tuple(str(r) for r in receivers),
                    labels={str(k): str(v) for k, v in (item.get("labels") or {}).items()},
                    where=here,
                )
            )
    return tests, problems


def route_labels(test: RouteTest, rules: Mapping[str, Rule]) -> dict[str, str] | Finding:
    """alertname + the rule's static labels + the test's labels; a Finding for an unknown alert."""
    rule = rules.get(test.alert)
    if rule is None:
        hint = closest(test.alert, rules)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        known = ", ".join(sorted(rules)[:12])
        return Finding(
            "routing",
            test.where,
            f"unknown alert '{test.alert}'{did_you_mean} — known: {known}",
            rule="alertmanager/route",
        )
    labels = {k: v for k, v in rule.labels.items() if "{{" not in v}
    return {"alertname": test.alert, **labels, **test.labels}


def check_route(test: RouteTest, labels: Mapping[str, str], got: Sequence[str]) -> list[Finding]:
    """The alert reaches exactly the expected receivers (``got`` = amtool's answer)."""
    if tuple(got) == test.receivers:
        return []
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return [
        Finding(
            "routing",
            f"alert {test.alert} ({test.where})",
            f"routes to [{', '.join(got) or 'nothing'}], expected [{', '.join(test.receivers)}] for labels "
            f"{{{shown}}} — fix the route matchers (or the expectation)",
            rule="alertmanager/route",
        )
    ]


def check_routing_coverage(alerts: Iterable[Rule], tests: Iterable[RouteTest]) -> list[Finding]:
    """Every alert has at least one routing test."""
    tested = {t.alert for t in tests}
    return [
        Finding(
            "routing",
            f"alert {a.name} ({display_path(a.file)}:{a.line})",
            f"no routing test — add `- alert: {a.name}` with its expected receivers to alertmanager/tests/",
            rule="coverage/routing-tests",
            file=str(a.file),
            line=a.line or None,
        )
        for a in alerts
        if a.name not in tested
    ]


def _state(alert: Mapping[str, Any]) -> tuple[str, list[str], list[str]]:
    status = alert.get("status", {})
    return str(status.get("state", "")), list(status.get("inhibitedBy") or []), list(status.get("silencedBy") or [])


def _describe(labels: Mapping[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k not in ("alertname", "obs_probe"))
    return f"alert {labels.get('alertname', '?')}{{{inner}}}"


def _find(am_alerts: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> Mapping[str, Any] | None:
    for alert in am_alerts:
        got = alert.get("labels", {})
        if all(got.get(k) == v for k, v in labels.items()):
            return alert
    return None


def check_inhibition(
    am_alerts: Sequence[Mapping[str, Any]],
    *,
    suppressed: Iterable[Mapping[str, str]],
    active: Iterable[Mapping[str, str]],
) -> list[Finding]:
    """Alerts with the ``suppressed`` label sets are inhibited, those with the ``active`` ones are not
    (``am_alerts`` = Alertmanager's ``/api/v2/alerts``)."""
    findings = []
    for labels in suppressed:
        alert = _find(am_alerts, labels)
        if alert is None:
            findings.append(
                Finding("inhibition", _describe(labels), "never reached Alertmanager", rule="alertmanager/inhibition")
            )
            continue
        state, inhibited_by, _ = _state(alert)
        if state != "suppressed" or not inhibited_by:
            findings.append(
                Finding(
                    "inhibition",
                    _describe(labels),
                    f"should be inhibited but is {state or 'unknown'} (inhibitedBy: {inhibited_by or 'nobody'}) — "
                    "check inhibit_rules (source/target matchers and `equal` labels)",
                    rule="alertmanager/inhibition",
                )
            )
    for labels in active:
        alert = _find(am_alerts, labels)
        if alert is None:
            findings.append(
                Finding("inhibition", _describe(labels), "never reached Alertmanager", rule="alertmanager/inhibition")
            )
            continue
        state, inhibited_by, _ = _state(alert)
        if state != "active":
            findings.append(
                Finding(
                    "inhibition",
                    _describe(labels),
                    f"should stay active but is {state} (inhibitedBy: {inhibited_by}) — an inhibit rule is too broad",
                    rule="alertmanager/inhibition",
                )
            )
    return findings


def check_notifications(
    payloads: Sequence[Mapping[str, Any]],
    *,
    group_by: Mapping[str, Sequence[str]],
    send_resolved: Mapping[str, bool],
) -> list[Finding]:
    """Every payload is grouped by its route's ``group_by``, renders its annotations, and honours
    ``send_resolved`` of its receiver.

    ``group_by`` and ``send_resolved`` map receiver name -> the configured value.
    """
    findings = []
    for payload in payloads:
        receiver = str(payload.get("receiver", ""))
        subject = f"notification to {receiver} ({payload.get('groupKey', '')})"
        expected = group_by.get(receiver)
        group_labels = dict(payload.get("groupLabels") or {})
        alerts = payload.get("alerts") or []
        if expected is not None and "..." not in expected:
            findings += _grouping_findings(subject, expected, group_labels, alerts)
        if payload.get("status") == "resolved" and not send_resolved.get(receiver, True):
            findings.append(
                Finding(
                    "notifications",
                    subject,
                    "a resolved notification reached a receiver with send_resolved: false",
                    rule="alertmanager/notification",
                )
            )
        findings += _annotation_findings(subject, alerts)
    return findings


def _grouping_findings(
    subject: str, expected: Sequence[str], group_labels: Mapping[str, Any], alerts: Sequence[Mapping[str, Any]]
) -> list[Finding]:
    """A payload grouped by other labels than its route's ``group_by``, or holding an alert without them."""
    findings = []
    if set(group_labels) - set(expected):
        findings.append(
            Finding(
                "notifications",
                subject,
                f"grouped by {sorted(group_labels)}, the route says {list(expected)}",
                rule="alertmanager/notification",
            )
        )
    for alert in alerts:
        mismatch = {k: v for k, v in group_labels.items() if alert.get("labels", {}).get(k) != v}
        if mismatch:
            findings.append(
                Finding(
                    "notifications",
                    subject,
                    f"alert {alert.get('labels', {}).get('alertname')} does not share the group labels {mismatch}",
                    rule="alertmanager/notification",
                )
            )
    return findings


def _annotation_findings(subject: str, alerts: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Annotations of a payload's alerts that are empty or not rendered (``{{``, ``<no value>``)."""
    findings = []
    for alert in alerts:
        name = alert.get("labels", {}).get("alertname", "?")
        for key, text in (alert.get("annotations") or {}).items():
            if not str(text).strip():
                findings.append(
                    Finding(
                        "notifications",
                        subject,
                        f"alert {name}: annotation {key} is empty",
                        rule="alertmanager/notification",
                    )
                )
            elif "{{" in str(text) or "<no value>" in str(text):
                findings.append(
                    Finding(
                        "notifications",
                        subject,
                        f"alert {name}: annotation {key} is not rendered: {text!r}",
                        rule="alertmanager/notification",
                    )
                )
    return findings
