"""``obs-tests scenario``: list, validate, run and record chaos scenarios."""

from __future__ import annotations

import contextlib
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import NoReturn

import click

from obs_tests.commands.options import (
    TIME_SCALE,
    GroupedCommand,
    GroupedOption,
    Number,
    contract_option,
    report_dir_option,
    scenario_stacks_option,
    time_scale_option,
    topology_option,
)
from obs_tests.config.contract import Contract, load_contract, parse_duration, with_topology
from obs_tests.core.progress import Progress, is_terminal, terminal_width
from obs_tests.core.yamlfile import load_yaml
from obs_tests.errors import ConfigInvalid, ObsTestsError, ScenarioInvalid, UsageError
from obs_tests.scenarios.lanes import SharedStack, StackPool, run_scenarios
from obs_tests.scenarios.model import Catalog, Scenario, load_scenario, load_scenarios, ordered
from obs_tests.scenarios.record import record_scenario
from obs_tests.scenarios.reports import parse_formats, write_output, write_reports
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.scenarios.runner import ScenarioRunner
from obs_tests.scenarios.standalone import RunOutput
from obs_tests.stack import ComposeStack, EmbeddedStack
from obs_tests.stack.run_settings import resolve_settings
from obs_tests.stack.timescale import scale_rule_files, validate_factor
from obs_tests.workloads.load_report import report_lines

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
      obs-tests scenario run --compose --time-scale 0.01 scenarios/gateway-down.yaml
      obs-tests scenario scale-rules --time-scale 0.01 -o build/rules
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
    """Validate scenario files (schema, alerts, components, faults, and races: a fault reverted before
    what the scenario asserts can have happened); every file is checked, exit 2 if any is invalid."""
    contract = load_contract(contract_path)
    catalog = Catalog.from_contract(contract)
    last: ScenarioInvalid | None = None
    for path in _paths(contract_path, files):
        try:
            loaded = load_scenario(path, catalog)
        except ScenarioInvalid as exc:
            if last is not None:  # every error but the last is printed here; the last exits 2 below
                for line in str(last).splitlines():
                    click.echo(f"ScenarioInvalid: {line}", err=True)
            last = exc
            continue
        click.echo(f"{path}: ok ({loaded.name})")
    if last is not None:
        raise last


def _echo_log(level: str, message: str, progress: Progress | None = None) -> None:
    stamp = time.strftime("%H:%M:%S")
    line = click.style(f"{stamp} {level:7} {message}", **_LEVEL_STYLE.get(level, {}))  # type: ignore[arg-type]
    if progress is not None:
        progress.line(line)
    else:
        click.echo(line)
    sys.stdout.flush()


