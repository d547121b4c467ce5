"""What a runner needs when it is used on its own: where it writes, whether it logs every bus event, and
the embedded stack it starts when given none (``ScenarioRunner("file.yaml").run()``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from obs_tests.config.contract import Contract
from obs_tests.scenarios.model import Scenario
from obs_tests.stack import EmbeddedStack
from obs_tests.stack.run_settings import resolve_time_scale

__all__ = ["DEFAULT_CONTRACT", "RunOutput", "own_stack"]

DEFAULT_CONTRACT = "obs.yaml"


@dataclass(frozen=True)
class RunOutput:
    """Where runners write a trading-bot scenario's recording and report (relative outputs; None: the
    current directory), and whether they log every bus event (``scenario run --verbose``)."""

    directory: Path | None = None
    verbose: bool = False


def own_stack(contract: Contract, scenario: Scenario, time_scale: float | None) -> EmbeddedStack:
    """The embedded stack a runner given no stack runs its scenario on (at the scenario's time scale)."""
    scale = resolve_time_scale(time_scale, [scenario.time_scale], contract.stack.time_scale)
    return EmbeddedStack(contract, time_scale=scale, origin="api")
