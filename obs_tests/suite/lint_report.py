"""The report of ``obs-tests lint``: a :class:`Section` per family of static checks (what ran, its findings,
its JUnit cases), judged under the contract's policy, and the :class:`LintReport` of a run (``ok``, JSON, JUnit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from obs_tests.config.policy import Policy, Suppression, judge
from obs_tests.core.findings import Finding
from obs_tests.reports.junit import Case, write_junit

__all__ = ["LintReport", "Section"]


@dataclass
class Section:
    """One family of static checks: what ran, what it found, and JUnit cases."""

    name: str
    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    let_go: int = 0  # findings the policy turned off or an in-file suppression silenced

    @property
    def errors(self) -> list[Finding]:
        """Findings that fail the lint."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings reported but not failing."""
        return [f for f in self.findings if f.severity != "error"]

    def apply_policy(self, policy: Policy, suppressions: Sequence[Suppression]) -> None:
        """Judge the findings under the contract's policy (in-file suppressions, then levels); a JUnit case
        loses the failure lines of findings that are no longer errors."""
        before = list(self.findings)
        verdict = judge(before, policy, suppressions)
        self.findings = [*verdict.errors, *verdict.warnings]
        self.let_go = verdict.off + verdict.suppressed
        still = {text for f in verdict.errors for text in (f.message, str(f))}
        gone = {text for f in before if f not in verdict.errors for text in (f.message, str(f))} - still
        for index, case in enumerate(self.cases):
            if case.failure:
                kept = [line for line in case.failure.splitlines() if line not in gone]
                self.cases[index] = replace(case, failure="\n".join(kept) or None)


@dataclass
class LintReport:
    """All sections of one lint run."""

    sections: list[Section] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no section has an error finding."""
        return not any(s.errors for s in self.sections)

    def to_json(self) -> dict[str, Any]:
        """Machine-readable form (``--format json``)."""
        return {
            "ok": self.ok,
            "sections": [
                {
                    "name": s.name,
                    "checked": s.checked,
                    "errors": [f.__dict__ for f in s.errors],
                    "warnings": [f.__dict__ for f in s.warnings],
                }
                for s in self.sections
            ],
        }

    def write_junit(self, path: Path) -> None:
        """Every section's cases as one JUnit file."""
        write_junit(path, {s.name: s.cases for s in self.sections if s.cases}, name="obs-tests lint")
