from __future__ import annotations

from pathlib import Path

import yaml

from obs_tests.checks.routing import (
    RouteTest,
    check_inhibition,
    check_notifications,
    check_route,
    check_routing_coverage,
    load_route_tests,
    route_labels,
)
from obs_tests.checks.routing_live import settings_from_config
from obs_tests.rules.rulefiles import load_rule_file

ROOT = Path(__file__).resolve().parents[2]


def _rules() -> dict:
    return {r.name: r for r in load_rule_file(ROOT / "prometheus" / "alerts" / "availability.yml").alerts}


def test_load_route_tests_and_problems(tmp_path: Path) -> None:
    good = tmp_path / "routes.yml"
    good.write_text("tests:\n  - alert: GatewayDown\n    receivers: critical\n    labels: {job: gateway}\n")
    bad = tmp_path / "bad.yml"
    bad.write_text("tests:\n  - alert: X\n  - alert: Y\n    receivers: [a]\n    recievers: [b]\n")
    skipped = tmp_path / "inhibition.yml"
    skipped.write_text("inhibitions: []\n")
    tests, problems = load_route_tests([good, bad, skipped])
    assert [(t.alert, t.receivers) for t in tests] == [("GatewayDown", ("critical",)), ("Y", ("a",))]
    assert problems[0].subject.endswith("bad.yml:2") and "needs 'alert' and 'receivers'" in problems[0].message
    assert "unknown field(s) recievers" in problems[1].message


def test_route_labels_from_the_rule() -> None:
    labels = route_labels(RouteTest("GatewayDown", ("critical",), {"job": "gateway"}), _rules())
    assert labels == {"alertname": "GatewayDown", "severity": "critical", "team": "trading-platform", "job": "gateway"}


def test_route_labels_unknown_alert() -> None:
    finding = route_labels(RouteTest("GatewayDwn", ("critical",), where="routes.yml:3"), _rules())
    assert not isinstance(finding, dict)
    assert finding.message.startswith("unknown alert 'GatewayDwn' (did you mean 'GatewayDown'?)")


def test_check_route() -> None:
    test = RouteTest("GatewayDown", ("critical",), where="routes.yml:3")
    assert check_route(test, {"alertname": "GatewayDown"}, ("critical",)) == []
    [finding] = check_route(test, {"alertname": "GatewayDown", "severity": "critical"}, ("warning",))
    assert "routes to [warning], expected [critical] for labels {alertname=GatewayDown, severity=critical}" in (
        finding.message
    )


def test_routing_coverage() -> None:
    rules = _rules()
    findings = check_routing_coverage(rules.values(), [RouteTest("GatewayDown", ("critical",))])
    assert {f.subject.split(" (")[0] for f in findings} == {f"alert {n}" for n in rules if n != "GatewayDown"}


def _am(labels: dict, state: str, by: list[str] | None = None) -> dict:
    return {"labels": labels, "status": {"state": state, "inhibitedBy": by or [], "silencedBy": []}}


def test_inhibition_verdicts() -> None:
    alerts = [
        _am({"alertname": "GatewayDown", "job": "gateway"}, "active"),
        _am({"alertname": "GatewayHighErrorRate", "job": "gateway"}, "suppressed", ["fp"]),
        _am({"alertname": "GatewayHighErrorRate", "job": "canary"}, "active"),
    ]
    assert (
        check_inhibition(
            alerts,
            suppressed=[{"alertname": "GatewayHighErrorRate", "job": "gateway"}],
            active=[{"alertname": "GatewayHighErrorRate", "job": "canary"}],
        )
        == []
    )
    findings = check_inhibition(
        alerts,
        suppressed=[{"alertname": "GatewayHighErrorRate", "job": "canary"}, {"alertname": "Missing"}],
        active=[{"alertname": "GatewayHighErrorRate", "job": "gateway"}],
    )
    messages = [f"{f.subject}: {f.message}" for f in findings]
    assert messages[0].startswith('alert GatewayHighErrorRate{job="canary"}: should be inhibited but is active')
    assert messages[1] == "alert Missing{}: never reached Alertmanager"
    assert "should stay active but is suppressed" in messages[2]


CONFIG = yaml.safe_load((ROOT / "alertmanager" / "alertmanager.yml").read_text())


def test_settings_from_the_shipped_config() -> None:
    settings = settings_from_config(CONFIG)
    assert settings.group_by["critical"] == ["alertname", "service"]
    assert settings.group_wait["watchdog"] == 0.0 and settings.group_interval["watchdog"] == 5.0
    assert settings.send_resolved == {"default": True, "critical": True, "warning": True, "watchdog": False}


def _payload(receiver: str, status: str, group: dict, alerts: list[dict]) -> dict:
    return {"receiver": receiver, "status": status, "groupLabels": group, "groupKey": "k", "alerts": alerts}


def test_notification_payload_checks() -> None:
    settings = settings_from_config(CONFIG)
    good = _payload(
        "critical",
        "firing",
        {"alertname": "GatewayDown", "service": "gateway"},
        [{"labels": {"alertname": "GatewayDown", "service": "gateway"}, "annotations": {"summary": "down"}}],
    )
    kwargs = {"group_by": settings.group_by, "send_resolved": settings.send_resolved}
    assert check_notifications([good], **kwargs) == []
    bad = [
        _payload("critical", "firing", {"alertname": "A", "job": "x"}, [{"labels": {"alertname": "A", "job": "x"}}]),
        _payload("watchdog", "resolved", {"alertname": "Watchdog"}, [{"labels": {"alertname": "Watchdog"}}]),
        _payload(
            "critical",
            "firing",
            {"alertname": "B"},
            [{"labels": {"alertname": "B"}, "annotations": {"summary": "{{ $labels.x }}", "description": " "}}],
        ),
    ]
    messages = [f.message for f in check_notifications(bad, **kwargs)]
    assert "grouped by ['alertname', 'job'], the route says ['alertname', 'service']" in messages
    assert "a resolved notification reached a receiver with send_resolved: false" in messages
    assert "alert B: annotation summary is not rendered: '{{ $labels.x }}'" in messages
    assert "alert B: annotation description is empty" in messages
