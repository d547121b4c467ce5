"""obs_tests/suite/test_rules.py on a stack of yours: the rate windows are judged against the live scrape
intervals (recorded /api/v1/status/config and /api/v1/targets), never an assumed one."""

from __future__ import annotations

from pathlib import Path

from tests.suite.conftest import run_check


def test_rule_lint_takes_the_scrape_intervals_from_the_live_prometheus(foreign: Path, recorded_prometheus: str) -> None:
    """Defect 7 in `obs-tests check`: the live Prometheus scrapes node every 30s and redis every 15s (its
    configuration), and says which job exports each metric: rate(node_cpu_seconds_total[30s]) is judged
    against node's 30s and fails; increase(redis_rejected_connections_total[1m]) against redis' 15s passes."""
    code, out, _ = run_check(foreign, recorded_prometheus, "test_rule_lint")
    assert code == 1, out
    assert "rate windows against the scrape intervals of the live Prometheus" in out
    assert (
        'rate(node_cpu_seconds_total{mode="idle"}[30s]): the window is shorter than 4x the scrape interval of '
        "node (30s) — use at least [120s]"
    ) in out
    assert "redis_rejected_connections_total" not in out
    assert "FAIL  rules: 25 rules: 1 lint errors" in out  # the summary says what the status says
    assert "lint-clean" not in out
