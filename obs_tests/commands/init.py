"""``obs-tests init``: a starter contract for your own stack, and (``--baseline``) today's findings accepted."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from obs_tests.clients.base import normalise_url
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.commands.options import (
    GroupedCommand,
    GroupedOption,
    alertmanager_url_option,
    grafana_url_option,
    prometheus_url_option,
)
from obs_tests.commands.starter import Starter, StarterInputs, discover, render
from obs_tests.config.contract import load_contract
from obs_tests.config.policy import Accepted, without_location
from obs_tests.core.findings import Finding
from obs_tests.errors import ContractInvalid, UsageError
from obs_tests.suite.static import run_lint

__all__ = ["init"]

F = TypeVar("F", bound=Callable[..., Any])


def _option(name: str, help_text: str, *, multiple: bool = False, file: bool = True) -> Callable[[F], F]:
    return click.option(
        name,
        cls=GroupedOption,
        group="Files",
        multiple=multiple,
        type=click.Path(path_type=Path, exists=True, dir_okay=not file or multiple, file_okay=file or multiple),
        default=() if multiple else None,
        help=help_text,
    )


@click.command(cls=GroupedCommand)
@prometheus_url_option
@alertmanager_url_option
@grafana_url_option
@_option("--rules", "Rule files or directories of them (plain or PrometheusRule manifests); repeatable.", multiple=True)
@_option("--dashboards", "The directory of your Grafana dashboards (JSON).", file=False)
@_option("--prometheus-config", "Your prometheus.yml (offline: its jobs and static targets).")
@_option("--alertmanager-config", "Your alertmanager.yml.")
@_option("--rule-tests", "The directory of your promtool rule unit tests.", file=False)
@_option("--alertmanager-tests", "The directory of your routing tests.", file=False)
@click.option(
    "--output",
    "-o",
    cls=GroupedOption,
    group="Output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("obs.yaml"),
    show_default=True,
    help="Where to write the contract.",
)
@click.option("--force", cls=GroupedOption, group="Output", is_flag=True, help="Overwrite an existing contract.")
@click.option(
    "--baseline",
    cls=GroupedOption,
    group="Output",
    is_flag=True,
    help="Run the checks once and accept what is red today as reasoned exceptions in the contract "
    "(a first green run; every later regression is red).",
)
def init(
    prometheus_url: str | None,
    alertmanager_url: str | None,
    grafana_url: str | None,
    rules: tuple[Path, ...],
    dashboards: Path | None,
    prometheus_config: Path | None,
    alertmanager_config: Path | None,
    rule_tests: Path | None,
    alertmanager_tests: Path | None,
    output: Path,
    force: bool,
    baseline: bool,
) -> None:
    """Write a starter contract (obs.yaml) for a stack obs-tests has never seen.

    From the live Prometheus: the jobs with their target counts and scrape intervals, the metrics your
    rules and dashboards read with their type, help, job and labels. From files alone, offline: the
    metrics (types guessed from their names) and the jobs of --prometheus-config. With a day-one policy
    you can tighten later.

    \b
    Examples:
      obs-tests init --prometheus-url http://prometheus:9090 --rules rules/ --dashboards dashboards/
      obs-tests init --prometheus-url http://prometheus:9090 --rules rules/ --baseline --force
      obs-tests init --rules rules/ --prometheus-config prometheus.yml -o obs.yaml
    """
    if output.exists() and not force:
        raise UsageError(f"{output} exists — give --force to overwrite it, or -o another file")
    if prometheus_url is None and not rules and dashboards is None and prometheus_config is None:
        raise UsageError(
            "nothing to start from — give --prometheus-url and/or --rules, --dashboards, --prometheus-config"
        )
    inputs = StarterInputs(
        prometheus_url=normalise_url(prometheus_url, "Prometheus") if prometheus_url else None,
        alertmanager_url=normalise_url(alertmanager_url, "Alertmanager") if alertmanager_url else None,
        grafana_url=normalise_url(grafana_url, "Grafana") if grafana_url else None,
        rules=rules,
        dashboards=dashboards,
        prometheus_config=prometheus_config,
        alertmanager_config=alertmanager_config,
        rule_tests=rule_tests,
        alertmanager_tests=alertmanager_tests,
    )
    prom = PrometheusClient(inputs.prometheus_url) if inputs.prometheus_url else None
    starter = discover(inputs, prom)
    _write(starter, output)
    _print_written(starter, output)
    if baseline:
        _accept_or_exit(starter, output)
    click.echo(f"next: obs-tests lint -c {output}" + (f" && obs-tests check -c {output}" if starter.live else ""))
    if not baseline:
        click.echo("      red on day one? init --baseline --force accepts what is red today, each with its reason")


def _print_written(starter: Starter, output: Path) -> None:
    """What the starter contract holds, and the notes of its discovery."""
    click.echo(
        f"wrote {output}: {len(starter.jobs)} jobs, {len(starter.metrics)} metrics"
        + (f" ({len(starter.missing)} more read but not exported now)" if starter.missing else "")
        + f", {starter.alerts} alerts in {starter.rule_files} rule files, {starter.dashboards} dashboards"
    )
    for note in starter.notes:
        click.echo(f"  note: {note}")


def _accept_or_exit(starter: Starter, output: Path) -> None:
    """``--baseline``: accept today's findings in the contract; exit 1 listing those that cannot be accepted."""
    remaining = _baseline(starter, output)
    if remaining:
        click.echo(f"{len(remaining)} problem(s) cannot be accepted as exceptions — fix them first:")
        for line in remaining:
            click.echo(f"  {line}")
        sys.exit(1)


