"""Options shared by several commands, and a command class that groups options in ``--help``.

Every option names its ``OBS_*`` environment variable; ``--help`` shows it. Every numeric option is a
:class:`Number`: finite and within its stated range, or a usage error (exit 2) naming the option.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from obs_tests.config.validation import allowed_range
from obs_tests.core.yamlfile import shown

__all__ = [
    "TIMEOUT",
    "TIME_SCALE",
    "GroupedCommand",
    "GroupedOption",
    "Number",
    "alertmanager_url_option",
    "contract_option",
    "grafana_url_option",
    "output_format_option",
    "prometheus_url_option",
    "report_dir_option",
    "state_dir_option",
    "time_scale_option",
]

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    _ParamType = click.ParamType[Any, Any]  # generic from click 8.2 on; plain before (pyproject allows 8.1)
else:
    _ParamType = click.ParamType


class Number(_ParamType):
    """A finite ``int`` or ``float`` option within ``[minimum, maximum]`` (``*_open``: that end excluded).

    NaN, infinities, non-numbers and values outside the range are click usage errors naming the option and
    the allowed range (click's own ``FloatRange`` lets NaN through: every comparison with NaN is false)::

        @click.option("--timeout", type=Number(float, minimum=0, minimum_open=True, maximum=3600))
    """

    def __init__(
        self,
        kind: type[int] | type[float],
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        minimum_open: bool = False,
        maximum_open: bool = False,
    ) -> None:
        self.kind = kind
        self.name = "integer" if kind is int else "number"
        self.schema: dict[str, float] = {}
        if minimum is not None:
            self.schema["exclusiveMinimum" if minimum_open else "minimum"] = minimum
        if maximum is not None:
            self.schema["exclusiveMaximum" if maximum_open else "maximum"] = maximum

    def allowed(self, name: str = "x") -> str:
        """The range as text, e.g. ``0 < timeout ≤ 3600``."""
        return allowed_range(self.schema, name) or "any finite number"

    def _fail(self, what: str, param: click.Parameter | None, ctx: click.Context | None) -> NoReturn:
        name = (param.name or "value") if param is not None else "value"
        self.fail(f"{what} — allowed: {self.allowed(name)}", param, ctx)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, bool):
            self._fail(f"{value} is not a number", param, ctx)
        if isinstance(value, (int, float)):
            number: float = value
        else:
            text = str(value).strip()
            try:
                number = int(text) if self.kind is int else float(text)
            except ValueError:
                self._fail(
                    f"{shown(str(value), 40)} is not {'an integer' if self.kind is int else 'a number'}", param, ctx
                )
        if not math.isfinite(number):
            self._fail(f"{shown(float(number))} is not a finite number", param, ctx)
        low, high = self.schema.get("minimum"), self.schema.get("maximum")
        low_open, high_open = self.schema.get("exclusiveMinimum"), self.schema.get("exclusiveMaximum")
        if (
            (low is not None and number < low)
            or (high is not None and number > high)
            or (low_open is not None and number <= low_open)
            or (high_open is not None and number >= high_open)
        ):
            self._fail(f"{number if isinstance(number, int) else format(number, 'g')} is out of range", param, ctx)
        return self.kind(number)

    def __repr__(self) -> str:
        return f"Number({self.kind.__name__}, {self.allowed()})"


#: the rule time factor: (0, 1], 1 = the rules as written
TIME_SCALE = Number(float, minimum=0, minimum_open=True, maximum=1)
#: seconds to wait for something (a request, a start, a shutdown): at most an hour
TIMEOUT = Number(float, minimum=0, minimum_open=True, maximum=3600)


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


def time_scale_option(func: F) -> F:
    """``--time-scale`` (env ``OBS_TIME_SCALE``): the embedded stack's rule time factor."""
    return click.option(
        "--time-scale",
        cls=GroupedOption,
        group="Stack",
        type=TIME_SCALE,
        default=None,
        envvar="OBS_TIME_SCALE",
        help="Embedded stack: load the rules with every for:, keep_firing_for: and range window multiplied by "
        "this factor, e.g. 0.01 turns for: 10m into 6s [default: the contract's stack.time_scale].",
    )(func)


def topology_option(func: F) -> F:
    """``--topology`` (env ``OBS_TOPOLOGY``): the embedded stack's own monitoring, single or HA."""
    return click.option(
        "--topology",
        cls=GroupedOption,
        group="Stack",
        type=click.Choice(["single", "ha"]),
        default=None,
        envvar="OBS_TOPOLOGY",
        help="Embedded stack: one Prometheus and one Alertmanager (single), or 2 Prometheus replicas and a "
        "cluster of 3 Alertmanager peers (ha) [default: the contract's stack.topology].",
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
            type=Number(int, minimum=1, maximum=16),
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
