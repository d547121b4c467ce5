"""``obs-tests scenario``: list, validate, run and record chaos scenarios."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from obs_tests.commands.options import (
    GroupedCommand,
    GroupedOption,
    contract_option,
    report_dir_option,
    time_scale_option,
)
from obs_tests.contract import load_contract
from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.model import Catalog, load_scenario, load_scenarios, ordered

__all__ = ["scenario"]

_LEVEL_STYLE = {"INFO": {}, "SUCCESS": {"fg": "green"}, "WARNING": {"fg": "yellow"}, "ERROR": {"fg": "red"}}


@click.group("scenario")
def scenario() -> None:
    """Chaos scenarios: a real fault, the alerts that must fire and clear, what must stay silent.

    \b
    Examples:
      obs-tests scenario list
      obs-tests scenario validate scenarios/*.yaml
      obs-tests scenario run scenarios/gateway-down.yaml --format json,html,junit,md
      obs-tests scenario record scenarios/gateway-down.yaml -o prometheus/tests/recorded_gateway_down.yml
    """


def _paths(contract_path: Path, files: tuple[Path, ...]) -> list[Path]:
    if files:
        return list(files)
    contract = load_contract(contract_path)
    directory = contract.files.scenarios
    found = sorted(p for p in directory.glob("*.y*ml")) if directory.is_dir() else []
    if not found:
        raise ScenarioInvalid(f"{directory}: no scenario files (*.yaml)")
    return found


@scenario.command("list", cls=GroupedCommand)
@contract_option
def list_scenarios(contract_path: Path) -> None:
    """List the scenarios of the contract's scenario directory."""
    contract = load_contract(contract_path)
    for item in load_scenarios(contract.files.scenarios, Catalog.from_contract(contract)):
        alerts = ", ".join(m.alert for m in item.expect.must_fire) or "(none must fire)"
        click.echo(f"{item.name:32} {item.type:12} fires: {alerts}")


@scenario.command("validate", cls=GroupedCommand)
@contract_option
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
def validate(contract_path: Path, files: tuple[Path, ...]) -> None:
    """Validate scenario files (schema, alerts, components, faults); exit 2 on the first error."""
    contract = load_contract(contract_path)
    catalog = Catalog.from_contract(contract)
    for path in _paths(contract_path, files):
        loaded = load_scenario(path, catalog)
        click.echo(f"{path}: ok ({loaded.name})")


def _echo_log(level: str, message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    click.secho(f"{stamp} {level:7} {message}", **_LEVEL_STYLE.get(level, {}))  # type: ignore[arg-type]
    sys.stdout.flush()


@scenario.command("run", cls=GroupedCommand)
@contract_option
@time_scale_option
@report_dir_option("Reports go to <report-dir>/scenarios/<timestamp>/.")
@click.option(
    "--format",
    "formats",
    cls=GroupedOption,
    group="Reports",
    default="json,html",
    show_default=True,
    help="Comma-separated: json, html, junit, md.",
)
@click.option(
    "--concurrency",
    "-j",
    cls=GroupedOption,
    group="Scenarios",
    envvar="OBS_CONCURRENCY",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Run up to this many independent scenarios at once (disjoint components, no alert one fires "
    "that another keeps silent, at most one driving load); the others still run alone.",
)
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
def run(
    contract_path: Path,
    time_scale: float | None,
    report_dir: Path,
    formats: str,
    concurrency: int,
    files: tuple[Path, ...],
) -> None:
    """Run scenarios on a fresh embedded stack (all of the contract's when no file is given).

    Exit 0 when every scenario passed, 1 when one failed, 2 on bad input.
    """
    from obs_tests.scenarios.concurrent import run_concurrently  # noqa: PLC0415
    from obs_tests.scenarios.reports import parse_formats, write_reports  # noqa: PLC0415
    from obs_tests.scenarios.runner import ScenarioRunner  # noqa: PLC0415
    from obs_tests.stack import EmbeddedStack  # noqa: PLC0415

    wanted = parse_formats(formats)
    contract = load_contract(contract_path)
    catalog = Catalog.from_contract(contract)
    scenarios = ordered(load_scenario(p, catalog) for p in _paths(contract_path, files))
    scale = time_scale or next((s.time_scale for s in scenarios if s.time_scale), None) or contract.stack.time_scale
    click.echo(f"obs-tests scenario run — {len(scenarios)} scenario(s), time scale {scale:g}")
    results = []
    with EmbeddedStack(contract, time_scale=scale, origin="scenario") as stack:
        if concurrency > 1:
            results = run_concurrently(
                scenarios,
                stack,
                catalog,
                max_concurrent=concurrency,
                log=lambda n, lv, m: _echo_log(lv, f"[{n}] {m}"),
                on_wave=lambda wave: click.echo(f"concurrently: {wave.describe()}"),
            )
        else:
            for item in scenarios:
                results.append(ScenarioRunner(item, stack=stack, log=_echo_log).run())
    paths = write_reports(results, report_dir, wanted)
    click.echo("")
    for result in results:
        click.echo(
            f"{result.status.upper():7} {result.scenario}: {result.assertions_passed}/{len(result.assertions)} "
            f"assertions, {result.duration:.1f}s"
        )
        for failure in result.failures():
            click.echo(f"          ✘ {failure.name}: {failure.message or failure.actual}")
        for timing in result.alerts:
            b = timing.bounds
            click.echo(
                f"          {timing.alert}: fired {_s(timing.fired_after)} after the fault (bound "
                f"{_s(b.fire(timing.detect) if b else None)}), resolved {_s(timing.resolved_after)} after the revert "
                f"(bound {_s(b.resolve() if b else None)})"
            )
    click.echo(f"Reports: {paths[0].parent if paths else report_dir}")
    sys.exit(0 if all(r.passed for r in results) else 1)


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}s"


@scenario.command("record", cls=GroupedCommand)
@contract_option
@time_scale_option
@click.option(
    "--output",
    "-o",
    cls=GroupedOption,
    group="Output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The promtool test file to write (e.g. prometheus/tests/recorded_x.yml).",
)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def record(contract_path: Path, time_scale: float | None, output: Path, file: Path) -> None:
    """Run a scenario and export the series it touched as a `promtool test rules` file (input_series and
    the alerts observed), on the real time axis of the unscaled rules; the file is checked with promtool."""
    from obs_tests.scenarios.record import record_scenario  # noqa: PLC0415

    contract = load_contract(contract_path)
    summary = record_scenario(contract, file, output, time_scale=time_scale, log=_echo_log)
    click.echo(summary)
