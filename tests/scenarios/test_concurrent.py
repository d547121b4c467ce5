from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.scenarios import concurrent
from obs_tests.scenarios.model import Catalog, Scenario, load_scenarios
from obs_tests.scenarios.results import ScenarioResult

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_contract(load_contract(ROOT / "obs.yaml"))


@pytest.fixture(scope="module")
def shipped(catalog: Catalog) -> dict[str, Scenario]:
    return {s.name: s for s in load_scenarios(ROOT / "scenarios", catalog)}


def test_scenarios_of_a_wave_run_in_slots_named_in_their_results(
    shipped: dict[str, Scenario], catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FakeRunner:
        def __init__(self, scenario: Scenario, *, stack: object, log: object, prepared: bool, lane: str) -> None:
            self.scenario = scenario
            self.lane = lane

        def prepare(self) -> None:
            pass

        def run(self) -> ScenarioResult:
            return ScenarioResult(self.scenario.name, "", "", status="passed", lane=self.lane)

        def stop(self) -> None:
            pass

    monkeypatch.setattr(concurrent, "ScenarioRunner", FakeRunner)
    wave = [shipped["orchestrator-down"], shipped["exchange-feed-failing"]]
    results = concurrent.run_concurrently([*wave, shipped["steady-state"]], object(), catalog, max_concurrent=2)
    assert [(r.scenario, r.lane) for r in results] == [
        ("orchestrator-down", "slot 1"),
        ("exchange-feed-failing", "slot 2"),
        ("steady-state", "slot 1"),
    ]
