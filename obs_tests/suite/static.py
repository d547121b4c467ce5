"""``obs-tests lint``: every static check of the monitoring config, no stack needed (seconds).

Sections: the Prometheus configs (``promtool check config``, compose file and the embedded render),
the rule files (``promtool check rules``), our rule lint, the rule unit tests (``promtool test rules``,
converted to JUnit per test case), unit-test coverage of every alert, the Alertmanager config
(``amtool check-config``), the routing tests (``amtool config routes test``) and their coverage, the
dashboards (JSON Schema + dashboard lint), ``docker-compose.yml`` (``docker-compose config`` + consistency) and
the chaos scenarios (schema, references, and races: a fault reverted before what is asserted can happen).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from obs_tests.checks.compose_file import check_compose
from obs_tests.checks.dashboard_schema import validate_dashboard_file
from obs_tests.checks.dashboards_lint import lint_dashboards
from obs_tests.checks.empty_declarations import check_expectations
from obs_tests.checks.routing import check_routing_coverage, load_route_tests
from obs_tests.checks.routing_live import run_route_tests
from obs_tests.checks.rule_tests import (
    check_rule_test_coverage,
    junit_cases,
    load_rule_test_file,
    parse_promtool_test,
    plain_test_file,
)
from obs_tests.checks.rules import LintPolicy, lint_rules
from obs_tests.checks.selectors import check_no_match_declarations
from obs_tests.clients.tools import promtool, run_tool
from obs_tests.config.contract import Contract, parse_duration
from obs_tests.config.policy import Policy, Suppression, judge, suppressions_in
from obs_tests.core.findings import Finding, display_path
from obs_tests.core.yamlfile import load_yaml
from obs_tests.dashboards.dashboard_json import dashboard_files
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.errors import ConfigInvalid, ScenarioInvalid, ToolError
from obs_tests.reports.junit import Case, write_junit
from obs_tests.rules.rulefiles import PlainRuleFile, RuleFile, load_rule_file, load_rule_files, plain_rule_files
from obs_tests.scenarios.model import Catalog, load_scenario
from obs_tests.stack.components import component_names
from obs_tests.stack.render import render_prometheus_config
from obs_tests.stack.system_under_test import load_system

__all__ = [
    "LintReport",
    "ScrapeIntervals",
    "Section",
    "check_alertmanager",
    "check_compose_file",
    "check_configs",
    "check_dashboards",
    "check_rule_files",
    "check_scenarios",
    "contract_types",
    "lint_static_rules",
    "rule_test_files",
    "run_lint",
    "run_rule_tests",
    "scrape_intervals",
]

_LOCATED = re.compile(r"^(?P<line>\d+):(?P<col>\d+):\s*(?P<text>.*)$")
_YAML_LINE = re.compile(r"^(?:yaml: )?line (?P<line>\d+):\s*(?P<text>.*)$")
_RULE_REF = re.compile(r'group "(?P<group>[^"]*)", rule (?P<index>\d+),')


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


def check_configs(contract: Contract) -> Section:
    """``promtool check config`` on the compose config and on the embedded config rendered from the contract."""
    section = Section("prometheus config")
    configs: list[tuple[str, Path]] = []
    if contract.files.prometheus_config.is_file():
        configs.append((display_path(contract.files.prometheus_config), contract.files.prometheus_config))
    with tempfile.TemporaryDirectory(prefix="obs-lint-") as tmp:
        if any(j.components for j in contract.jobs):
            names = component_names(load_system(contract.stack.system))
            addresses = {name: f"127.0.0.1:{9000 + i}" for i, name in enumerate(names)}
            # the embedded Prometheus loads PrometheusRule manifests as the plain files of their groups
            loaded = [p.path for p in plain_rule_files(contract.files.rule_files(), Path(tmp) / "rules")]
            try:
                rendered = render_prometheus_config(
                    contract, addresses, alertmanager="127.0.0.1:9093", rule_files=loaded
                )
            except Exception as exc:  # noqa: BLE001 - any render problem is a finding here
                section.findings.append(Finding("config", "embedded prometheus.yml", str(exc)))
            else:
                path = Path(tmp) / "prometheus.yml"
                path.write_text(yaml.safe_dump(rendered))
                configs.append(("embedded stack (rendered from the contract)", path))
        for label, path in configs:
            result = promtool("check", "config", str(path))
            section.checked.append(label)
            failure = None
            if result.returncode != 0:
                failure = result.output
                section.findings.append(Finding("config", label, f"promtool check config: {result.output}"))
            section.cases.append(Case(label, "prometheus-config", failure=failure))
    return section


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


def check_alertmanager(contract: Contract, rules: Sequence[RuleFile]) -> tuple[Section, Section]:
    """``amtool check-config`` and every routing test (``amtool config routes test``) with their coverage."""
    config = Section("alertmanager config")
    routing = Section("routing")
    path = contract.files.alertmanager_config
    if contract.stack.alertmanager is None:
        reason = "not applicable: the contract declares no Alertmanager (stack.alertmanager: null)"
        config.checked.append(reason)
        routing.checked.append(reason)
        return config, routing
    if not path.is_file():
        config.findings.append(
            Finding(
                "alertmanager",
                display_path(path),
                "Alertmanager config not found — set files.alertmanager_config to your alertmanager.yml, or "
                "stack.alertmanager: null in the contract when the stack has no Alertmanager",
                rule="alertmanager/config",
                file=str(path),
            )
        )
        return config, routing
    result = run_tool(["amtool", "check-config", str(path)])
    config.checked.append(display_path(path))
    failure = None if result.returncode == 0 else result.output
    if failure:
        config.findings.append(
            Finding(
                "alertmanager",
                display_path(path),
                f"amtool check-config: {result.output}",
                rule="alertmanager/config",
                file=str(path),
            )
        )
    config.cases.append(Case(path.name, "alertmanager-config", failure=failure))
    directory = contract.files.alertmanager_tests
    test_paths = sorted(directory.glob("*.y*ml")) if directory.is_dir() else []
    tests, problems = load_route_tests(test_paths)
    routing.findings += problems
    by_name = {r.name: r for rf in rules for r in rf.alerts}
    for outcome in run_route_tests(path, tests, by_name):
        routing.findings += outcome.findings
        failure = "\n".join(f.message for f in outcome.findings) or None
        routing.cases.append(
            Case(f"{outcome.test.alert} -> {', '.join(outcome.test.receivers)}", "routing", failure=failure)
        )
    routing.findings += check_routing_coverage(by_name.values(), tests)
    routing.checked.append(f"{len(tests)} routing tests, {len(by_name)} alerts")
    return config, routing


def check_dashboards(contract: Contract) -> Section:
    """Every dashboard file: JSON Schema, then the dashboard lint (uids unique across the directory), and the
    contract's ``dashboards.expected_empty`` naming existing panels."""
    section = Section("dashboards")
    files = dashboard_files(contract.files.dashboards)
    dashboards: list[tuple[Path, Dashboard]] = []
    for path in files:
        dashboard, findings = validate_dashboard_file(path)
        section.findings += findings
        if dashboard is not None:
            dashboards.append((path, dashboard))
    section.findings += lint_dashboards([d for _, d in dashboards])
    if dashboards:
        section.findings += check_expectations([d for _, d in dashboards], contract.dashboards.expected_empty)
    for path in files:
        shown = display_path(path)
        mine = [
            f
            for f in section.errors
            if f.subject.startswith(shown) or any(d.label in f.subject for p, d in dashboards if p == path)
        ]
        section.cases.append(Case(path.name, "dashboards", failure="\n".join(str(f) for f in mine) or None))
    if dashboards and contract.dashboards.expected_empty:
        stale = [str(f) for f in section.errors if f.subject.startswith("dashboards.expected_empty")]
        section.cases.append(Case("dashboards.expected_empty", "dashboards", failure="\n".join(stale) or None))
    section.checked.append(f"{len(files)} dashboards in {display_path(contract.files.dashboards)}")
    return section


