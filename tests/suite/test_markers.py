"""The suite's markers: registered with what they mean, carried by the checks they describe (proved on the
real suite, collected without starting anything), and a scenario's check marked by what the scenario does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from obs_tests.chaos.faults import FaultSpec
from obs_tests.commands.check import foreign_plugins, suite_args
from obs_tests.suite.conftest import selected_scenarios
from obs_tests.suite.markers import MARKERS, SCENARIO_MARKS, scenario_marks, scenario_names, selection_hint

ROOT = Path(__file__).resolve().parents[2]
#: pytest's own marks, which the suite uses beside its markers
BUILTIN = {"parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings"}


class _Collected:
    """Keeps the items left after selection and the scenarios the chaos conftest would start for them."""

    def __init__(self) -> None:
        self.items: list[pytest.Item] = []
        self.scenarios: list[str] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = list(session.items)
        self.scenarios = [s.name for s in selected_scenarios(session)]


def _collect(*args: str) -> _Collected:
    """The real suite, collected in this process (``--collect-only``: no stack, no scenario runs)."""
    collected = _Collected()
    argv = [*suite_args(), f"--obs-contract={ROOT / 'obs.yaml'}", "--collect-only", "-q", *args]
    assert pytest.main(argv, plugins=[collected]) == pytest.ExitCode.OK
    return collected


@pytest.fixture(scope="module")
def suite() -> list[pytest.Item]:
    return _collect().items


def _marks(item: pytest.Item) -> set[str]:
    return {mark.name for mark in item.iter_markers()}


def _named(items: list[pytest.Item], name: str) -> pytest.Item:
    return next(item for item in items if item.name == name)


def test_pytest_markers_lists_every_marker_with_what_it_means(tmp_path: Path) -> None:
    """The plugin loads in any pytest session: ``pytest --markers`` there shows each marker and its meaning."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--markers", "-p", "no:cacheprovider", *foreign_plugins()],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for name, text in MARKERS.items():
        assert f"@pytest.mark.{name}: {text}" in done.stdout
    assert {"integration", "scenario", "edge_case", "state", "chaos", "load", "grafana", "browser", "slow"} <= set(
        MARKERS
    )


def test_every_mark_of_the_suite_is_a_registered_marker(suite: list[pytest.Item]) -> None:
    unknown = {f"{item.nodeid}: {name}" for item in suite for name in _marks(item) - set(MARKERS) - BUILTIN}
    assert not unknown, f"marks no one registered (add them to obs_tests/suite/markers.py): {sorted(unknown)}"


def test_integration_marks_exactly_the_checks_that_need_a_live_stack(suite: list[pytest.Item]) -> None:
    """A check asking for the ``stack`` fixture (``prom``, ``alertmanager``, … ask for it) or a Grafana is
    ``integration``; one that does not is not, so ``-m "not integration"`` starts no server."""
    wrong = [
        item.nodeid
        for item in suite
        if ("integration" in _marks(item)) != bool({"stack", "grafana"} & set(item.fixturenames))  # type: ignore[attr-defined]
    ]
    assert not wrong, (
        f"these checks need a live stack and are not marked @pytest.mark.integration, or are marked and need none: "
        f"{wrong} (obs_tests/suite/markers.py says what each marker means)"
    )
    assert "integration" not in _marks(_named(suite, "test_rule_files_valid"))


def test_stack_marks_exactly_the_checks_that_drive_the_demo_system(suite: list[pytest.Item]) -> None:
    wrong = [
        item.nodeid
        for item in suite
        if ("stack" in _marks(item)) != ("mock_system" in item.fixturenames)  # type: ignore[attr-defined]
    ]
    assert not wrong, f"@pytest.mark.stack is for the checks taking mock_system, and only them: {wrong}"


def test_scenario_and_chaos_mark_every_scenario_run(suite: list[pytest.Item]) -> None:
    runs = [item for item in suite if getattr(item, "originalname", "") == "test_scenario"]
    assert len(runs) == len(list((ROOT / "scenarios").glob("*.yaml")))
    assert all(set(SCENARIO_MARKS) <= _marks(item) for item in runs)
    assert [item.nodeid for item in suite if "scenario" in _marks(item)] == [item.nodeid for item in runs]
    assert "scenario" not in _marks(_named(suite, "test_every_alert_has_a_scenario"))


