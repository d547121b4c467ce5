"""A rule pack obs-tests did not design, on real exporters: the community-style pack (plain groups and a file
of PrometheusRule manifests) loaded by a real Prometheus of its own (tests/integration/foreign.py) scraping
prometheus-node-exporter and prometheus-redis-exporter every second, no Alertmanager, checked as a stack of
yours (by URL)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from .foreign import ForeignStack
from .helpers import ROOT, env_with_state, obs_tests

pytestmark = [pytest.mark.stack, pytest.mark.slow]

COMMUNITY = ROOT / "tests" / "fixtures" / "rules" / "community"
# the same selector as HostSystemdUnitFailed, in a rule the contract declares nothing for
UNDECLARED = """groups:
  - name: extra
    rules:
      - alert: SystemdUnitFailedToo
        expr: node_systemd_unit_state{state="failed"} == 1
        for: 5m
        labels: {severity: warning}
        annotations: {summary: s, description: d}
"""
CONTRACT = {
    "version": 1,
    "stack": {"alertmanager": None, "node_exporter": True},
    "files": {"rules": ["rules"]},
    "jobs": [
        {"name": "prometheus", "instances": 1, "components": ["prometheus"]},
        {"name": "node", "instances": 1, "components": ["node-exporter"]},
        {"name": "redis", "instances": 1, "components": ["redis-exporter"]},
    ],
    "policy": {
        "alerts": {"required_labels": ["severity"], "required_annotations": ["summary", "description"]},
        "levels": {"rule/for": "warning", "coverage/*": "warning"},
    },
    "rules": {
        "expected_no_match": [
            {
                "selector": 'node_systemd_unit_state{state="failed"}',
                "alert": "HostSystemdUnitFailed",
                "reason": "node_exporter's systemd collector is off by default",
            }
        ]
    },
}
CHECKS = (
    "rule_lint or rule_groups_healthy or exposition_lint or (selectors_match_live and "
    "(HostSystemdUnitFailed or SystemdUnitFailedToo or RedisMemoryNearLimit or PrometheusNoAlertmanager))"
)


def _check(project: Path, prometheus: str) -> tuple[int, str]:
    done = obs_tests(
        "check", "--contract", str(project / "obs.yaml"), "--prometheus-url", prometheus,
        "--report-dir", str(project / "reports"), "-k", CHECKS,
        env=env_with_state(project / "state"), timeout=180,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_a_community_rule_pack_on_real_exporters(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    for path in COMMUNITY.glob("*.y*ml"):
        shutil.copy(path, tmp_path / "rules")
    (tmp_path / "rules" / "extra.yml").write_text(UNDECLARED)
    (tmp_path / "obs.yaml").write_text(yaml.safe_dump(CONTRACT, sort_keys=False))
    with ForeignStack(tmp_path / "stack", scrape_interval="1s") as stack:
        stack.load_rules(sorted((tmp_path / "rules").glob("*.y*ml")))
        code, out = _check(tmp_path, stack.prometheus_url)
        assert code == 1, out
        # the manifests' groups were loaded (as the plain files of their groups) and are found by name
        assert "rule groups loaded with health ok, no lastError" in out
        assert "rate windows against the scrape intervals of the live Prometheus" in out
        # declared: reported with its reason; the same selector undeclared: a located finding
        assert (
            'HostSystemdUnitFailed: 0 selector(s) match live series (node_systemd_unit_state{state="failed"} '
            "matches nothing as declared: node_exporter's systemd collector is off by default)"
        ) in out
        assert "alert SystemdUnitFailedToo (" in out and "rules/extra.yml:5): selector node_systemd_unit_state" in out
        assert "no metric node_systemd_unit_state exists" in out
        assert "PASS  rules: RedisMemoryNearLimit: 2 selector(s) match live series" in out
        assert "PASS  rules: PrometheusNoAlertmanager: 1 selector(s) match live series" in out
        # redis_exporter's own names: the summary says what to paste into the job, and pasting it works
        failing = {
            line.split("metrics: ", 1)[1].split(":", 1)[0]: yaml.safe_load(line.split("lint_ignore: ", 1)[1])
            for line in out.splitlines()
            if line.startswith("  FAIL  metrics: ") and "lint_ignore: " in line
        }
        assert "redis" in failing, out
        for job in CONTRACT["jobs"]:  # type: ignore[union-attr]
            if job["name"] in failing:
                job["lint_ignore"] = failing[job["name"]]
        (tmp_path / "obs.yaml").write_text(yaml.safe_dump(CONTRACT, sort_keys=False))
        (tmp_path / "rules" / "extra.yml").unlink()
        code, out = _check(tmp_path, stack.prometheus_url)
        assert code == 0, out
        assert "PASS  metrics: redis: 1 exposition(s) pass promtool check metrics (" in out
        assert "known problems accepted by lint_ignore)" in out
