"""Scenarios built in code: the same model and the same refusals as a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.build import EventChaos, build_scenario, step_document
from obs_tests.scenarios.event_asserts import AssertEvents, Bounds
from obs_tests.scenarios.event_setup import BotSetup, ExchangeSetup
from obs_tests.scenarios.model import Catalog, load_scenario
from obs_tests.scenarios.step_types import WaitForCycles, WaitForEvent, WaitForTime

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_contract(load_contract(ROOT / "obs.yaml"))


def test_a_scenario_built_in_code_equals_the_same_scenario_from_its_file(catalog: Catalog) -> None:
    built = build_scenario(
        "Regression Baseline",
        description="A sideways market and no chaos: every cycle completes, nothing fails, the capital stays "
        "near where it started",
        exchange=ExchangeSetup(scenario="sideways", initial_price=50000.0, pair="BTC/USDT", seed=3),
        bot=BotSetup(poll_interval=3),
        steps=[
            WaitForCycles(40),
            AssertEvents(
                event_count={
                    "BotMonitoringCycleStarted": Bounds(min=40),
                    "MarketPriceFetched": Bounds(min=40),
                    "MarketPriceFetchFailed": Bounds(exact=0),
                },
                event_sequence=("BotMonitoringCycleStarted", "MarketPriceFetched", "IndicatorsCalculated"),
                final_capital=Bounds(min=9500.0, max=10500.0),
            ),
        ],
        catalog=catalog,
    )
    from_file = load_scenario(ROOT / "scenarios" / "trading-regression-baseline.yaml", catalog)
    assert built.name == from_file.name == "regression-baseline" and built.title == "Regression Baseline"
    assert [s.args for s in built.steps] == [s.args for s in from_file.steps]
    assert built.events is not None and from_file.events is not None
    assert (built.events.bot, built.events.exchange) == (from_file.events.bot, from_file.events.exchange)
    assert built.drives_bot and built.components == ("bot", "exchange")


def test_event_chaos_built_in_code_becomes_faults_on_the_bot(catalog: Catalog) -> None:
    scenario = build_scenario(
        "x",
        bot=BotSetup(),
        chaos=[
            EventChaos("drop_event", event="BuyConditionMet", probability=0.3),
            EventChaos("network_latency", min_delay_ms=1, max_delay_ms=5, at_cycle=3, duration_cycles=2),
        ],
        steps=[WaitForEvent("PositionPurchased", timeout_seconds=30), WaitForTime(1)],
        catalog=catalog,
    )
    specs = [c.spec for c in scenario.chaos]
    assert [(s.name, s.kind, s.target) for s in specs] == [
        ("drop_event-1", "drop_event", None),
        ("network_latency-2", "network_latency", None),
    ]
    assert specs[1].params == {"min_delay_ms": 1, "max_delay_ms": 5, "at_cycle": 3, "duration_cycles": 2}


@pytest.mark.parametrize(
    ("chaos", "message"),
    [
        (EventChaos("inject_failure", event="PositionSold"), "inject_failure injects a failure event"),
        (EventChaos("modify_event", event="MarketPriceFetched", field="price"), "needs value .* or multiplier"),
        (EventChaos("drop_event", event="PositionBought"), "unknown event 'PositionBought'"),
        (EventChaos("network_latency", min_delay_ms=9, max_delay_ms=1), "min_delay_ms is above max_delay_ms"),
        (EventChaos("delay_event", event="IndicatorsCalculated"), "delay_event needs delay_ms"),
        (EventChaos("explode"), r'chaos\[0\]\.type: "explode" is not allowed — use one of: delay_event'),
    ],
)
def test_what_a_file_would_be_refused_for_is_refused_in_code(catalog: Catalog, chaos: EventChaos, message: str) -> None:
    with pytest.raises(ScenarioInvalid, match=message):
        build_scenario("x", bot=BotSetup(), chaos=[chaos], catalog=catalog)


def test_a_step_is_written_as_a_file_writes_it() -> None:
    assert step_document(WaitForCycles(50)) == {"wait_for_cycles": 50}
    assert step_document(WaitForEvent("PositionSold"), "sold") == {
        "wait_for_event": {"event": "PositionSold"},
        "id": "sold",
    }
    assert step_document(AssertEvents(position_count=Bounds(min=3))) == {"assert": {"position_count": {"min": 3}}}


def test_a_scenario_judging_only_bus_events_does_not_wait_for_the_previous_incident(catalog: Catalog) -> None:
    events_only = build_scenario("x", bot=BotSetup(), steps=[WaitForCycles(5)], catalog=catalog)
    assert events_only.settle is False
    alerts = load_scenario(ROOT / "scenarios" / "bot-drawdown-high.yaml", catalog)  # bot setup, judges alerts
    assert alerts.settle is True
    assert load_scenario(ROOT / "scenarios" / "gateway-down.yaml", catalog).settle is True
