"""Defect 10: a summary line never contradicts its status (it said `FAIL metrics: node: 1 exposition(s) pass
promtool check metrics`). The line is written from the verdict after the policy."""

from __future__ import annotations

from obs_tests.config.policy import Verdict
from obs_tests.core.findings import Finding
from obs_tests.suite.test_metrics import _said

CLEAN = "node: 1 exposition(s) pass promtool check metrics"
CHECKED = "node: 1 exposition(s) checked by promtool check metrics"
ADVICE = " — if the names are not yours, accept them in job 'node': lint_ignore: ['^(?:node_x_bits)$']"


def _finding(severity: str) -> Finding:
    return Finding("exposition", "node/127.0.0.1:9100", "promtool: node_x_bits: use base unit", severity=severity)


def test_a_failing_verdict_is_never_summarised_as_a_pass() -> None:
    failed = _said(Verdict(errors=(_finding("error"),)), CLEAN, CHECKED, ADVICE)
    assert "pass" not in failed
    assert failed == f"{CHECKED}: 1 error(s){ADVICE}"
    warned = _said(Verdict(warnings=(_finding("warning"), _finding("warning"))), CLEAN, CHECKED)
    assert warned == f"{CHECKED}: 2 warning(s)"


def test_a_clean_verdict_says_so() -> None:
    assert _said(Verdict(), CLEAN, CHECKED, ADVICE) == CLEAN
    assert _said(Verdict(off=3), CLEAN, CHECKED) == CLEAN