def _write(starter: Starter, output: Path) -> None:
    output.write_text(render(starter, output), encoding="utf-8")
    try:
        load_contract(output)
    except ContractInvalid as exc:  # our own output must be valid: a bug, said plainly
        raise ContractInvalid(f"obs-tests init wrote an invalid contract (please report it): {exc}") from None


#: the part of a rule finding's message that names the one problem (the selector, the windowed call)
_NARROWING = {
    "rule/selector-no-match": " matches no series",
    "rule/absent-true": " is true now",
    "rule/rate-window": ": the window is shorter",
}


def _narrowing(finding: Finding) -> str:
    """What an exception must find in the message to accept this problem only: the selector of a
    selector finding, the call of a rate-window finding; "" for findings whose subject says it all."""
    marker = _NARROWING.get(finding.rule)
    if marker is None or marker not in finding.message:
        return ""
    return finding.message.split(marker, 1)[0].removeprefix("selector ")


def _baseline(starter: Starter, output: Path) -> list[str]:
    """Run lint (and, live, check) on the starter contract; accept every error that has a rule id."""
    contract = load_contract(output)
    errors: list[Finding] = [f for s in run_lint(contract).sections for f in s.errors]
    remaining: list[str] = []
    if starter.live:
        found, failed = _check_errors(output, starter)
        errors += found
        remaining += failed
    when = time.strftime("%Y-%m-%d")
    accepted: dict[tuple[str, str, str], Accepted] = {}
    for finding in errors:
        if not finding.rule:
            remaining.append(str(finding))
            continue
        contains = _narrowing(finding)
        key = (finding.rule, without_location(finding.subject), contains)
        message = finding.message if len(finding.message) <= 240 else finding.message[:239] + "…"
        accepted.setdefault(key, Accepted(key[0], key[1], f"baseline {when}: {message}", contains))
    starter.accepted = list(accepted.values())
    _write(starter, output)
    by_rule: dict[str, int] = {}
    for item in starter.accepted:
        by_rule[item.rule] = by_rule.get(item.rule, 0) + 1
    summary = ", ".join(f"{rule} {count}" for rule, count in sorted(by_rule.items())) or "nothing was red"
    click.echo(f"baseline: {len(starter.accepted)} finding(s) accepted in {output} ({summary})")
    return remaining


def _check_errors(output: Path, starter: Starter) -> tuple[list[Finding], list[str]]:
    """The error findings of one ``obs-tests check`` on the contract, and the failures without findings."""
    inputs = starter.inputs
    with tempfile.TemporaryDirectory(prefix="obs-tests-init-") as work:
        command = [sys.executable, "-m", "obs_tests.cli", "check", "--contract", str(output), "--report-dir", work]
        if inputs.prometheus_url:
            command += ["--prometheus-url", inputs.prometheus_url]
        if inputs.alertmanager_url:
            command += ["--alertmanager-url", inputs.alertmanager_url]
        click.echo("baseline: running obs-tests check once on the starter contract …")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        path = Path(work) / "summary.json"
        if not path.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UsageError(f"obs-tests check did not run on the starter contract (exit {done.returncode}): {tail[0]}")
        summary = json.loads(path.read_text(encoding="utf-8"))
    findings: list[Finding] = []
    failed: list[str] = []
    for test in summary.get("tests") or []:
        mine = [
            Finding(
                str(f.get("check", "")),
                str(f.get("subject", "")),
                str(f.get("message", "")),
                str(f.get("severity", "error")),
                rule=str(f.get("rule", "")),
                file=f.get("file"),
                line=f.get("line"),
            )
            for f in test.get("findings") or []
            if f.get("severity") == "error"
        ]
        findings += mine
        if test.get("outcome") in ("failed", "error") and not mine:
            failed.append(f"{test.get('family')}: {test.get('name')}: {str(test.get('message', '')).splitlines()[:1]}")
    return findings, failed
