"""``obs-tests lint``: every static check of the monitoring config, no stack needed (seconds).

:func:`run_lint` runs them in order — the Prometheus configs, the rule files, our rule lint, the rule unit tests and
their coverage (:mod:`~obs_tests.suite.rule_lint`), the Alertmanager config and routing tests, the dashboards,
``docker-compose.yml`` and the chaos scenarios (:mod:`~obs_tests.suite.config_lint`) — and judges every section's
findings under the contract's policy and the rule files' in-file suppressions
(:mod:`~obs_tests.suite.lint_report`).
"""

from __future__ import annotations

from obs_tests.config.contract import Contract
from obs_tests.config.policy import suppressions_in
from obs_tests.reports.junit import Case
from obs_tests.rules.rulefiles import load_rule_files
from obs_tests.suite.config_lint import (
    check_alertmanager,
    check_compose_file,
    check_configs,
    check_dashboards,
    check_grafana_provisioning,
    check_scenarios,
)
from obs_tests.suite.lint_report import LintReport, Section
from obs_tests.suite.rule_lint import check_rule_files, lint_static_rules, run_rule_tests, scrape_intervals

__all__ = ["run_lint"]


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
    report.sections.append(check_grafana_provisioning(contract))
    report.sections.append(check_scenarios(contract))
    suppressions, problems = suppressions_in((rf.path, [r.line for r in rf.rules]) for rf in rules)
    lint.findings += problems
    for section in report.sections:
        section.apply_policy(contract.policy, suppressions)
    return report
