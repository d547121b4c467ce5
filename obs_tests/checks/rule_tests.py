"""promtool rule unit tests: what each test file contains, what promtool said about it, and whether
every alert is covered by a case where it fires and a case where it must not.

Pure logic; :mod:`obs_tests.suite.static` runs promtool. A test file that loads PrometheusRule manifests (which
promtool cannot read) is run as a copy that loads the plain files of their groups (:func:`plain_test_file`).
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from obs_tests.core.durations import parse_duration
from obs_tests.core.findings import Finding, display_path
from obs_tests.core.yamlfile import load_yaml
from obs_tests.errors import ConfigInvalid, PromQLSyntaxError
from obs_tests.reports.junit import Case
from obs_tests.rules.promql import selectors
from obs_tests.rules.rulefiles import Rule

__all__ = [
    "RuleTestCase",
    "RuleTestFile",
    "TestFailure",
    "check_rule_test_coverage",
    "junit_cases",
    "load_rule_test_file",
    "parse_promtool_test",
    "plain_test_file",
]


@dataclass(frozen=True)
class RuleTestCase:
    """One ``alert_rule_test`` or ``promql_expr_test`` entry."""

    group: str
    kind: str  # "alert" | "expr"
    subject: str  # alertname or expression
    eval_time: str
    fires: bool  # alert tests: whether any alert is expected

    @property
    def name(self) -> str:
        """``<group> / <alertname> @ <eval_time>``."""
        return f"{self.group} / {self.subject} @ {self.eval_time}"


@dataclass
class RuleTestFile:
    """A promtool test file: its cases and the rule files it loads."""

    path: Path
    cases: list[RuleTestCase] = field(default_factory=list)
    rule_files: list[str] = field(default_factory=list)
    problem: str | None = None


def load_rule_test_file(path: Path) -> RuleTestFile:
    """Inventory of a promtool test file (a file that does not parse is recorded, not raised)."""
    result = RuleTestFile(path)
    try:
        data = load_yaml(path, error=ConfigInvalid)
    except ConfigInvalid as exc:
        result.problem = str(exc).removeprefix(f"{path}: ")
        return result
    if not isinstance(data, dict):
        result.problem = "expected a mapping with 'rule_files' and 'tests'"
        return result
    result.rule_files = [str(f) for f in data.get("rule_files") or []]
    for index, test in enumerate(data.get("tests") or []):
        if not isinstance(test, dict):
            continue
        group = str(test.get("name") or f"test {index + 1}")
        for case in test.get("alert_rule_test") or []:
            if isinstance(case, dict):
                result.cases.append(
                    RuleTestCase(
                        group,
                        "alert",
                        str(case.get("alertname")),
                        str(case.get("eval_time")),
                        bool(case.get("exp_alerts")),
                    )
                )
        for case in test.get("promql_expr_test") or []:
            if isinstance(case, dict):
                result.cases.append(
                    RuleTestCase(group, "expr", str(case.get("expr")), str(case.get("eval_time")), False)
                )
    return result


@dataclass(frozen=True)
class TestFailure:
    """One FAILED block of promtool's output."""

    group: str | None
    subject: str | None  # alertname or expr
    eval_time: str | None
    text: str


_NAME = re.compile(r"^\s*name:\s*(.*?),?\s*$", re.M)
_ALERT = re.compile(r"^\s*alertname:\s*(.*?),\s*time:\s*(\S+?),", re.M)
_EXPR = re.compile(r'^\s*expr:\s*"(.*)",\s*time:\s*(\S+?),?\s*$', re.M)


def parse_promtool_test(output: str) -> list[TestFailure]:
    """The FAILED blocks of ``promtool test rules`` output (empty when everything passed)."""
    failures = []
    for block in output.split("FAILED:")[1:]:
        text = block.split("Unit Testing:")[0].rstrip()
        name = _NAME.search(text)
        alert = _ALERT.search(text)
        expr = _EXPR.search(text)
        subject = alert.group(1) if alert else expr.group(1) if expr else None
        eval_time = alert.group(2) if alert else expr.group(2) if expr else None
        failures.append(TestFailure(name.group(1) if name else None, subject, eval_time, text.strip("\n")))
    return failures


