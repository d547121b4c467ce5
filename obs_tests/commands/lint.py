"""``obs-tests lint``: the static checks, no stack needed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from obs_tests.commands.options import GroupedCommand, GroupedOption, contract_option, output_format_option
from obs_tests.config.contract import load_contract
from obs_tests.suite.static import run_lint

__all__ = ["lint"]


def _indent(text: str, prefix: str = "          ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


@click.command(cls=GroupedCommand)
@contract_option
@click.option(
    "--junit",
    cls=GroupedOption,
    group="Reports",
    envvar="OBS_LINT_JUNIT",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("reports/lint-junit.xml"),
    show_default=True,
    help="Write every check as a JUnit test case here.",
)
@output_format_option
def lint(contract_path: Path, junit: Path, fmt: str) -> None:
    """Check configs, rules, rule unit tests, Alertmanager config, routing, dashboards and
    docker-compose.yml — without a stack.

    \b
    Runs the real promtool (check config, check rules, test rules), amtool (check-config,
    config routes test) and docker-compose (config), plus obs-tests' own rule lint, dashboard
    schema + lint and coverage checks.
    Exit status: 0 clean · 1 an error finding · 2 bad input.

    \b
    Example:
      obs-tests lint && obs-tests lint --format json | jq .ok
    """
    contract = load_contract(contract_path)
    report = run_lint(contract)
    report.write_junit(junit)
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(f"obs-tests lint — contract {contract_path}")
        for section in report.sections:
            mark = "FAIL" if section.errors else "PASS"
            click.echo(f"  {mark}  {section.name}: {'; '.join(section.checked) or 'nothing to check'}")
            for finding in section.errors:
                click.echo(_indent(f"{finding.subject}: {finding.message}"))
            for finding in section.warnings:
                click.echo(_indent(f"warning: {finding.subject}: {finding.message}"))
        errors = sum(len(s.errors) for s in report.sections)
        warnings = sum(len(s.warnings) for s in report.sections)
        let_go = sum(s.let_go for s in report.sections)
        quiet = f", {let_go} turned off or suppressed by the policy" if let_go else ""
        click.echo(f"{errors} errors, {warnings} warnings{quiet} — JUnit: {junit}")
    sys.exit(0 if report.ok else 1)
