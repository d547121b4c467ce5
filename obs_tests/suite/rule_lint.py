"""The static checks of the rule files: ``promtool check rules`` (errors located at the user's file:line, a
PrometheusRule manifest's groups checked as the plain file the operator would write), our rule lint under the
contract's policy (with its metric types and the scrape intervals known without a server), and the rule unit tests
(``promtool test rules``, a JUnit case per test case) with the coverage of every alert.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obs_tests.checks.rule_tests import (
    check_rule_test_coverage,
    junit_cases,
    load_rule_test_file,
    parse_promtool_test,
    plain_test_file,
)
from obs_tests.checks.rules import LintPolicy, lint_rules
from obs_tests.checks.selectors import check_no_match_declarations
from obs_tests.clients.tools import promtool
from obs_tests.config.contract import Contract, parse_duration
from obs_tests.core.findings import Finding, display_path
from obs_tests.core.yamlfile import load_yaml
from obs_tests.errors import ConfigInvalid
from obs_tests.reports.junit import Case
from obs_tests.rules.rulefiles import PlainRuleFile, RuleFile, load_rule_file, plain_rule_files
from obs_tests.suite.lint_report import Section

__all__ = [
    "ScrapeIntervals",
    "check_rule_files",
    "contract_types",
    "lint_static_rules",
    "rule_test_files",
    "run_rule_tests",
    "scrape_intervals",
]

_LOCATED = re.compile(r"^(?P<line>\d+):(?P<col>\d+):\s*(?P<text>.*)$")
_YAML_LINE = re.compile(r"^(?:yaml: )?line (?P<line>\d+):\s*(?P<text>.*)$")
_RULE_REF = re.compile(r'group "(?P<group>[^"]*)", rule (?P<index>\d+),')


def contract_types(contract: Contract) -> dict[str, str]:
    """metric -> declared type."""
    return {m.name: m.type for m in contract.metrics}


@dataclass(frozen=True)
class ScrapeIntervals:
    """The scrape interval of each job the rate-window lint judges against, and where they come from."""

    jobs: dict[str, float] = field(default_factory=dict)
    #: for series whose job is unknown: the largest interval in use (None: none known, windows not judged)
    default: float | None = None
    source: str = ""
    #: metric -> the job exporting it (a live Prometheus knows; the contract's metrics[].job are added)
    metric_jobs: dict[str, str] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        """Whether any window can be judged."""
        return self.default is not None

    def describe(self) -> str:
        """One line for the lint output: against what the windows were judged, or why they were not."""
        if not self.known:
            return (
                "rate windows: not applicable — no scrape interval known (no files.prometheus_config, no "
                "jobs[].scrape_interval in the contract); `obs-tests check` takes them from the live Prometheus"
            )
        return f"rate windows against the scrape intervals of {self.source}"


def scrape_intervals(contract: Contract) -> ScrapeIntervals:
    """Each job's largest scrape interval in any config the rules run with, known without a server: the
    embedded stack's (the jobs it scrapes: those with components), the contract's ``jobs[].scrape_interval``
    and ``files.prometheus_config``. Nothing is assumed for a job none of them gives."""
    jobs: dict[str, float] = {}
    sources: list[str] = []
    for job in contract.jobs:
        if job.scrape_interval:
            jobs[job.name] = job.scrape_interval
        elif job.components:
            jobs[job.name] = contract.stack.scrape_interval
    if jobs:
        sources.append("the contract" if not any(j.components for j in contract.jobs) else "the embedded stack")
    global_interval: float | None = None
    path = contract.files.prometheus_config
    config: Any = None
    if path.is_file():
        try:
            config = load_yaml(path, error=ConfigInvalid) or {}
        except ConfigInvalid:
            config = None  # promtool check config reports the file
    if isinstance(config, dict):
        sources.append(display_path(path))
        try:
            global_interval = parse_duration(str((config.get("global") or {}).get("scrape_interval", "1m")))
            for job in config.get("scrape_configs") or []:
                raw = job.get("scrape_interval") if isinstance(job, dict) else None
                seconds = parse_duration(str(raw)) if raw else global_interval
                name = str(job.get("job_name")) if isinstance(job, dict) else ""
                jobs[name] = max(jobs.get(name, 0.0), seconds)
        except ValueError:
            pass  # promtool check config reports the bad duration
    known = [*jobs.values(), *([global_interval] if global_interval else [])]
    return ScrapeIntervals(jobs, max(known) if known else None, " and ".join(sources))


def rule_test_files(contract: Contract) -> list[Path]:
    """Every promtool test file."""
    directory = contract.files.rule_tests
    return sorted(p for p in directory.glob("*.y*ml")) if directory.is_dir() else []


def lint_static_rules(
    contract: Contract, files: Sequence[RuleFile], intervals: ScrapeIntervals | None = None
) -> list[Finding]:
    """Our rule lint under the contract's policy (alert labels, annotations, min for, window multiple), with
    its metric types and the scrape intervals (``intervals``: the live ones; default: :func:`scrape_intervals`),
    and the contract's ``rules.expected_no_match`` entries that name no selector of any rule."""
    intervals = intervals or scrape_intervals(contract)
    runbooks = contract.root / "runbooks"
    findings = lint_rules(
        files,
        types=contract_types(contract),
        intervals=intervals.jobs,
        job_of={**intervals.metric_jobs, **{m.name: m.job for m in contract.metrics if m.job}},
        default_interval=intervals.default,
        policy=LintPolicy.from_policy(contract.policy, runbooks if runbooks.is_dir() else None),
    )
    return findings + check_no_match_declarations(files, contract.expected_no_match)


