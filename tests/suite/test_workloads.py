"""The suite runs a system's workload by name with everything it may use, and skips — saying what the system
offers — when the stack has no system or the system no such workload."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import load_contract
from obs_tests.core.findings import Finding
from obs_tests.stack.embedded import EmbeddedStack
from obs_tests.stack.system_under_test import SystemUnderTest, WorkloadContext, WorkloadOutcome
from obs_tests.suite.workloads import record_load, run_workload
from obs_tests.workloads.load_report import load_report

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack() -> EmbeddedStack:
    """An embedded stack of the demo contract, not started (no component yet)."""
    return EmbeddedStack(load_contract(ROOT / "obs.yaml"))


def test_the_workload_gets_the_stack_and_its_findings_come_back(stack: EmbeddedStack, tmp_path: Path) -> None:
    seen: list[WorkloadContext] = []

    def counted(context: WorkloadContext) -> WorkloadOutcome:
        seen.append(context)
        return WorkloadOutcome("3 sent", [Finding("accounting", "gateway", "1 of 3 not counted")])

    stack.system = SystemUnderTest("own", "own", (), workloads={"counted": counted})
    prom = PrometheusClient("http://127.0.0.1:9")
    outcome = run_workload(stack, prom, "counted", keep_logs=tmp_path)
    assert outcome.summary == "3 sent" and [f.message for f in outcome.findings] == ["1 of 3 not counted"]
    assert seen[0].prometheus is prom and seen[0].keep_logs == tmp_path and seen[0].urls == {}


def test_a_workload_the_system_does_not_offer_skips_naming_what_it_offers(stack: EmbeddedStack) -> None:
    assert stack.system is not None
    with pytest.raises(pytest.skip.Exception, match=r"no workload 'soak' \(exact_accounting, .*high_load_incident\)"):
        run_workload(stack, PrometheusClient("http://127.0.0.1:9"), "soak")


def test_a_stack_without_a_system_skips(stack: EmbeddedStack) -> None:
    stack.system = None
    with pytest.raises(pytest.skip.Exception, match="no system under test"):
        run_workload(stack, PrometheusClient("http://127.0.0.1:9"), "exact_accounting")


def test_the_system_is_the_contracts(stack: EmbeddedStack) -> None:
    contract = dataclasses.replace(stack.contract, stack=dataclasses.replace(stack.contract.stack, system=None))
    assert EmbeddedStack(contract).system is None


def test_a_workload_that_ran_locust_records_its_load_report(
    stack: EmbeddedStack, request: pytest.FixtureRequest
) -> None:
    stats = json.loads((ROOT / "tests" / "fixtures" / "load" / "locust_clean.json").read_text())
    report = load_report(stats).to_json()
    sections: dict[str, Any] = {}
    properties = list(request.node.user_properties)
    record_load(request.node, sections, WorkloadOutcome("390 requests", load=report))
    assert sections == {"load": {request.node.name: report}}
    details = request.node.user_properties[len(properties) :]
    assert details == [("details", load_report(stats).lines())]
    assert details[0][1][0] == "Locust: 390 requests in 3.9s"


def test_a_workload_without_locust_records_no_load_report(request: pytest.FixtureRequest) -> None:
    sections: dict[str, Any] = {}
    before = list(request.node.user_properties)
    record_load(request.node, sections, WorkloadOutcome("3 sent"))
    assert sections == {} and request.node.user_properties == before
