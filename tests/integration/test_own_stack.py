"""Adopting obs-tests on a stack it has never seen, as a team would (issue 16's "must show").

The stack is not obs-tests' embedded one: a Prometheus with its own prometheus.yml scraping
prometheus-node-exporter, prometheus-redis-exporter (with redis-server) and itself every 10 s, no
Alertmanager (tests/integration/foreign.py). The rules and dashboards are written in the style of public
community packs: no runbook_url, no team label, `for: 0m`, an always-firing rule not called Watchdog, a
PrometheusRule manifest, a dashboard exported with a ${DS_PROMETHEUS} input and an instance variable called
$node, and one saved through Grafana's API ({"dashboard": …}, datasources as {type, uid} and as a name).

init --baseline → lint and check green with the warnings listed → health OK; then real breakage is red:
node_exporter stopped (check names its target), a rule reading a misspelled metric (check names the rule,
file, line and the closest metric Prometheus has).
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest
import yaml

from obs_tests.core.waiting import Poll, wait_for

from .foreign import ForeignStack
from .helpers import ROOT, obs_tests

pytestmark = [pytest.mark.stack, pytest.mark.slow]

RULES = ROOT / "tests" / "fixtures" / "rules" / "community"
DASHBOARDS = ROOT / "tests" / "fixtures" / "dashboards" / "community"
TYPO_GROUP = """
  - name: team-additions
    rules:
      - alert: HostOutOfInodes
        expr: node_filesystem_files_fre{fstype!~"tmpfs|overlay"} / node_filesystem_files{fstype!~"tmpfs|overlay"} < 0.1
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: Host out of inodes (instance {{ $labels.instance }})
"""


def _run(project: Path, *args: str) -> tuple[int, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(project), "OBS_STATE_DIR": str(project / "state")}
    done = obs_tests(*args, env=env, timeout=300, cwd=project)
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out
    return done.returncode, out


def _target_health(stack: ForeignStack, job: str) -> str:
    with urllib.request.urlopen(stack.prometheus_url + "/api/v1/targets", timeout=5) as response:
        targets = json.load(response)["data"]["activeTargets"]
    return next(str(t["health"]) for t in targets if t["labels"]["job"] == job)


def _wait_target(stack: ForeignStack, job: str, health: str) -> None:
    def probe() -> Poll[str]:
        seen = _target_health(stack, job)
        return Poll(seen == health, seen, f"job {job}: {seen}")

    wait_for(
        probe, timeout=60, interval=0.2, expected=f"job {job} {health} in Prometheus",
        bound=f"one scrape interval ({stack.scrape_interval})", transient=(OSError,),
    )  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A team's repository: its rule pack and dashboards, nothing of obs-tests."""
    project = tmp_path / "monitoring"
    shutil.copytree(RULES, project / "rules", ignore=shutil.ignore_patterns("tests"))
    shutil.copytree(DASHBOARDS, project / "dashboards")
    return project


def test_init_baseline_green_then_real_breakage_red(project: Path, tmp_path: Path) -> None:
    rule_files = sorted((project / "rules").glob("*.y*ml"))
    with ForeignStack(tmp_path / "stack", scrape_interval="10s") as stack:
        stack.load_rules(rule_files)
        url = stack.prometheus_url

        # before init: the hand-written way is red, for reasons a baseline must record
        code, out = _run(project, "init", "--prometheus-url", url, "--rules", "rules", "--dashboards", "dashboards",
                         "--baseline")  # fmt: skip
        assert code == 0, out
        assert "baseline: running obs-tests check once on the starter contract" in out
        contract = yaml.safe_load((project / "obs.yaml").read_text())
        assert contract["stack"]["prometheus"] == url and contract["stack"]["alertmanager"] is None
        assert [j["name"] for j in contract["jobs"]] == ["node", "prometheus", "redis"]
        exceptions = contract["policy"]["exceptions"]
        accepted = {e["rule"] for e in exceptions}
        # collectors that are off on this host, the exported dashboard's import input, a 30 s rate window
        assert {"rule/selector-no-match", "coverage/metrics", "dashboard/datasource", "rule/rate-window"} <= accepted
        assert all(e["reason"].startswith("baseline ") and len(e["reason"]) > 40 for e in exceptions)
        # the systemd collector is off by default: that one selector is accepted, not the whole alert
        assert {"rule": "rule/selector-no-match", "subject": "alert HostSystemdUnitFailed",
                "contains": 'node_systemd_unit_state{state="failed"}'}.items() <= next(
            e for e in exceptions if e["subject"] == "alert HostSystemdUnitFailed"
        ).items()  # fmt: skip

        code, out = _run(project, "lint", "-c", "obs.yaml")
        assert code == 0, out
        assert "0 errors, " in out and " warnings" in out
        assert "warning: alert HostFilesystemAlmostFull (rules/host-and-redis.yml:" in out  # for: 0m, listed
        assert "PrometheusRule manifests" in out

        code, out = _run(project, "check", "-c", "obs.yaml")
        assert code == 0, out
        assert " 0 failed, " in out and "warnings (the contract's policy: reported, not failing)" in out
        assert "warning: [exposition] node/" in out  # node_exporter's own names: warnings, listed
        summary = json.loads((project / "reports" / "summary.json").read_text())
        assert summary["counts"]["failed"] == 0 and summary["warnings"] > 0, summary["counts"]

        code, out = _run(project, "health", "-c", "obs.yaml")
        assert code == 0, out
        assert out.startswith("HEALTH OK: ")
        assert "PrometheusAlwaysFiring firing in Prometheus (no rule named Watchdog" in out

        # a real outage: node_exporter stops
        stack.stop("node")
        _wait_target(stack, "node", "down")
        code, out = _run(project, "check", "-c", "obs.yaml")
        assert code == 1, out
        assert f"FAIL  targets: node: 0/1 targets up ({stack.node_target})" in out
        assert f"[targets] job node: target {stack.node_target} is DOWN" in out
        # the many checks of what node_exporter exports fail with it: the summary says where to start
        assert f"Start with the targets: node: 0/1 targets up ({stack.node_target}) — " in out
        stack.processes["node"].start()
        _wait_target(stack, "node", "up")

        # a rule added with a misspelled metric
        pack = project / "rules" / "host-and-redis.yml"
        pack.write_text(pack.read_text() + TYPO_GROUP)
        line = pack.read_text().splitlines().index("        expr: " + TYPO_GROUP.split("expr: ")[1].splitlines()[0]) + 1
        stack.load_rules(rule_files)
        code, out = _run(project, "check", "-c", "obs.yaml")
        assert code == 1, out
        assert (
            f"[rules] alert HostOutOfInodes (rules/host-and-redis.yml:{line}): selector "
            'node_filesystem_files_fre{fstype!~"tmpfs|overlay"} matches no series: no metric node_filesystem_files_fre '
            "exists; closest existing: node_filesystem_files_free"
        ) in out
        assert "FAIL  rules: HostOutOfInodes: 2 selector(s) probed, 1 match nothing" in out