def _promtool_findings(plain: PlainRuleFile, rf: RuleFile, output: str) -> list[Finding]:
    """promtool check rules' complaints about ``plain``, located in the file the user edits (a manifest's
    line for its extracted groups; the rule's line when promtool names only group and rule number)."""
    shown = display_path(plain.source)
    found: list[Finding] = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line or line.startswith(("Checking ", "FAILED:", "SUCCESS:")):
            continue
        head, sep, rest = line.partition(": ")
        text = rest if sep and Path(head).name == plain.path.name else line
        number: int | None = None
        located = _LOCATED.match(text) or _YAML_LINE.match(text)
        if located:
            number = int(located.group("line")) or None
            text = located.group("text") if _LOCATED.match(text) else text
        ref = _RULE_REF.search(text)
        if number is not None:
            number = plain.source_line(number)
        elif ref:  # promtool gives no line ("0:0:"): the rule's
            group, index = ref.group("group"), int(ref.group("index")) - 1
            rule = next(
                (r for r in rf.rules if r.group == group and r.index == index and r.manifest == plain.manifest), None
            )
            number = rule.line if rule else None
        where = f"{shown}:{number}" if number else shown
        if plain.manifest:
            text += f" (PrometheusRule {plain.manifest})"
        finding = Finding("rules", where, f"promtool: {text}", rule="rule/syntax", file=str(plain.source), line=number)
        if finding not in found:
            found.append(finding)
    return found or [
        Finding("rules", shown, f"promtool check rules: {output.strip()}", rule="rule/syntax", file=str(plain.source))
    ]


def check_rule_files(files: Sequence[Path]) -> Section:
    """``promtool check rules`` on each rule file (the groups of each PrometheusRule manifest as the plain
    file the operator would write); errors located at the user's file:line."""
    section = Section("rule files")
    with tempfile.TemporaryDirectory(prefix="obs-rules-") as tmp:
        for path in files:
            rf = load_rule_file(path)
            section.checked.append(display_path(path))
            failures = []
            for plain in plain_rule_files([rf], Path(tmp)):
                result = promtool("check", "rules", str(plain.path))
                if result.returncode != 0:
                    found = _promtool_findings(plain, rf, result.output)
                    section.findings += found
                    failures += [f.message for f in found]
            section.cases.append(Case(path.name, "rule-files", failure="\n".join(failures) or None))
    return section


def run_rule_tests(contract: Contract, rules: Sequence[RuleFile]) -> tuple[Section, Section]:
    """``promtool test rules`` per test file (JUnit case per test case) and the coverage of every alert. A
    test file that loads PrometheusRule manifests runs against the plain files of their groups."""
    tests = Section("rule unit tests")
    coverage = Section("rule test coverage")
    inventories = []
    with tempfile.TemporaryDirectory(prefix="obs-rule-tests-") as tmp:
        extracted: dict[Path, list[Path]] = {}
        for plain in plain_rule_files([rf for rf in rules if rf.is_manifest], Path(tmp) / "rules"):
            extracted.setdefault(plain.source.resolve(), []).append(plain.path)
        for path in rule_test_files(contract):
            inventory = load_rule_test_file(path)
            inventories.append(inventory)
            runnable = plain_test_file(path, extracted, Path(tmp)) if extracted else path
            result = promtool("test", "rules", str(runnable))
            output = result.output.replace(str(runnable), str(path))
            failures = parse_promtool_test(output)
            cases = junit_cases(inventory, result.returncode, failures, output)
            tests.cases += cases
            tests.checked.append(f"{path.name} ({len(inventory.cases)} cases)")
            for case in cases:
                if case.failure:
                    tests.findings.append(
                        Finding(
                            "rule-tests",
                            f"{path.name}: {case.name}",
                            case.failure,
                            rule="rule/unit-test",
                            file=str(path),
                        )
                    )
    alerts = [r for rf in rules for r in rf.alerts]
    coverage.findings = check_rule_test_coverage(alerts, inventories)
    coverage.checked.append(f"{len(alerts)} alerts")
    failing = {f.subject.split(" (")[0].removeprefix("alert ") for f in coverage.findings}
    coverage.cases = [
        Case(
            a.name,
            "rule-test-coverage",
            failure=next((f.message for f in coverage.findings if f.subject.startswith(f"alert {a.name} ")), None)
            if a.name in failing
            else None,
        )
        for a in alerts
    ]
    return tests, coverage
