"""Collect the outcome of a suite run for the terminal summary and ``summary.json``.

Tests add a one-line description of what they verified with
``record_property("summary", "gateway: 1/1 targets up")``; the collector keeps it next to the outcome.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from obs_tests.suite.report_fixtures import report_sections

__all__ = ["SummaryCollector", "TestOutcome"]


@dataclass
class TestOutcome:
    """One test's result."""

    nodeid: str
    family: str
    name: str
    outcome: str  # passed | failed | skipped | error
    duration: float
    summary: str = ""
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    #: every finding judged in the test (errors and warnings), as :meth:`Finding.to_json` gives them
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: lines shown under the test's line in the summary (a load check's table), as recorded under ``details``
    details: list[str] = field(default_factory=list)


@dataclass(eq=False)
class SummaryCollector:
    """A pytest plugin object: register with ``pytest.main(..., plugins=[collector])``."""

    outcomes: list[TestOutcome] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    finished: float = 0.0
    #: how many checks the selection (``-m``, ``-k``) left out
    deselected: int = 0
    #: why pytest refused the selection ("" when it did not): a ``-m``/``-k`` expression it cannot parse,
    #: or one naming an unknown marker
    selection_error: str = ""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self._add(report)
        elif report.when == "teardown" and report.outcome == "failed":
            self._add(report, error=True)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self) -> Generator[None, None, None]:
        """pytest applies ``-m`` and ``-k`` here: a :class:`pytest.UsageError` raised inside is the selection's."""
        try:
            return (yield)
        except pytest.UsageError as exc:
            self.selection_error = str(exc)
            raise

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.outcome == "failed":
            self.outcomes.append(
                TestOutcome(report.nodeid, "collection", report.nodeid, "error", 0.0, "", _short(str(report.longrepr)))
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.finished = time.monotonic()
        self.sections = dict(report_sections(session.config))

    def _add(self, report: pytest.TestReport, error: bool = False) -> None:
        props = dict(report.user_properties)
        module = report.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py").removeprefix("test_")
        name = report.nodeid.split("::")[-1]
        outcome: str = report.outcome
        if error or (report.when == "setup" and outcome == "failed"):
            outcome = "error"
        message = ""
        if report.failed:
            message = _failure_message(report)
        elif report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2])
        warnings = [
            str(w)
            for key, value in report.user_properties
            if key == "warnings" and isinstance(value, list | tuple)
            for w in value
        ]
        findings = [
            dict(f)
            for key, value in report.user_properties
            if key == "findings" and isinstance(value, list | tuple)
            for f in value
            if isinstance(f, dict)
        ]
        details = [
            str(line)
            for key, value in report.user_properties
            if key == "details" and isinstance(value, list | tuple)
            for line in value
        ]
        self.outcomes.append(
            TestOutcome(
                report.nodeid,
                module,
                name,
                outcome,
                report.duration,
                str(props.get("summary", "")),
                message,
                warnings,
                findings,
                details,
            )
        )

    def counts(self) -> dict[str, int]:
        """How many tests passed, failed, were skipped, errored."""
        out = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
        for item in self.outcomes:
            out[item.outcome] = out.get(item.outcome, 0) + 1
        return out

    def warnings(self) -> int:
        """How many warnings the checks reported (findings the policy lowers: they do not fail the run)."""
        return sum(len(item.warnings) for item in self.outcomes)

    def start_with(self) -> str:
        """When a job's targets check failed beside other failures: the line to read first (a target down,
        or an exporter that cannot read its server, fails every check of what it exports); else ""."""
        failed = [o for o in self.outcomes if o.outcome in ("failed", "error")]
        down = [o for o in failed if o.family == "targets" and o.name.startswith("test_job_targets_up")]
        if not down or len(failed) == len(down):
            return ""
        jobs = "; ".join(o.summary or o.name for o in down)
        return (
            f"Start with the targets: {jobs} — the checks of what a target down exports fail with it "
            f"({len(failed) - len(down)} more failed)"
        )

    def lines(self) -> list[str]:
        """Human summary, one line per test."""
        marks = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "error": "ERROR"}
        out = []
        for item in self.outcomes:
            text = item.summary or item.name
            line = f"  {marks.get(item.outcome, item.outcome):<5} {item.family}: {text}"
            if item.outcome in ("failed", "error") and item.message:
                line += f"\n          {item.message}"
            line += "".join(f"\n          {detail}" for detail in item.details)
            shown = item.warnings[:5]
            line += "".join(f"\n          warning: {_short(w, 300)}" for w in shown)
            if len(item.warnings) > len(shown):
                line += f"\n          ... and {len(item.warnings) - len(shown)} more warnings (report.json)"
            out.append(line)
        return out

    def write_json(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        """Write the run's outcomes as JSON."""
        data = {
            "counts": self.counts(),
            "deselected": self.deselected,
            "warnings": self.warnings(),
            "duration_seconds": round((self.finished or time.monotonic()) - self.started, 3),
            "tests": [asdict(o) for o in self.outcomes],
            "sections": self.sections,
            **(extra or {}),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _short(text: str, limit: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _failure_message(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, str):  # pytest.fail(..., pytrace=False)
        return _short(report.longrepr.removeprefix("Failed: ").replace("\n", "\n          "))
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        message = str(crash.message)
        # "AssertionError: <our findings>\nassert not [...]" -> keep the findings only.
        message = message.removeprefix("AssertionError: ")
        return _short(message.split("\nassert ")[0].replace("\n", "\n          "))
    return _short(str(report.longrepr).splitlines()[-1] if report.longrepr else "")
