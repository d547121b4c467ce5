"""Scenarios built in code, from typed models — validated exactly as a file is.

The trading-bot language in Python::

    from obs_tests.scenarios.build import EventChaos, build_scenario
    from obs_tests.scenarios.event_asserts import AssertEvents, Bounds
    from obs_tests.scenarios.event_setup import BotSetup, ExchangeSetup
    from obs_tests.scenarios.step_types import WaitForCycles, WaitForEvent

    scenario = build_scenario(
        "Flash Crash Recovery Test",
        exchange=ExchangeSetup(scenario="flash_crash", seed=42),
        bot=BotSetup(poll_interval=10),
        chaos=[EventChaos("drop_event", event="BuyConditionMet", probability=0.3)],
        steps=[
            WaitForCycles(50),
            WaitForEvent("PositionPurchased", timeout_seconds=300),
            AssertEvents(event_count={"PositionPurchased": Bounds(min=3, max=10)}, position_count=Bounds(min=3)),
        ],
    )
    result = ScenarioRunner(scenario).run()

:func:`build_scenario` turns the models into the document a file would hold and loads it through the
same schema, meaning and race checks (:func:`~obs_tests.scenarios.model.scenario_from_document`), so a
scenario built in code is refused for what a file would be refused for, with the same message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obs_tests.config.contract import load_contract
from obs_tests.core.yamlfile import LocatedDocument
from obs_tests.scenarios.event_asserts import AssertEvents
from obs_tests.scenarios.event_setup import (
    BotSetup,
    ExchangeSetup,
    RecordingSetup,
    ReplaySetup,
    ReportSetup,
)
from obs_tests.scenarios.model import Catalog, Scenario, scenario_from_document
from obs_tests.scenarios.standalone import DEFAULT_CONTRACT
from obs_tests.scenarios.step_types import StepArgs

__all__ = ["EventChaos", "build_scenario", "step_document"]


@dataclass(frozen=True)
class EventChaos:
    """One event-chaos entry (``type``: delay_event, drop_event, modify_event, inject_failure,
    network_latency); the fields left None are left out."""

    type: str
    event: str | None = None
    at_cycle: int | None = None
    duration_cycles: int | None = None
    probability: float | None = None
    delay_ms: float | None = None
    min_delay_ms: float | None = None
    max_delay_ms: float | None = None
    field: str | None = None
    value: Any = None
    multiplier: float | None = None
    error_message: str | None = None
    name: str | None = None

    def document(self) -> dict[str, Any]:
        """The entry as a file writes it."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def step_document(step: StepArgs, step_id: str | None = None) -> dict[str, Any]:
    """A typed step as a file writes it (``{"wait_for_cycles": 50}``)."""
    key = "assert" if isinstance(step, AssertEvents) else step.kind
    doc: dict[str, Any] = {key: step.document()}
    if step_id is not None:
        doc["id"] = step_id
    return doc


def _setup(parts: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {k: v for k, v in dataclasses.asdict(part).items() if v is not None}
        for key, part in parts.items()
        if part is not None
    }


def build_scenario(
    name: str,
    *,
    description: str = "",
    exchange: ExchangeSetup | None = None,
    bot: BotSetup | None = None,
    recording: RecordingSetup | None = None,
    report: ReportSetup | None = None,
    replay: ReplaySetup | None = None,
    chaos: Sequence[EventChaos] = (),
    steps: Sequence[StepArgs] = (),
    catalog: Catalog | None = None,
    base: Path | None = None,
) -> Scenario:
    """A validated :class:`Scenario` from typed models (see the module docstring); ``catalog`` defaults to
    the one of the contract ``obs.yaml`` in the current directory, ``base`` (where a replay's recording is
    found) to the current directory. :class:`~obs_tests.errors.ScenarioInvalid` as for a file."""
    setup = _setup({"exchange": exchange, "bot": bot, "recording": recording, "report": report, "replay": replay})
    data: dict[str, Any] = {"name": name, "steps": [step_document(s) for s in steps]}
    if description:
        data["description"] = description
    if setup:
        data["setup"] = setup
    if chaos:
        data["chaos"] = [c.document() for c in chaos]
    if catalog is None:
        catalog = Catalog.from_contract(load_contract(Path(DEFAULT_CONTRACT)))
    where = (base or Path()) / "<built in code>"
    return scenario_from_document(LocatedDocument(str(where), data), where, catalog)
