from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.model import Catalog, load_scenario, load_scenarios, ordered

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "fixtures" / "scenarios"
EXPECTED: dict[str, str] = json.loads((BAD / "expected_errors.json").read_text())


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_contract(load_contract(ROOT / "obs.yaml"))


def test_every_shipped_scenario_is_valid(catalog: Catalog) -> None:
    scenarios = load_scenarios(ROOT / "scenarios", catalog)
    assert len(scenarios) >= 17
    assert ordered(scenarios)[0].type == "steady_state"
    names = {s.name for s in scenarios}
    assert {"steady-state", "flapping-scrape-slow", "prometheus-restart", "market-flash-crash"} <= names


def test_at_least_fifteen_malformed_fixtures() -> None:
    assert len(EXPECTED) >= 15
    assert {p.stem for p in BAD.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_scenario_gives_a_located_error(name: str, catalog: Catalog) -> None:
    path = BAD / f"{name}.yaml"
    with pytest.raises(ScenarioInvalid) as info:
        load_scenario(path, catalog)
    message = str(info.value)
    assert EXPECTED[name] in message, message
    assert message.startswith(str(path)), message
    if name not in ("not-a-mapping", "duplicate-fault-names"):
        assert f"{path}:" in message and message.split(":")[1].strip().isdigit(), f"no line number: {message}"


def test_unknown_alert_lists_known_values(catalog: Catalog) -> None:
    with pytest.raises(ScenarioInvalid, match="known: AgentDown, AgentStalled"):
        load_scenario(BAD / "unknown-alert-step.yaml", catalog)


@pytest.mark.parametrize("name", ["unknown-key", "unknown-alert-step", "bad-yaml"])
def test_cli_validate_exits_2_with_one_line(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "obs_tests.cli", "scenario", "validate", str(BAD / f"{name}.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("ScenarioInvalid: "), done.stderr
    assert EXPECTED[name] in done.stderr


def test_cli_validate_accepts_shipped_scenarios() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "obs_tests.cli", "scenario", "validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok (") >= 17


def test_schema_is_published_and_referenced_by_the_scenarios() -> None:
    schema = json.loads((ROOT / "obs_tests" / "schemas" / "scenario.schema.json").read_text())
    assert schema["additionalProperties"] is False
    for path in (ROOT / "scenarios").glob("*.yaml"):
        assert path.read_text().startswith(
            "# yaml-language-server: $schema=../obs_tests/schemas/scenario.schema.json"
        ), path


def test_docs_scenario_example_is_valid(catalog: Catalog, tmp_path: Path) -> None:
    text = (ROOT / "docs" / "scenarios.md").read_text()
    start = text.index("# yaml-language-server: $schema=../obs_tests/schemas/scenario.schema.json\nname:")
    path = tmp_path / "example.yaml"
    path.write_text(text[start : text.index("```", start)])
    scenario = load_scenario(path, catalog)
    assert scenario.chaos and scenario.steps and scenario.expect.must_fire


def test_a_scenario_drives_load_through_its_setup_a_load_step_or_a_load_fault(catalog: Catalog) -> None:
    shipped = {s.name: s for s in load_scenarios(ROOT / "scenarios", catalog)}
    assert shipped["redis-down"].drives_load  # setup load
    assert shipped["gateway-high-error-rate"].drives_load  # a load fault (and setup load)
    assert shipped["orchestrator-stalled-consumer-lag"].drives_load  # a load step
    assert not shipped["bot-down"].drives_load and not shipped["market-flash-crash"].drives_load


def test_an_ha_scenario_loads_on_a_single_catalog_and_says_what_it_needs(catalog: Catalog) -> None:
    """The HA scenarios name replicas and peers a single stack has not: they load (and are skipped by
    the suite), and a runner refuses them on a stack without replicas and peers, saying why."""
    ha = {s.name: s for s in load_scenarios(ROOT / "scenarios", catalog) if s.topology == "ha"}
    assert sorted(ha) == [
        "ha-alertmanager-partition",
        "ha-alertmanager-peer-down",
        "ha-prometheus-failed-reload",
        "ha-prometheus-replica-down",
    ]
    assert "alertmanager-2" not in catalog.components and "alertmanager-2" in catalog.ha_components
    single = catalog.components
    reason = ha["ha-alertmanager-peer-down"].not_runnable_on(single)  # names only components single has too
    assert reason is not None and "needs the HA topology" in reason and "--topology ha" in reason
    assert ha["ha-alertmanager-peer-down"].not_runnable_on(catalog.ha_components) is None
    assert load_scenarios(ROOT / "scenarios", catalog)[0].not_runnable_on(single) is None  # not an HA one


def test_an_ha_scenario_still_names_only_components_of_the_ha_stack(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(
        "name: x\ntopology: ha\nchaos:\n  - {name: f, kind: kill, target: alertmanager-7, at: 0}\n"
        "steps:\n  - wait_for_fault: f\n"
    )
    with pytest.raises(ScenarioInvalid, match=r"chaos\[0\]\.target: unknown component 'alertmanager-7'"):
        load_scenario(path, catalog)
    path.write_text(path.read_text().replace("topology: ha\n", ""))
    with pytest.raises(ScenarioInvalid, match=r"unknown component 'alertmanager-7'.*known: .*gateway"):
        load_scenario(path, catalog)
