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

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's monitoring config to break."""
    for name in ("prometheus", "alertmanager", "runbooks", "grafana_dashboards"):
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
    shipped = sorted(p.name for p in (ROOT / "scenarios").iterdir() if p.suffix in (".yaml", ".yml"))
    assert len(shipped) > 1, shipped
    code, out = _lint(project)
    assert code == 0, out
    assert f"PASS  scenarios: {len(shipped)} scenarios in" in out
    # one case per file: every shipped scenario went through the checks (schema, meaning, races), none skipped
    cases = ET.parse(project / "junit.xml").getroot().iter("testcase")
    assert sorted(str(c.get("name")) for c in cases if c.get("classname") == "scenarios") == shipped
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


COMMUNITY = ROOT / "tests" / "fixtures" / "rules" / "community"
FOREIGN_CONTRACT = """version: 1
stack:
  prometheus: http://prometheus.example:9090
  alertmanager: null
files:
  rules: [rules]
  rule_tests: rule-tests
jobs:
  - {{name: node, instances: 1{node_interval}}}
  - {{name: redis, instances: 1}}
  - {{name: prometheus, instances: 1}}
{policy}"""
DAY_ONE_POLICY = """policy:
  alerts:
    required_labels: [severity]
    required_annotations: [summary, description]
  levels:
    rule/for: warning
    coverage/*: warning
"""


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    """A stack obs-tests did not design: a community-style rule pack (one file of PrometheusRule manifests),
    its own Prometheus by URL, no Alertmanager, no prometheus.yml."""
    (tmp_path / "rules").mkdir()
    for path in COMMUNITY.glob("*.y*ml"):
        shutil.copy(path, tmp_path / "rules")
    shutil.copytree(COMMUNITY / "tests", tmp_path / "rule-tests")
    (tmp_path / "rule-tests" / "operator_test.yml").write_text(
        (COMMUNITY / "tests" / "operator_test.yml")
        .read_text()
        .replace("../operator-rules.yaml", "../rules/operator-rules.yaml")
    )
    _write_foreign(tmp_path)
    return tmp_path


def _write_foreign(project: Path, policy: str = DAY_ONE_POLICY, node_interval: str = "") -> None:
    text = FOREIGN_CONTRACT.format(policy=policy, node_interval=node_interval)
    (project / "obs.yaml").write_text(text)


def test_foreign_stack_is_green_under_its_policy(foreign: Path) -> None:
    """Defects 1, 5, 7 and the PrometheusRule format: the day-one policy of the contract decides."""
    code, out = _lint(foreign)
    assert code == 0, out
    assert "PASS  rule files: 2 files" in out  # promtool checked the manifests' groups too
    assert "rules in 2 files (1 of them PrometheusRule manifests)" in out
    assert "rate windows: not applicable — no scrape interval known" in out
    assert "PASS  alertmanager config: not applicable: the contract declares no Alertmanager" in out
    assert "PASS  routing: not applicable" in out
    assert "PASS  rule unit tests: operator_test.yml (2 cases)" in out
    assert "missing label(s) team" not in out and "runbook_url" not in out
    assert "warning: alert HostFilesystemAlmostFull (" in out and "'for: 0' (the same as no 'for:')" in out


def test_foreign_stack_under_the_strict_default_policy(foreign: Path) -> None:
    _write_foreign(foreign, policy="")
    code, out = _lint(foreign)
    assert code == 1
    assert "missing label(s) team — routing needs them" in out
    assert "missing annotation(s) runbook_url — the on-call needs them" in out


def test_rate_windows_use_the_contract_job_interval_offline(foreign: Path) -> None:
    """Defect 7: with jobs[].scrape_interval the windows are judged against it (never an assumed 1 s)."""
    _write_foreign(foreign, node_interval=", scrape_interval: 15s")
    code, out = _lint(foreign, "--format", "json")
    assert code == 1  # rule/rate-window stays an error under this policy
    lint = next(s for s in json.loads(out)["sections"] if s["name"] == "rule lint")
    windows = [f for f in lint["errors"] + lint["warnings"] if f["rule"] == "rule/rate-window"]
    assert [f["subject"].split(" (")[0] for f in windows] == ["alert HostCpuBusy"]
    assert "of its job (unknown: the largest interval in use) (15s) — use at least [60s]" in windows[0]["message"]
    assert "rate windows against the scrape intervals of the contract" in lint["checked"]


def test_promtool_errors_in_a_manifest_point_at_the_manifest(foreign: Path) -> None:
    path = foreign / "rules" / "operator-rules.yaml"
    path.write_text(path.read_text().replace("prometheus_notifications_alertmanagers_discovered < 1", "sum(up"))
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "sum(up" in t)
    code, out = _lint(foreign)
    assert code == 1
    assert "FAIL  rule files:" in out
    assert f"operator-rules.yaml:{line}: promtool:" in out
    assert "(PrometheusRule monitoring/prometheus-self-rules)" in out