def check_compose_file(contract: Contract) -> Section:
    """``docker-compose config`` (offline, with and without the locust profile) and its agreement with the
    services, prometheus.yml and the Grafana provisioning — when the project has a docker-compose.yml."""
    section = Section("docker-compose")
    path = contract.root / "docker-compose.yml"
    if not path.is_file():
        return section
    try:
        section.findings = check_compose(path, contract.files.prometheus_config, load_system(contract.stack.system))
    except ToolError as exc:
        section.findings = [Finding("compose", display_path(path), str(exc), "warning")]
    section.checked.append(display_path(path))
    failure = "\n".join(str(f) for f in section.errors) or None
    section.cases.append(Case(path.name, "docker-compose", failure=failure))
    return section


def check_scenarios(contract: Contract) -> Section:
    """Every scenario file of the contract's scenario directory, as ``scenario validate`` checks it (schema,
    what it refers to, races); a contract without a scenario directory has nothing to check here."""
    section = Section("scenarios")
    directory = contract.files.scenarios
    if not directory.is_dir():
        section.checked.append(f"no scenario directory ({display_path(directory)}): not applicable")
        return section
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    catalog = Catalog.from_contract(contract)
    for path in files:
        try:
            load_scenario(path, catalog)
        except ScenarioInvalid as exc:
            lines = str(exc).splitlines()
            section.findings += [Finding("scenarios", display_path(path), line) for line in lines]
            section.cases.append(Case(path.name, "scenarios", failure="\n".join(lines)))
        else:
            section.cases.append(Case(path.name, "scenarios"))
    section.checked.append(f"{len(files)} scenarios in {display_path(directory)}")
    return section


def run_lint(contract: Contract) -> LintReport:
    """Run every static check; nothing needs a running server."""
    report = LintReport()
    report.sections.append(check_configs(contract))
    rule_paths = contract.files.rule_files()
    files = check_rule_files(rule_paths)
    files.checked = [f"{len(rule_paths)} files"]
    report.sections.append(files)
    rules = load_rule_files(rule_paths)
    manifests = sum(rf.is_manifest for rf in rules)
    counted = f"{sum(len(rf.rules) for rf in rules)} rules in {len(rules)} files"
    counted += f" ({manifests} of them PrometheusRule manifests)" if manifests else ""
    intervals = scrape_intervals(contract)
    lint = Section("rule lint", checked=[counted, intervals.describe()])
    lint.findings = lint_static_rules(contract, rules, intervals)
    for rf in rules:
        for rule in rf.rules:
            mine = [f for f in lint.findings if f.subject.startswith(f"{rule.title} (")]
            lint.cases.append(
                Case(
                    rule.title,
                    rf.path.name,
                    failure="\n".join(f.message for f in mine if f.severity == "error") or None,
                )
            )
    report.sections.append(lint)
    report.sections.extend(run_rule_tests(contract, rules))
    report.sections.extend(check_alertmanager(contract, rules))
    report.sections.append(check_dashboards(contract))
    report.sections.append(check_compose_file(contract))
    report.sections.append(check_scenarios(contract))
    suppressions, problems = suppressions_in((rf.path, [r.line for r in rf.rules]) for rf in rules)
    lint.findings += problems
    for section in report.sections:
        section.apply_policy(contract.policy, suppressions)
    return report
