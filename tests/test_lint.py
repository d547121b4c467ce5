"""`obs-tests lint` on the shipped config (clean) and on broken copies of it (each problem located)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from obs_tests.cli import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's monitoring config to break."""
    for name in ("prometheus", "alertmanager", "runbooks"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "obs.yaml", tmp_path / "obs.yaml")
    return tmp_path


def _lint(project: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["lint", "--contract", str(project / "obs.yaml"), "--junit", str(project / "junit.xml"), *extra]
    )
    return result.exit_code, result.stdout + result.stderr


def _append_alert(path: Path, text: str) -> None:
    path.write_text(path.read_text().rstrip("\n") + "\n" + text)


GOOD_ALERT = """
      - alert: {name}
        expr: {expr}
        for: 5m
        labels: {{severity: warning, team: trading-platform}}
        annotations:
          summary: "s"
          description: "d"
          runbook_url: "https://github.com/obs-tests/obs-tests/blob/main/runbooks/GatewayDown.md"
"""


def test_shipped_config_is_clean(project: Path) -> None:
    code, out = _lint(project)
    assert code == 0, out
    assert "0 errors" in out
    for section in (
        "prometheus config",
        "rule files",
        "rule lint",
        "rule unit tests",
        "rule test coverage",
        "alertmanager config",
        "routing",
    ):
        assert f"PASS  {section}:" in out
    suites = ET.parse(project / "junit.xml").getroot()
    assert int(sum(int(s.get("tests", 0)) for s in suites)) > 100
    assert all(s.get("failures") == "0" for s in suites)


def test_json_format(project: Path) -> None:
    code, out = _lint(project, "--format", "json")
    assert code == 0
    assert json.loads(out)["ok"] is True


def test_rule_syntax_error_is_located(project: Path) -> None:
    path = project / "prometheus" / "alerts" / "gateway.yml"
    _append_alert(path, GOOD_ALERT.format(name="Broken", expr="sum(rate(gateway_webhooks_total[5m])"))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "alert: Broken" in text)
    code, out = _lint(project)
    assert code == 1
    assert "FAIL  rule files:" in out
    assert f"gateway.yml:{line + 1}: promtool:" in out and "unclosed left parenthesis" in out
    assert (
        f"alert Broken (prometheus/alerts/gateway.yml:{line + 1}): expression does not parse"
        in out.replace(str(project) + "/", "")
        or "expression does not parse: unclosed left parenthesis" in out
    )


def test_alert_missing_runbook_url(project: Path) -> None:
    path = project / "prometheus" / "alerts" / "availability.yml"
    text = path.read_text()
    path.write_text(
        text.replace(
            '          runbook_url: "https://github.com/obs-tests/obs-tests/blob/main/runbooks/GatewayDown.md"\n', "", 1
        )
    )
    code, out = _lint(project)
    assert code == 1
    assert "alert GatewayDown (" in out and "missing annotation(s) runbook_url — the on-call needs them" in out


def test_rate_window_shorter_than_four_scrape_intervals(project: Path) -> None:
    contract = yaml.safe_load((project / "obs.yaml").read_text())
    contract["files"]["prometheus_config"] = "none.yml"  # embedded only: 1 s scrape interval
    (project / "obs.yaml").write_text(yaml.safe_dump(contract))
    _append_alert(
        project / "prometheus" / "alerts" / "gateway.yml",
        GOOD_ALERT.format(name="TooShort", expr='rate(gateway_webhooks_total{job="gateway"}[2s]) > 1'),
    )
    code, out = _lint(project)
    assert code == 1
    assert (
        'rate(gateway_webhooks_total{job="gateway"}[2s]): the window is shorter than 4x the scrape interval '
        "of gateway (1s) — use at least [4s]"
    ) in out


def test_alert_without_unit_test_or_routing_test(project: Path) -> None:
    _append_alert(
        project / "prometheus" / "alerts" / "gateway.yml",
        GOOD_ALERT.format(name="GatewayNoTests", expr="gateway:webhooks:rate5m > 1000"),
    )
    code, out = _lint(project)
    assert code == 1
    assert "alert GatewayNoTests (" in out
    assert "no unit test: missing a case where it fires" in out
    assert "no routing test — add `- alert: GatewayNoTests`" in out


def test_route_sending_critical_to_the_wrong_receiver(project: Path) -> None:
    path = project / "alertmanager" / "alertmanager.yml"
    path.write_text(
        path.read_text().replace(
            '    - receiver: critical\n      matchers: [severity = "critical"]',
            '    - receiver: warning\n      matchers: [severity = "critical"]',
        )
    )
    code, out = _lint(project)
    assert code == 1
    assert "FAIL  routing:" in out
    assert "alert GatewayDown" in out and "routes to [warning], expected [critical]" in out


def test_unit_test_with_a_wrong_expectation_shows_promtool_diff(project: Path) -> None:
    path = project / "prometheus" / "tests" / "availability_test.yml"
    text = path.read_text()
    assert "severity: critical" in text
    path.write_text(text.replace("severity: critical", "severity: warning", 1))
    code, out = _lint(project)
    assert code == 1
    assert "FAIL  rule unit tests:" in out
    assert "availability_test.yml:" in out
    assert "exp:[" in out and "got:[" in out and 'severity="warning"' in out and 'severity="critical"' in out


def test_scenarios_are_checked_for_races(project: Path) -> None:
    shutil.copytree(ROOT / "scenarios", project / "scenarios")
    code, out = _lint(project)
    assert code == 0, out
    assert "PASS  scenarios: 19 scenarios in" in out
    shutil.copy(ROOT / "tests" / "fixtures" / "races" / "stalled-consumer-racy.yaml", project / "scenarios")
    code, out = _lint(project)
    assert code == 1, out
    assert "FAIL  scenarios:" in out
    assert "steps[3] (revert: orchestrator-hangs): can revert orchestrator-hangs before NATSConsumerLag notified" in out
    assert "[revert-before-notification]" in out


def test_a_contract_without_scenarios_has_nothing_to_check_there(project: Path) -> None:
    code, out = _lint(project)
    assert code == 0, out
    assert "scenarios: no scenario directory" in out and "not applicable" in out
