"""The wave planner: which scenarios may share one stack at the same time, and in which waves."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.scenarios.model import Catalog, Scenario, load_scenario, load_scenarios, ordered
from obs_tests.scenarios.waves import conflict, plan_waves

ROOT = Path(__file__).resolve().parents[2]
HEADER = "# yaml-language-server: $schema=../obs_tests/schemas/scenario.schema.json\n"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_contract(load_contract(ROOT / "obs.yaml"))


@pytest.fixture(scope="module")
def shipped(catalog: Catalog) -> dict[str, Scenario]:
    return {s.name: s for s in load_scenarios(ROOT / "scenarios", catalog)}


def _scenario(tmp_path: Path, catalog: Catalog, name: str, body: str) -> Scenario:
    path = tmp_path / f"{name}.yaml"
    path.write_text(HEADER + f"name: {name}\n" + body)
    return load_scenario(path, catalog)


def test_disjoint_scenarios_with_compatible_alerts_may_share_the_stack(
    shipped: dict[str, Scenario], catalog: Catalog
) -> None:
    assert conflict(shipped["orchestrator-down"], shipped["exchange-feed-failing"], catalog) is None
    assert conflict(shipped["exchange-feed-failing"], shipped["orchestrator-down"], catalog) is None


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("steady-state", "exchange-feed-failing", "steady-state is a steady-state scenario"),
        ("exchange-down", "exchange-feed-failing", "both act on exchange"),
        ("prometheus-restart", "exchange-feed-failing", "acts on prometheus, which every alert depends on"),
        ("orchestrator-down", "exchange-down", "OrchestratorDown must fire in orchestrator-down but stay silent"),
        ("orchestrator-down", "gateway-high-latency", "both drive load through the gateway"),
        (
            "redis-down",
            "orchestrator-down",
            "RedisDown must fire in redis-down but stay silent in orchestrator-down",
        ),
        ("agent-down-partial-failure", "exchange-feed-failing", "stay silent in agent-down-partial-failure"),
    ],
)
def test_conflicts_name_their_reason(
    shipped: dict[str, Scenario], catalog: Catalog, a: str, b: str, reason: str
) -> None:
    found = conflict(shipped[a], shipped[b], catalog)
    assert found is not None and reason in found, found


def test_load_conflicts_with_counter_assertions(tmp_path: Path, catalog: Catalog, shipped: dict[str, Scenario]) -> None:
    counting = _scenario(
        tmp_path,
        catalog,
        "exchange-failures-counted",
        "components: [exchange]\n"
        "chaos:\n  - {name: errors, kind: service, target: exchange, params: {error_rate: 0.5}, at: 1}\n"
        "steps:\n  - wait_for_time: 2\n"
        "expect:\n  metric:\n    - {name: webhooks, increase: 'gateway_webhooks_total', min: 1}\n",
    )
    found = conflict(shipped["orchestrator-down"], counting, catalog)
    assert found == "exchange-failures-counted asserts counter increases that orchestrator-down's load would change"


def test_undeclared_components_run_alone(tmp_path: Path, catalog: Catalog, shipped: dict[str, Scenario]) -> None:
    anywhere = _scenario(tmp_path, catalog, "no-components", "steps:\n  - wait_for_time: 1\n")
    assert conflict(anywhere, shipped["exchange-feed-failing"], catalog) == "no-components declares no components"


def test_waves_keep_order_and_size(shipped: dict[str, Scenario], catalog: Catalog) -> None:
    scenarios = ordered(shipped.values())
    waves = plan_waves(scenarios, catalog, 2)
    assert [s.name for w in waves for s in w.scenarios] != []
    assert sorted(s.name for w in waves for s in w.scenarios) == sorted(shipped)
    assert waves[0].describe() == "steady-state"
    assert all(len(w.scenarios) <= 2 for w in waves)
    for wave in waves:
        for i, a in enumerate(wave.scenarios):
            for b in wave.scenarios[i + 1 :]:
                assert conflict(a, b, catalog) is None
    assert any(len(w.scenarios) == 2 for w in waves)
    assert [w.scenarios for w in plan_waves(scenarios, catalog, 1)] == [[s] for s in scenarios]
