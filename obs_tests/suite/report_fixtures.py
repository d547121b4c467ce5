"""What a check reports, through fixtures: ``obs_findings`` judges its findings under the contract's policy
(in-file suppressions, then each rule id's level: errors fail the test, warnings go to the summary and every
report), ``obs_summary`` records its one-line description, ``obs_report`` its report sections and
``obs_report_dir`` is where it writes reports of its own.

Example::

    def test_rules(obs_findings, obs_summary):
        verdict = obs_findings.judge(lint_rules(...))
        obs_summary(f"{len(verdict.errors)} errors")
        obs_findings.require(verdict)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from obs_tests.config.policy import Policy, Suppression, Verdict, judge, suppressions_in
from obs_tests.core.findings import Finding, format_findings
from obs_tests.rules.rulefiles import load_rule_files
from obs_tests.suite.session_settings import report_dir, session_contract

__all__ = [
    "FindingsJudge",
    "obs_findings",
    "obs_report",
    "obs_report_dir",
    "obs_summary",
    "report_sections",
    "session_suppressions",
]

_SUPPRESSIONS_KEY = pytest.StashKey[tuple[list[Suppression], list[Finding]]]()
_REPORT_KEY = pytest.StashKey[dict[str, Any]]()


def report_sections(config: pytest.Config) -> dict[str, Any]:
    """The report sections tests added this session (``obs_report`` fixture)."""
    return config.stash.setdefault(_REPORT_KEY, {})


@pytest.fixture(scope="session")
def obs_report(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Report sections by name (``obs_report["metrics_coverage"] = {...}``); `obs-tests check` writes them
    into summary.json."""
    return report_sections(pytestconfig)


@pytest.fixture(scope="session")
def obs_report_dir(pytestconfig: pytest.Config) -> Path:
    """Where checks write reports of their own (``--obs-report-dir``, default ``reports``)."""
    path = report_dir(pytestconfig)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def obs_summary(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record the one-line description of what a test verified (shown in the `obs-tests check` summary)."""

    def record(text: str) -> None:
        request.node.user_properties.append(("summary", text))

    return record


def session_suppressions(config: pytest.Config) -> tuple[list[Suppression], list[Finding]]:
    """The in-file suppressions of the contract's rule files (read once per session) and their problems."""
    if _SUPPRESSIONS_KEY not in config.stash:
        files = load_rule_files(session_contract(config).files.rule_files())
        config.stash[_SUPPRESSIONS_KEY] = suppressions_in((rf.path, [r.line for r in rf.rules]) for rf in files)
    return config.stash[_SUPPRESSIONS_KEY]


class FindingsJudge:
    """A check's findings under the contract's policy (the ``obs_findings`` fixture).

    ``obs_findings(findings)`` judges and fails the test on errors; ``verdict = obs_findings.judge(findings)``
    then ``obs_findings.require(verdict)`` lets a test write its summary line from the verdict first (so a
    failed check never reads like a passed one)."""

    def __init__(self, node: pytest.Item, policy: Policy, suppressions: Sequence[Suppression]) -> None:
        self.node = node
        self.policy = policy
        self.suppressions = suppressions

    def judge(self, findings: Iterable[Finding]) -> Verdict:
        """Suppressions, then levels; warnings are recorded for the summary and the reports."""
        verdict = judge(findings, self.policy, self.suppressions)
        if verdict.warnings:
            self.node.user_properties.append(("warnings", [str(f) for f in verdict.warnings]))
        if verdict.errors or verdict.warnings:
            judged = [f.to_json() for f in (*verdict.errors, *verdict.warnings)]
            self.node.user_properties.append(("findings", judged))
        return verdict

    def require(self, verdict: Verdict) -> Verdict:
        """Fail the test (one line per error) when the verdict has errors."""
        if verdict.errors:
            pytest.fail(format_findings(verdict.errors), pytrace=False)
        return verdict

    def __call__(self, findings: Iterable[Finding]) -> Verdict:
        return self.require(self.judge(findings))


@pytest.fixture
def obs_findings(request: pytest.FixtureRequest) -> FindingsJudge:
    """Judge a check's findings under the contract's policy: in-file suppressions first, then each rule
    id's level. Errors fail the test (one line each); warnings are recorded for the summary and every
    report. See :class:`FindingsJudge`."""
    config = request.config
    suppressions, _ = session_suppressions(config)
    return FindingsJudge(request.node, session_contract(config).policy, suppressions)
