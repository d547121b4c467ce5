"""Options shared by several commands, and a command class that groups options in ``--help``.

Every option names its ``OBS_*`` environment variable; ``--help`` shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from obs_tests.contract import Contract, load_contract

__all__ = [
    "GroupedCommand",
    "GroupedOption",
    "alertmanager_url_option",
    "contract_option",
    "grafana_url_option",
    "load_contract_option",
    "output_format_option",
    "prometheus_url_option",
    "report_dir_option",
    "state_dir_option",
    "time_scale_option",
]

F = TypeVar("F", bound=Callable[..., Any])


class GroupedOption(click.Option):
    """A click option that knows which ``--help`` section it belongs to."""

    def __init__(self, *args: Any, group: str = "Options", **kwargs: Any) -> None:
        kwargs.setdefault("show_envvar", True)
        super().__init__(*args, **kwargs)
        self.group = group


class GroupedCommand(click.Command):
    """Prints options in sections (``Stack``, ``Reports``, …) instead of one long list."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            group = getattr(param, "group", "Other options")
            sections.setdefault(group, []).append(record)
        for name, rows in sections.items():
            with formatter.section(name):
                formatter.write_dl(rows)


def contract_option(func: F) -> F:
    """``--contract/-c`` (env ``OBS_CONTRACT``), default ``obs.yaml``."""
    return click.option(
        "--contract",
        "-c",
        "contract_path",
        cls=GroupedOption,
        group="Contract",
        envvar="OBS_CONTRACT",
        default="obs.yaml",
        show_default=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="The contract file (what the stack promises).",
    )(func)


def report_dir_option(help_text: str, group: str = "Reports") -> Callable[[F], F]:
    """``--report-dir`` (env ``OBS_REPORT_DIR``), default ``reports``; ``help_text`` says what goes there."""
    return click.option(
        "--report-dir",
        cls=GroupedOption,
        group=group,
        envvar="OBS_REPORT_DIR",
        default="reports",
        show_default=True,
        type=click.Path(path_type=Path, file_okay=False),
        help=help_text,
    )


def output_format_option(func: F) -> F:
    """``--format text|json`` (env ``OBS_FORMAT``) into the ``fmt`` parameter."""
    return click.option(
        "--format",
        "fmt",
        cls=GroupedOption,
        group="Output",
        type=click.Choice(["text", "json"]),
        default="text",
        envvar="OBS_FORMAT",
        show_default=True,
        help="Output format.",
    )(func)


def state_dir_option(func: F) -> F:
    """``--state-dir`` (env ``OBS_STATE_DIR``)."""
    return click.option(
        "--state-dir",
        cls=GroupedOption,
        group="Stack",
        envvar="OBS_STATE_DIR",
        default=None,
        type=click.Path(path_type=Path, file_okay=False),
        help="Where running stacks are recorded [default: ~/.cache/obs-tests/stacks].",
    )(func)


def _time_scale(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise click.BadParameter(f"{value:g} — use a factor in (0, 1], e.g. 0.1 (1 = real time)")
    return value


def time_scale_option(func: F) -> F:
    """``--time-scale`` (env ``OBS_TIME_SCALE``): the embedded stack's rule time factor."""
    return click.option(
        "--time-scale",
        cls=GroupedOption,
        group="Stack",
        type=float,
        default=None,
        envvar="OBS_TIME_SCALE",
        callback=_time_scale,
        help="Embedded stack: load the rules with every for:, keep_firing_for: and range window multiplied by "
        "this factor, e.g. 0.01 turns for: 10m into 6s [default: the contract's stack.time_scale].",
    )(func)


def scenario_stacks_option(*names: str) -> Callable[[F], F]:
    """``--scenario-stacks`` / ``--stacks`` (env ``OBS_SCENARIO_STACKS``): embedded stacks the scenarios
    run on in parallel."""

    def decorate(func: F) -> F:
        return click.option(
            *names,
            "scenario_stacks",
            cls=GroupedOption,
            group="Scenarios",
            envvar="OBS_SCENARIO_STACKS",
            default=None,
            type=click.IntRange(min=1, max=16),
            help="Run the scenarios on this many embedded stacks in parallel, each scenario on a stack of its "
            "own (~0.5 GB of memory per stack); check runs them next to its other checks "
            "[default: the contract's stack.scenario_stacks].",
        )(func)

    return decorate


def prometheus_url_option(func: F) -> F:
    """``--prometheus-url`` (env ``OBS_PROMETHEUS_URL``)."""
    return click.option(
        "--prometheus-url",
        cls=GroupedOption,
        group="Stack",
        envvar="OBS_PROMETHEUS_URL",
        default=None,
        help="Validate this Prometheus instead of starting the embedded stack.",
    )(func)


def alertmanager_url_option(func: F) -> F:
    """``--alertmanager-url`` (env ``OBS_ALERTMANAGER_URL``)."""
    return click.option(
        "--alertmanager-url",
        cls=GroupedOption,
        group="Stack",
        envvar="OBS_ALERTMANAGER_URL",
        default=None,
        help="The Alertmanager of that stack.",
    )(func)


def grafana_url_option(func: F) -> F:
    """``--grafana-url`` (env ``OBS_GRAFANA_URL``)."""
    return click.option(
        "--grafana-url",
        cls=GroupedOption,
        group="Stack",
        envvar="OBS_GRAFANA_URL",
        default=None,
        help="A Grafana server; enables the grafana checks (credentials from OBS_GRAFANA_TOKEN or "
        "OBS_GRAFANA_USER/OBS_GRAFANA_PASSWORD).",
    )(func)


def load_contract_option(path: Path) -> Contract:
    """Load the contract named by ``--contract`` (errors propagate as ContractInvalid, exit 2)."""
    return load_contract(path)
