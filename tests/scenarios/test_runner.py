from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.scenarios.model import Catalog, load_scenario
from obs_tests.scenarios.runner import ScenarioRunner, _other_replicas

ROOT = Path(__file__).resolve().parents[2]


class _Unreachable(Exception):
    pass


def test_a_result_records_its_lane_and_when_its_runner_took_the_stack(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntype: steady_state\nsteps:\n  - wait_for_time: 1\n")
    contract = load_contract(ROOT / "obs.yaml")

    class Stack:
        def __init__(self) -> None:
            self.components: dict[str, Any] = {}
            self.time_scale = 1.0

        def prometheus(self) -> Any:
            raise _Unreachable

    runner = ScenarioRunner(
        load_scenario(path, Catalog.from_contract(contract)), stack=Stack(), contract=contract, lane="stack 2"
    )
    before = time.time()
    with pytest.raises(_Unreachable):
        runner.run()
    doc = runner.result.to_json()
    assert doc["lane"] == "stack 2" and doc["type"] == "steady_state"
    assert before <= doc["began_at"] <= time.time()


def test_the_recorder_reads_the_other_prometheus_replicas_of_an_ha_stack() -> None:
    class Stack:
        components = ("prometheus", "prometheus-3", "prometheus-2", "alertmanager", "alertmanager-2", "gateway")

        def url(self, name: str) -> str:
            return f"http://127.0.0.1:{9090 + len(name)}/{name}"

    clients = _other_replicas(Stack())  # type: ignore[arg-type]
    assert [c.base_url for c in clients] == ["http://127.0.0.1:9102/prometheus-2", "http://127.0.0.1:9102/prometheus-3"]
    Stack.components = ("prometheus", "alertmanager", "gateway")
    assert _other_replicas(Stack()) == []  # type: ignore[arg-type]
