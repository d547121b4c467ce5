"""A scenario's meaning, checked against a small catalog (the malformed files in tests/fixtures/scenarios
go through load_scenario in test_model.py)."""

from __future__ import annotations

import pytest

from obs_tests.chaos.faults import EVENT_CHAOS, FAULT_KINDS
from obs_tests.core.yamlfile import load_located_text
from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.meaning import validate_meaning
from obs_tests.scenarios.model import Catalog, Step
from obs_tests.scenarios.step_types import parse_step

CATALOG = Catalog(alerts=dict.fromkeys(("GatewayDown", "AgentDown")), components=["gateway", "agent-risk"])  # type: ignore[arg-type]


def _validate(text: str) -> None:
    doc = load_located_text(text, "x.yaml", error=ScenarioInvalid)
    raw_steps = doc.data.get("steps") or []
    steps = [
        Step(kind, parse_step(kind, value), id=item.get("id"))
        for item in raw_steps
        for kind, value in item.items()
        if kind != "id"
    ]
    validate_meaning(doc, doc.data, CATALOG, steps)


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_a_fault_needs_a_target_unless_its_kind_fixes_one(kind: str) -> None:
    text = f"name: x\nchaos:\n  - name: f\n    kind: {kind}\n"
    if kind in EVENT_CHAOS:  # targets the bot; its params are checked by the event-chaos tests
        params = {
            "delay_event": "{event: IndicatorsCalculated, delay_ms: 50}",
            "drop_event": "{event: BuyConditionMet}",
            "modify_event": "{event: MarketPriceFetched, field: price, multiplier: 2}",
            "inject_failure": "{event: MarketPriceFetchFailed}",
            "network_latency": "{min_delay_ms: 1, max_delay_ms: 5}",
        }[kind]
        text += f"    params: {params}\n"
    if FAULT_KINDS[kind].target is not None:
        _validate(text)
        return
    with pytest.raises(ScenarioInvalid, match=rf"x\.yaml:3: chaos\[0\]: fault kind '{kind}' needs a 'target'"):
        _validate(text)


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioInvalid) as info:
        _validate("name: x\nsteps:\n  - wait_for_alert: {name: GatewayDwn, state: firing}\n")
    assert str(info.value) == (
        "x.yaml:3: steps[0].wait_for_alert.name: unknown alert 'GatewayDwn' (did you mean 'GatewayDown'?) — "
        "known: AgentDown, GatewayDown"
    )


def test_a_fault_name_used_twice() -> None:
    text = "name: x\nchaos:\n  - {name: f, kind: kill, target: gateway}\n  - {name: f, kind: kill, target: gateway}\n"
    with pytest.raises(ScenarioInvalid, match=r"x\.yaml: fault name 'f' is used twice"):
        _validate(text)


def test_a_notification_waited_after_a_step_names_an_earlier_one() -> None:
    steps = (
        "steps:\n"
        "  - id: back\n"
        "    wait_for_alert: {name: AgentDown, state: firing}\n"
        "  - wait_for_notification: {alert: AgentDown, after: back}\n"
    )
    _validate("name: x\n" + steps)
    later = "name: x\nsteps:\n  - wait_for_notification: {alert: AgentDown, after: back}\n  - id: back\n" + (
        "    wait_for_alert: {name: AgentDown, state: firing}\n"
    )
    with pytest.raises(ScenarioInvalid) as info:
        _validate(later)
    assert str(info.value) == (
        "x.yaml:3: steps[0].wait_for_notification.after: no step before this one has an id — give the step it "
        "waits after 'id: back'"
    )
    with pytest.raises(ScenarioInvalid) as info:
        _validate("name: x\n" + steps.replace("after: back", "after: bak"))
    assert str(info.value) == (
        "x.yaml:5: steps[1].wait_for_notification.after: unknown earlier step id 'bak' (did you mean 'back'?) — "
        "known: back"
    )
