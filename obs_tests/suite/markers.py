"""The suite's markers: what each means, the marks a scenario's check carries, and the hint shown with a
selection (``-m``) that went wrong.

The plugin registers :data:`MARKERS` in every pytest session (``pytest --markers`` lists them), so your own
tests may carry them too; the suite's checks carry them, so ``-m`` selects among them::

    obs-tests check -m "not chaos"              # everything but the chaos scenarios and fault checks
    obs-tests check -m "scenario and state"     # the scenarios about restarts (prometheus-restart)
    pytest --pyargs obs_tests.suite -m "not integration"   # the static checks: no server started

Each ``test_scenario[<name>]`` carries ``integration``, ``stack``, ``scenario``, ``chaos`` and ``slow``, and
by what the scenario does: ``load`` (it drives Locust load), ``state`` (a fault of it stops Prometheus or
Alertmanager, whose state must survive), ``ha`` (it needs Prometheus replicas and an Alertmanager cluster)
and ``edge_case`` (it feeds hostile input: modified bus events, a
load of malformed payloads) — see :func:`scenario_marks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from obs_tests.scenarios.model import Scenario

__all__ = ["MARKERS", "register_markers", "scenario_marks", "selection_hint"]

#: every marker of the suite and what it means (``pytest --markers``; docs/pytest-plugin.md#markers)
MARKERS: Mapping[str, str] = {
    "integration": "needs a live stack, the embedded one (started for it) or yours (by URL): queries Prometheus, "
    "Alertmanager or Grafana; -m 'not integration' runs the static checks only, starting no server",
    "stack": "needs the embedded stack of real servers (started for it) and drives its demo system; "
    "skips on a stack of yours",
    "scenario": "runs a scenario of scenarios/*.yaml on a live stack and judges its expectations",
    "chaos": "injects faults into the stack (every scenario run, and checks applying a fault of their own)",
    "load": "runs Locust load",
    "state": "checks what must hold across time and restarts: counters never decrease, series stay fresh, "
    "the pipeline resumes after Prometheus restarts",
    "ha": "needs the HA topology (Prometheus replicas and an Alertmanager cluster): the scenarios with "
    "topology: ha, skipped on a single stack (obs-tests check --topology ha runs them)",
    "edge_case": "feeds hostile or malformed input (invalid webhooks, corrupted events) and checks it is "
    "rejected, counted and alerted on",
    "grafana": "needs a Grafana server (--grafana-url / OBS_GRAFANA_URL)",
    "browser": "drives headless Chromium",
    "slow": "takes more than a few seconds",
}

#: the marks every scenario's check carries
SCENARIO_MARKS = ("integration", "stack", "scenario", "chaos", "slow")

#: components whose own state a scenario puts to the test by stopping them
STATEFUL = frozenset({"prometheus", "alertmanager"})

#: fault kinds that feed the system hostile input
HOSTILE_FAULTS = frozenset({"modify_event"})


def register_markers(config: pytest.Config) -> None:
    """Register :data:`MARKERS` with pytest (the plugin's ``pytest_configure``)."""
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def _hostile(kind: str, params: Mapping[str, Any]) -> bool:
    ratio = params.get("malformed_ratio")
    return kind in HOSTILE_FAULTS or (kind == "load" and isinstance(ratio, int | float) and ratio > 0)


def scenario_names(scenario: Scenario) -> list[str]:
    """The markers of a scenario's check, by what the scenario does (see the module's docstring)."""
    names = list(SCENARIO_MARKS)
    faults = [entry.spec for entry in scenario.chaos]
    if scenario.drives_load:
        names.append("load")
    if any(fault.target in STATEFUL for fault in faults):
        names.append("state")
    if scenario.topology == "ha":
        names.append("ha")
    if any(_hostile(fault.kind, fault.params) for fault in faults):
        names.append("edge_case")
    return names


def scenario_marks(scenario: Scenario) -> list[pytest.MarkDecorator]:
    """:func:`scenario_names` as marks for ``pytest.param(..., marks=...)``."""
    return [getattr(pytest.mark, name) for name in scenario_names(scenario)]


def selection_hint(names: Iterable[str] = MARKERS) -> str:
    """What to give ``-m`` (shown when pytest refused a selection or it selected nothing)."""
    return (
        "-m takes a marker expression (and, or, not, parentheses) over the markers "
        f'{", ".join(names)} — e.g. -m "not chaos", -m "scenario and state"; -k a pytest keyword '
        "expression over the checks' names (docs/commands.md, Selecting checks)"
    )