def test_promtool_unit_tests_of_a_manifest_can_fail(foreign: Path) -> None:
    path = foreign / "rule-tests" / "operator_test.yml"
    path.write_text(path.read_text().replace("severity: critical", "severity: page"))
    code, out = _lint(foreign)
    assert code == 1
    assert "FAIL  rule unit tests:" in out and 'severity="page"' in out and "operator_test.yml" in out


def test_in_file_suppressions_apply_to_the_rule_lint(foreign: Path) -> None:
    _write_foreign(foreign, policy="")
    path = foreign / "rules" / "host-and-redis.yml"
    text = path.read_text().replace(
        "      - alert: RedisDown\n",
        "      # obs-tests: ignore rule/required-label rule/required-annotation -- vendor pack, routed by severity\n"
        "      - alert: RedisDown\n",
    )
    text = text.replace(
        "      - alert: RedisTooManyClients\n",
        "      # obs-tests: ignore rule/required-label\n      - alert: RedisTooManyClients\n",
    )
    path.write_text(text)
    code, out = _lint(foreign)
    assert code == 1
    lint = out.split("rule unit tests")[0].split("rule lint")[1]
    redis_down = [line for line in lint.splitlines() if "alert RedisDown (" in line]
    assert redis_down and not [line for line in redis_down if "missing" in line]  # only its for: 0m is left
    # a suppression without a reason silences nothing
    assert any("alert RedisTooManyClients (" in line and "missing label(s)" in line for line in lint.splitlines())
    assert "an obs-tests suppression needs a reason a reviewer can check" in out


def test_a_declared_alertmanager_without_config_says_how_to_fix(foreign: Path) -> None:
    (foreign / "obs.yaml").write_text(
        (foreign / "obs.yaml").read_text().replace("alertmanager: null", "alertmanager: http://am:9093")
    )
    code, out = _lint(foreign)
    assert code == 1
    assert "FAIL  alertmanager config:" in out
    assert "Alertmanager config not found — set files.alertmanager_config" in out
    assert "or stack.alertmanager: null in the contract when the stack has no Alertmanager" in out


def test_a_stale_expected_no_match_entry_is_a_finding(foreign: Path) -> None:
    _write_foreign(
        foreign,
        policy=DAY_ONE_POLICY
        + "rules:\n  expected_no_match:\n    - {selector: node_hwmon_temp_celsius, reason: a VM has no sensors}\n"
        "    - {selector: node_hwmon_temp_celcius, reason: typo}\n",
    )
    code, out = _lint(foreign)
    assert code == 1
    assert "rules.expected_no_match[1]: 'node_hwmon_temp_celcius' matches no selector of any rule" in out
    assert "rules.expected_no_match[0]" not in out


def test_lint_checks_the_compose_test_runner_file_beside_the_compose_file(project: Path) -> None:
    shutil.copytree(ROOT / "grafana", project / "grafana")
    for name in ("docker-compose.yml", "docker-compose.test.yml", "Dockerfile"):
        shutil.copy(ROOT / name, project / name)
    code, out = _lint(project)
    assert code == 0, out
    test_file = project / "docker-compose.test.yml"
    test_file.write_text(test_file.read_text().replace("http://alertmanager:9093", "http://alertmanager:9094"))
    code, out = _lint(project)
    assert code == 1, out
    assert "'alertmanager' listens on port 9093, not 9094" in out


def test_lint_checks_the_compose_ha_overlay_beside_the_compose_file(project: Path) -> None:
    shutil.copytree(ROOT / "grafana", project / "grafana")
    for name in ("docker-compose.yml", "docker-compose.ha.yml", "Dockerfile"):
        shutil.copy(ROOT / name, project / name)
    code, out = _lint(project)
    assert code == 0, out
    assert "docker-compose.ha.yml" in out
    ha_file = project / "docker-compose.ha.yml"
    ha_file.write_text(ha_file.read_text().replace("OBS_REPLICA: prometheus-2", "OBS_REPLICA: prometheus"))
    code, out = _lint(project)
    assert code == 1, out
    assert "replicas prometheus, prometheus-2 have the same replica=prometheus — give each its own" in out


def test_lint_checks_the_grafana_provisioning_files_beside_the_contract(project: Path) -> None:
    shutil.copytree(ROOT / "grafana", project / "grafana")
    code, out = _lint(project)
    assert code == 0, out
    datasource = next((project / "grafana" / "provisioning" / "datasources").glob("*.y*ml"))
    datasource.write_text(datasource.read_text().replace("apiVersion: 1", "apiVersion: 2"))
    code, out = _lint(project)
    assert code == 1, out
    assert "grafana/provisioning/datasources/" in out and "apiVersion" in out