@pytest.mark.parametrize(
    ("check", "marker"),
    [
        ("test_counters_never_decrease", "state"),
        ("test_scenario[prometheus-restart]", "state"),
        ("test_exact_accounting", "edge_case"),
        ("test_scenario[bot-events-corrupted]", "edge_case"),
        ("test_scenario[gateway-high-error-rate]", "edge_case"),
        ("test_latency_histogram_matches_locust", "chaos"),
        ("test_accounting_under_load", "load"),
    ],
)
def test_the_checks_carry_the_markers_of_what_they_do(suite: list[pytest.Item], check: str, marker: str) -> None:
    assert marker in _marks(_named(suite, check))


@pytest.mark.parametrize(
    ("check", "marker"),
    [
        ("test_scenario[gateway-down]", "state"),
        ("test_scenario[gateway-down]", "edge_case"),
        ("test_accounting_under_load", "chaos"),
        ("test_rule_files_valid", "state"),
    ],
)
def test_a_check_does_not_carry_markers_of_what_it_does_not_do(
    suite: list[pytest.Item], check: str, marker: str
) -> None:
    assert marker not in _marks(_named(suite, check))


def test_not_chaos_leaves_no_scenario_to_start_in_the_background() -> None:
    """The chaos conftest starts the scenarios of the selected ``test_scenario`` items: none after
    ``-m "not chaos"``, nor any check applying a fault."""
    collected = _collect("-m", "not chaos")
    assert collected.scenarios == []
    assert collected.items and not [item.nodeid for item in collected.items if "chaos" in _marks(item)]
    assert "test_latency_histogram_matches_locust" not in {item.name for item in collected.items}


def test_a_marker_selection_starts_only_the_scenarios_it_selects() -> None:
    assert _collect("-m", "scenario and state").scenarios == ["prometheus-restart"]
    edge = _collect("-m", "scenario and edge_case")
    assert sorted(edge.scenarios) == ["bot-events-corrupted", "flash-crash-recovery-test", "gateway-high-error-rate"]
    assert [item.name for item in edge.items] == [f"test_scenario[{name}]" for name in edge.scenarios]


def _scenario(*faults: FaultSpec, drives_load: bool = False, topology: str | None = None) -> Any:
    return SimpleNamespace(chaos=[SimpleNamespace(spec=f) for f in faults], drives_load=drives_load, topology=topology)


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        pytest.param(_scenario(FaultSpec("crash", "kill", "prometheus")), {"state"}, id="prometheus-killed"),
        pytest.param(_scenario(FaultSpec("down", "kill", "alertmanager")), {"state"}, id="alertmanager-killed"),
        pytest.param(_scenario(FaultSpec("down", "kill", "gateway")), set(), id="gateway-killed"),
        pytest.param(_scenario(FaultSpec("down", "redis_down")), set(), id="redis-down"),
        pytest.param(
            _scenario(FaultSpec("bad", "modify_event", params={"event": "X", "field": "price"})),
            {"edge_case"},
            id="modified-events",
        ),
        pytest.param(
            _scenario(FaultSpec("bad", "load", params={"malformed_ratio": 1.0}), drives_load=True),
            {"edge_case", "load"},
            id="malformed-load",
        ),
        pytest.param(
            _scenario(FaultSpec("more", "load", params={"malformed_ratio": 0.0}), drives_load=True),
            {"load"},
            id="valid-load",
        ),
        pytest.param(_scenario(), set(), id="no-fault"),
        pytest.param(_scenario(FaultSpec("bad", "failed_reload", "prometheus-2"), topology="ha"), {"ha"}, id="ha"),
    ],
)
def test_a_scenario_is_marked_by_what_it_does(scenario: Any, expected: set[str]) -> None:
    assert scenario_names(scenario) == [*SCENARIO_MARKS, *sorted(expected, key=list(MARKERS).index)]
    assert [mark.name for mark in scenario_marks(scenario)] == scenario_names(scenario)


def test_the_selection_hint_names_every_marker_and_an_example() -> None:
    hint = selection_hint()
    assert all(name in hint for name in MARKERS)
    assert '-m "not chaos"' in hint
