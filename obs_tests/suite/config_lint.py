"""The static checks of the files besides the rules: the Prometheus configs (``promtool check config`` on the
user's and on the embedded stack's rendered from the contract), the Alertmanager config (``amtool check-config``) and
its routing tests (``amtool config routes test``) with their coverage, the dashboards (JSON Schema, dashboard lint),
``docker-compose.yml`` (``docker-compose config`` and consistency) and the scenario files (schema, references,
races). Each check gives a :class:`~obs_tests.suite.lint_report.Section`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from obs_tests.checks.compose_file import check_compose, check_compose_test_file
from obs_tests.checks.compose_ha import check_compose_ha_file
from obs_tests.checks.dashboard_schema import validate_dashboard_file
from obs_tests.checks.dashboards_lint import lint_dashboards
from obs_tests.checks.empty_declarations import check_expectations
from obs_tests.checks.grafana_provisioning import check_provisioning
from obs_tests.checks.routing import check_routing_coverage, load_route_tests
from obs_tests.checks.routing_live import run_route_tests
from obs_tests.clients.tools import promtool, run_tool
from obs_tests.config.contract import Contract
from obs_tests.core.findings import Finding, display_path
from obs_tests.dashboards.dashboard_json import dashboard_files
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.errors import ScenarioInvalid, ToolError
from obs_tests.reports.junit import Case
from obs_tests.rules.rulefiles import RuleFile, plain_rule_files
from obs_tests.scenarios.model import Catalog, load_scenario
from obs_tests.stack.components import component_names
from obs_tests.stack.render import render_prometheus_config
from obs_tests.stack.system_under_test import load_system
from obs_tests.suite.lint_report import Section

__all__ = [
    "check_alertmanager",
    "check_compose_file",
    "check_configs",
    "check_dashboards",
    "check_grafana_provisioning",
    "check_scenarios",
]


def check_configs(contract: Contract) -> Section:
    """``promtool check config`` on the compose config and on the embedded config rendered from the contract."""
    section = Section("prometheus config")
    configs: list[tuple[str, Path]] = []
    if contract.files.prometheus_config.is_file():
        configs.append((display_path(contract.files.prometheus_config), contract.files.prometheus_config))
    with tempfile.TemporaryDirectory(prefix="obs-lint-") as tmp:
        if any(j.components for j in contract.jobs):
            names = component_names(load_system(contract.stack.system), contract.stack.topology)
            addresses = {name: f"127.0.0.1:{9000 + i}" for i, name in enumerate(names)}
            # the embedded Prometheus loads PrometheusRule manifests as the plain files of their groups
            loaded = [p.path for p in plain_rule_files(contract.files.rule_files(), Path(tmp) / "rules")]
            try:
                rendered = render_prometheus_config(
                    contract, addresses, alertmanagers=["127.0.0.1:9093"], rule_files=loaded
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
    services, prometheus.yml and the Grafana provisioning — when the project has a docker-compose.yml; and
    its ``docker-compose.test.yml`` (the test runner) and ``docker-compose.ha.yml`` (the HA topology), when there
    are."""
    section = Section("docker-compose")
    path = contract.root / "docker-compose.yml"
    if not path.is_file():
        return section
    test_file = path.with_name("docker-compose.test.yml")
    ha_file = path.with_name("docker-compose.ha.yml")
    single_config = contract.files.prometheus_config
    try:
        section.findings = check_compose(path, single_config, load_system(contract.stack.system))
        if test_file.is_file():
            section.findings += check_compose_test_file(test_file, path)
        if ha_file.is_file():
            label = contract.stack.topology.replica_label
            section.findings += check_compose_ha_file(ha_file, path, single_config, replica_label=label)
    except ToolError as exc:
        section.findings = [Finding("compose", display_path(path), str(exc), "warning")]
    section.checked.append(display_path(path))
    section.checked += [display_path(f) for f in (test_file, ha_file) if f.is_file()]
    failure = "\n".join(str(f) for f in section.errors) or None
    section.cases.append(Case(path.name, "docker-compose", failure=failure))
    return section


def check_grafana_provisioning(contract: Contract) -> Section:
    """``grafana/provisioning/`` beside the contract (datasources and dashboard providers) against Grafana's
    documented provisioning format — when the project has one."""
    section = Section("grafana provisioning")
    directory = contract.root / "grafana" / "provisioning"
    if not directory.is_dir():
        return section
    section.findings = check_provisioning(directory)
    section.checked.append(display_path(directory))
    failure = "\n".join(str(f) for f in section.errors) or None
    section.cases.append(Case("provisioning", "grafana", failure=failure))
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
