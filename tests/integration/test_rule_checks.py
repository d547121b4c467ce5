"""Live rule checks fail on real broken rules loaded by the real Prometheus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .helpers import ROOT, env_with_state, obs_tests

pytestmark = [pytest.mark.stack, pytest.mark.slow]

BROKEN = """groups:
  - name: broken-live
    rules:
      - alert: GatewayTypo
        expr: rate(gateway_webhook_total[5m]) > 1
        for: 1m
        labels: {severity: warning, team: trading-platform}
        annotations: {summary: s, description: d, runbook_url: "https://example.org/r"}
      - alert: WrongStatus
        expr: rate(gateway_webhooks_total{status="acepted"}[5m]) > 1
        for: 1m
        labels: {severity: warning, team: trading-platform}
        annotations: {summary: s, description: d, runbook_url: "https://example.org/r"}
  - name: duplicate-series
    rules:
      # two series that the rule's label makes one: fails at every evaluation, from the first (a rule over
      # scraped series fails only once two jobs have been scraped)
      - record: obs:up:by_job
        expr: label_replace(vector(1), "job", "a", "", "") or label_replace(vector(2), "job", "b", "", "")
        labels: {job: flattened}
"""


def test_live_lint_names_missing_metrics_labels_and_unhealthy_groups(tmp_path: Path) -> None:
    for name in ("prometheus", "alertmanager", "runbooks", "grafana_dashboards"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "obs.yaml", tmp_path / "obs.yaml")
    (tmp_path / "prometheus" / "alerts" / "broken.yml").write_text(BROKEN)
    result = obs_tests(
        "check",
        "--contract",
        str(tmp_path / "obs.yaml"),
        "--report-dir",
        str(tmp_path / "reports"),
        "-k",
        "(selectors_match_live and (GatewayTypo or WrongStatus)) or rule_groups_healthy",
        env=env_with_state(tmp_path / "state"),
        timeout=180,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert (
        "selector gateway_webhook_total matches no series: no metric gateway_webhook_total exists; closest existing: "
        "gateway_webhooks_total" in out
    )
    assert 'status="acepted" matches nothing (existing status values: "accepted", "error", "invalid")' in out
    assert "recording obs:up:by_job (group 'duplicate-series', broken.yml): health err" in out
    assert "vector contains metrics with the same labelset after applying rule labels" in out
