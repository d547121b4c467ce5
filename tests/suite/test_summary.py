"""The terminal summary of `obs-tests check`: which line to read first when a target is down."""

from __future__ import annotations

from obs_tests.suite import summary
from obs_tests.suite.summary import SummaryCollector


def _outcome(family: str, name: str, outcome: str, said: str = "") -> summary.TestOutcome:
    return summary.TestOutcome(f"obs_tests/suite/test_{family}.py::{name}", family, name, outcome, 0.1, said)


def test_a_target_down_is_the_line_to_start_with() -> None:
    """node_exporter stopped: ~57 checks fail (freshness, presence, selectors) beside the one naming it."""
    collector = SummaryCollector()
    collector.outcomes += [
        _outcome("targets", "test_job_targets_up[node]", "failed", "node: 0/1 targets up (127.0.0.1:9100)"),
        _outcome("targets", "test_job_targets_up[redis]", "passed", "redis: 1/1 targets up (127.0.0.1:9121)"),
        _outcome("metrics", "test_metric_fresh[node_load1]", "failed"),
        _outcome("rules", "test_rule_selectors_match_live[HostHighLoad]", "failed"),
    ]
    assert collector.start_with() == (
        "Start with the targets: node: 0/1 targets up (127.0.0.1:9100) — the checks of what a target down "
        "exports fail with it (2 more failed)"
    )


def test_nothing_to_start_with_without_a_target_down_or_other_failures() -> None:
    collector = SummaryCollector()
    collector.outcomes += [_outcome("rules", "test_rule_lint", "failed")]
    assert collector.start_with() == ""
    collector.outcomes = [_outcome("targets", "test_job_targets_up[node]", "failed", "node: 0/1 targets up")]
    assert collector.start_with() == ""  # its own FAIL line says it all
