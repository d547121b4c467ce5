"""What a runner needs when it is used on its own: where it writes, whether it logs every bus event, and
the embedded stack it starts when given none (``ScenarioRunner("file.yaml").run()``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from obs_tests.config.contract import Contract, with_topology
from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.model import Scenario
from obs_tests.stack import EmbeddedStack
from obs_tests.stack.protocol import Stack
from obs_tests.stack.run_settings import resolve_time_scale

__all__ = ["DEFAULT_CONTRACT", "RunOutput", "own_stack", "runnable_on"]

DEFAULT_CONTRACT = "obs.yaml"


@dataclass(frozen=True)
class RunOutput:
    """Where runners write a trading-bot scenario's recording and report (relative outputs; None: the
    current directory), and whether they log every bus event (``scenario run --verbose``)."""

    directory: Path | None = None
    verbose: bool = False


def own_stack(contract: Contract, scenario: Scenario, time_scale: float | None) -> EmbeddedStack:
    """The embedded stack a runner given no stack runs its scenario on (at the scenario's time scale; in
    the HA topology for a ``topology: ha`` scenario)."""
    scale = resolve_time_scale(time_scale, [scenario.time_scale], contract.stack.time_scale)
    return EmbeddedStack(with_topology(contract, scenario.topology), time_scale=scale, origin="api")


def runnable_on(scenario: Scenario, stack: Stack | None) -> Stack:
    """``stack``, when ``scenario`` can run on it (:class:`ScenarioInvalid` saying why not: an HA scenario
    on a single stack)."""
    assert stack is not None
    reason = scenario.not_runnable_on(stack.components)
    if reason is not None:
        raise ScenarioInvalid(reason)
    return stack