def _progress() -> Progress:
    """Phase lines on stdout; a status line too when a person watches it (a terminal)."""

    def echo(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    def draw(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    if not is_terminal(sys.stdout):
        return Progress(echo)
    return Progress(echo, draw, width=lambda: terminal_width(sys.stdout))


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
    type=Number(int, minimum=1, maximum=64),
    help="Run up to this many independent scenarios at once (disjoint components, no alert one fires "
    "that another keeps silent, at most one driving load); the others still run alone.",
)
@scenario_stacks_option("--stacks")
@topology_option
@click.option(
    "--compose",
    "compose",
    cls=GroupedOption,
    group="Stack",
    is_flag=True,
    help="Run on a running docker-compose stack instead of a fresh embedded one: faults act on its "
    "containers (docker SDK), services are reached at the ports the compose file publishes. --time-scale "
    "is then the scale its rules were written with (`scenario scale-rules`; default 1).",
)
@click.option(
    "--compose-project",
    cls=GroupedOption,
    group="Stack",
    envvar="OBS_COMPOSE_PROJECT",
    default="obs-tests",
    show_default=True,
    help="With --compose: the compose project name (docker compose -p).",
)
@click.option(
    "--compose-file",
    cls=GroupedOption,
    group="Stack",
    envvar="OBS_COMPOSE_FILE",
    default=Path("docker-compose.yml"),
    show_default=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --compose: the compose file (its published ports are the URLs).",
)
@click.option(
    "--output",
    "-o",
    "output",
    cls=GroupedOption,
    group="Reports",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the result to this file: .json (one scenario's result, or a list), .html or .md.",
)
@click.option(
    "--verbose",
    "-v",
    cls=GroupedOption,
    group="Reports",
    is_flag=True,
    help="Log every bus event of a trading-bot scenario as it arrives (cycle, event, data).",
)
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
def run(
    contract_path: Path,
    time_scale: float | None,
    report_dir: Path,
    formats: str,
    concurrency: int,
    scenario_stacks: int | None,
    topology: str | None,
    compose: bool,
    compose_project: str,
    compose_file: Path,
    output: Path | None,
    verbose: bool,
    files: tuple[Path, ...],
) -> None:
    """Run scenarios on a fresh embedded stack (all of the contract's when no file is given), or with
    --compose on a running docker-compose stack.

    Exit 0 when every scenario passed, 1 when one failed, 2 on bad input.
    """
    wanted = parse_formats(formats)
    if (scenario_stacks or 1) > 1 and (compose or concurrency > 1):
        raise UsageError("--stacks runs each scenario on a stack of its own: not with --compose or -j")
    given = {"contract": contract_path, "time_scale": time_scale, "scenario_stacks": scenario_stacks}
    settings = resolve_settings(given | {"topology": topology})
    contract = settings.contract
    stacks = 1 if compose or concurrency > 1 else settings.scenario_stacks
    # bounds at the scale the rules run at: a compose stack's, else the command line's when given (it wins
    # over a scenario's own), else each scenario's own or the contract's
    explicit = settings.time_scale if settings.time_scale_given else None
    catalog = Catalog.from_contract(contract, time_scale=settings.compose_time_scale if compose else explicit)
    scenarios = ordered(load_scenario(p, catalog) for p in _paths(contract_path, files))
    contract, scenarios = _shape_for(contract, scenarios, given=settings.topology_given or compose)
    scale = settings.compose_time_scale if compose else settings.scenario_time_scale(s.time_scale for s in scenarios)
    progress = _progress()
    where_to = RunOutput(verbose=verbose)
    if stacks > 1 and len(scenarios) > 1:
        _finish(_run_on_stacks(scenarios, contract, scale, stacks, progress, where_to), report_dir, wanted, output)
    stack: EmbeddedStack | ComposeStack
    if compose:
        stack = ComposeStack(contract, project=compose_project, compose_file=compose_file, time_scale=scale)
        where, start_bound = f"compose project {compose_project}", stack.ready_timeout
    else:
        stack = EmbeddedStack(contract, time_scale=scale, origin="scenario")
        where, start_bound = "embedded stack", stack.startup_timeout
    click.echo(f"obs-tests scenario run — {len(scenarios)} scenario(s) on the {where}, time scale {scale:g}")
    lanes = SharedStack(stack, concurrency=concurrency, catalog=catalog)
    results = _run_on_one_stack(scenarios, lanes, stack, where, start_bound, progress, where_to)
    _finish(results, report_dir, wanted, output)


def _shape_for(contract: Contract, scenarios: list[Scenario], *, given: bool) -> tuple[Contract, list[Scenario]]:
    """The stack's topology and the scenarios that run on it: HA when every scenario needs it (``topology:
    ha``) and no topology was given; else the contract's (or the given one), the HA scenarios left out of a
    single stack with a notice."""
    needing = [s for s in scenarios if s.topology == "ha"]
    if needing and len(needing) == len(scenarios) and not given and not contract.stack.topology.ha:
        return with_topology(contract, "ha"), scenarios
    if needing and not contract.stack.topology.ha:
        names = ", ".join(s.name for s in needing)
        click.echo(f"skipped (they need an HA stack: --topology ha): {names}", err=True)
        left = [s for s in scenarios if s.topology != "ha"]
        if not left:
            raise UsageError(f"{names}: they need an HA stack — run them with --topology ha")
        return contract, left
    return contract, scenarios


def _run_on_stacks(
    scenarios: list[Scenario], contract: Contract, scale: float, stacks: int, progress: Progress, output: RunOutput
) -> list[ScenarioResult]:
    """Each scenario on an embedded stack of its own, up to ``stacks`` at once."""
    lanes = min(stacks, len(scenarios))
    click.echo(
        f"obs-tests scenario run — {len(scenarios)} scenario(s) on {lanes} embedded stacks, time scale {scale:g}"
    )
    done: list[ScenarioResult] = []
    with progress.phase(
        f"running {len(scenarios)} scenarios on {lanes} stacks (each starts in at most "
        f"{contract.stack.startup_timeout:g}s)",
        status=lambda: f"{len(done)}/{len(scenarios)} done",
    ):
        return run_scenarios(
            scenarios,
            StackPool(lambda: EmbeddedStack(contract, time_scale=scale, origin="scenario"), stacks=stacks),
            on_result=done.append,
            log=lambda name, level, message: _echo_log(level, f"[{name}] {message}", progress),
            on_lane=lambda message: _echo_log("INFO", message, progress),
            output=output,
        )


def _run_on_one_stack(
    scenarios: list[Scenario],
    lanes: SharedStack,
    stack: EmbeddedStack | ComposeStack,
    where: str,
    start_bound: float,
    progress: Progress,
    output: RunOutput,
) -> list[ScenarioResult]:
    """Start (or reach) the stack, then run every scenario on it: one after another, each a progress
    phase of its own, or — with -j — up to that many at once, their log lines tagged with their names."""
    numbers = {s.name: number for number, s in enumerate(scenarios, start=1)}

    def phase(runner: ScenarioRunner) -> AbstractContextManager[None]:
        title = f"[{numbers[runner.scenario.name]}/{len(scenarios)}] {runner.scenario.name}"
        return progress.phase(title, status=lambda: runner.result.status)

    with contextlib.ExitStack() as running:
        with progress.phase(f"starting the {where}", at_most=start_bound):
            running.enter_context(stack)
        if lanes.concurrency == 1:
            return run_scenarios(
                scenarios,
                lanes,
                around=phase,
                log=lambda _name, level, message: _echo_log(level, message, progress),
                output=output,
            )
        done: list[ScenarioResult] = []
        with progress.phase(
            f"running {len(scenarios)} scenarios, up to {lanes.concurrency} at once",
            status=lambda: f"{len(done)}/{len(scenarios)} done",
        ):
            return run_scenarios(
                scenarios,
                lanes,
                on_result=done.append,
                log=lambda name, level, message: _echo_log(level, f"[{name}] {message}", progress),
                on_lane=progress.line,
                output=output,
            )


def _finish(
    results: list[ScenarioResult], report_dir: Path, wanted: tuple[str, ...], output: Path | None = None
) -> NoReturn:
    """Write the reports (and ``--output``), print each scenario's verdict and timings, exit 0 (all passed) or 1."""
    paths = write_reports(results, report_dir, wanted)
    if output is not None:
        write_output(results, output)
        click.echo(f"Result: {output}")
    click.echo("")
    for result in results:
        click.echo(
            f"{result.status.upper():7} {result.scenario}: {result.assertions_passed}/{len(result.assertions)} "
            f"assertions, {result.duration:.1f}s"
        )
        for failure in result.failures():
            click.echo(f"          ✘ {failure.name}: {failure.message or failure.actual}")
        for timing in result.alerts:
            click.echo(f"          {timing.describe()}")
        reports = [(result.load or {}).get("report"), *(step["report"] for step in result.load_steps)]
        for line in [line for report in reports if report for line in report_lines(report)]:
            click.echo(f"          {line}")
    click.echo(f"Reports: {paths[0].parent if paths else report_dir}")
    sys.exit(0 if all(r.passed for r in results) else 1)


@scenario.command("scale-rules", cls=GroupedCommand)
@contract_option
@click.option(
    "--time-scale",
    cls=GroupedOption,
    group="Scale",
    type=TIME_SCALE,
    required=True,
    help="Multiply every for:, keep_firing_for: and range window by this factor, e.g. 0.02.",
)
@click.option(
    "--min-range",
    cls=GroupedOption,
    group="Scale",
    type=Number(float, minimum=0, maximum=3600),
    default=None,
    help="Never shrink a range window below this many seconds [default: 4 scrape intervals of "
    "prometheus/prometheus.yml, the compose Prometheus].",
)
@click.option(
    "--output",
    "-o",
    cls=GroupedOption,
    group="Output",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory to write <output>/alerts/ and <output>/rules/ into.",
)
def scale_rules(contract_path: Path, time_scale: float, min_range: float | None, output: Path) -> None:
    """Write time-scaled copies of the contract's rule files for a stack obs-tests does not start
    (docker-compose), checked by promtool.

    \b
    Example:
      obs-tests scenario scale-rules --time-scale 0.01 -o build/rules
      OBS_PROMETHEUS_RULES=./build/rules docker compose -p obs-tests up -d
      obs-tests scenario run --compose --time-scale 0.01
    """

    if validate_factor(time_scale) == 1:
        raise UsageError("--time-scale 1 is the rule files as written: mount prometheus/ as it is")
    contract = load_contract(contract_path)
    minimum = min_range if min_range is not None else 4 * _compose_scrape_interval(contract)
    files = contract.files.rule_files()
    if not files:
        raise ConfigInvalid(f"{contract_path}: the contract names no rule files to scale")
    for kind in ("alerts", "rules"):
        chosen = [f for f in files if (f.parent.name == "rules") == (kind == "rules")]
        target = output / kind
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("*.yml"):
            stale.unlink()
        for path in scale_rule_files(chosen, time_scale, target, min_range=minimum):
            click.echo(str(path))
    click.echo(f"time scale {time_scale:g}, range windows ≥ {minimum:g}s; mount with OBS_PROMETHEUS_RULES={output}")


def _compose_scrape_interval(contract: Contract) -> float:
    """The global scrape interval of prometheus/prometheus.yml (the compose Prometheus), else the contract's."""
    path = Path("prometheus/prometheus.yml")
    try:
        data = load_yaml(path, error=ConfigInvalid) if path.is_file() else None
        text = (data or {}).get("global", {}).get("scrape_interval")
        return parse_duration(str(text)) if text else contract.stack.scrape_interval
    except (ValueError, AttributeError, ObsTestsError):
        return contract.stack.scrape_interval


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

    contract = load_contract(contract_path)
    summary = record_scenario(contract, file, output, time_scale=time_scale, log=_echo_log)
    click.echo(summary)