def _same_time(promtool_time: str | None, written: str) -> bool:
    """promtool prints eval times normalised (``1m30s`` for ``90s``)."""
    if promtool_time is None:
        return True
    try:
        return parse_duration(promtool_time) == parse_duration(written)
    except ValueError:
        return promtool_time == written


def junit_cases(test_file: RuleTestFile, returncode: int, failures: Sequence[TestFailure], output: str) -> list[Case]:
    """One JUnit case per test case of the file; failures carry promtool's diff. A failure promtool reports
    that matches no known case (or a failed run without any) is a case of its own, never dropped."""
    classname = test_file.path.stem
    if test_file.problem or (returncode != 0 and not failures):
        return [Case("load", classname, failure=test_file.problem or output.strip() or "promtool failed")]
    cases = []
    matched: set[int] = set()
    for case in test_file.cases:
        matching = [
            index
            for index, f in enumerate(failures)
            if f.group == case.group and f.subject == case.subject and _same_time(f.eval_time, case.eval_time)
        ]
        matched.update(matching)
        text = "\n\n".join(failures[i].text for i in matching)
        cases.append(Case(case.name, classname, failure=text or None))
    for index, failure in enumerate(failures):
        if index not in matched:
            name = f"{failure.group or '?'} / {failure.subject or '?'} @ {failure.eval_time or '?'}"
            cases.append(Case(name, classname, failure=failure.text))
    return cases


def check_rule_test_coverage(alerts: Iterable[Rule], test_files: Sequence[RuleTestFile]) -> list[Finding]:
    """Every alert has a unit-test case where it fires and one where it must not."""
    fires: set[str] = set()
    silent: set[str] = set()
    for test_file in test_files:
        for case in test_file.cases:
            if case.kind == "alert":
                (fires if case.fires else silent).add(case.subject)
    findings = []
    for alert in alerts:
        missing = []
        if alert.name not in fires:
            missing.append("a case where it fires (exp_alerts with its labels and annotations)")
        if alert.name not in silent and not _always_firing(alert):
            missing.append("a case where it must not fire (exp_alerts: [])")
        if missing:
            findings.append(
                Finding(
                    "rule-tests",
                    f"alert {alert.name} ({display_path(alert.file)}:{alert.line})",
                    f"no unit test: missing {'; '.join(missing)} — add it to the promtool tests",
                    rule="coverage/rule-tests",
                    file=str(alert.file),
                    line=alert.line or None,
                )
            )
    return findings


def _always_firing(alert: Rule) -> bool:
    """A watchdog (no series selector) cannot have a case where it does not fire."""
    try:
        return not selectors(alert.expr)
    except PromQLSyntaxError:
        return False


def plain_test_file(path: Path, extracted: Mapping[Path, Sequence[Path]], out_dir: Path) -> Path:
    """``path`` itself, or — when its ``rule_files`` load a PrometheusRule manifest (a key of ``extracted``,
    resolved) — a copy in ``out_dir`` whose ``rule_files`` load the plain files of the manifest's groups
    instead (every other entry made absolute, globs expanded as promtool would)."""
    try:
        data = load_yaml(path, error=ConfigInvalid)
    except ConfigInvalid:
        return path  # promtool reports it
    if not isinstance(data, dict) or not isinstance(data.get("rule_files"), list):
        return path
    entries: list[str] = []
    changed = False
    for entry in data["rule_files"]:
        pattern = str(path.parent / str(entry))
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        for match in matches:
            plain = extracted.get(Path(match).resolve())
            changed = changed or plain is not None
            entries += [str(p) for p in plain] if plain is not None else [str(Path(match).resolve())]
    if not changed:
        return path
    out_dir.mkdir(parents=True, exist_ok=True)
    copy = out_dir / path.name
    count = 1
    while copy.exists():
        count += 1
        copy = out_dir / f"{path.stem}-{count}{path.suffix}"
    copy.write_text(yaml.safe_dump({**data, "rule_files": entries}, sort_keys=False), encoding="utf-8")
    return copy
