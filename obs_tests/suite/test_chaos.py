"""Chaos scenarios (``scenarios/*.yaml``): every alert proven to fire and clear under its real fault,
notifications routed, symptoms that must stay silent silent, the steady state quiet.

With ``stack.scenario_stacks`` > 1 (``--obs-scenario-stacks``) the selected scenarios run in parallel,
each on an embedded stack of its own, from the start of the session while the other checks run
(``conftest.py``, which also lends them the session's stack once no other check needs it); this module
runs last and each test judges its scenario's result."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from obs_tests.config.contract import Contract
from obs_tests.core.findings import Finding, display_path
from obs_tests.rules.rulefiles import load_rule_files
from obs_tests.scenarios.lanes import Background, SharedStack, run_scenarios
from obs_tests.scenarios.model import WATCHDOG, Scenario
from obs_tests.scenarios.reports import write_reports
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.scenarios.standalone import RunOutput
from obs_tests.stack import EmbeddedStack
from obs_tests.suite.contract_params import session_scenarios
from obs_tests.suite.report_fixtures import FindingsJudge
from obs_tests.suite.session_settings import run_settings
from obs_tests.suite.terminal_progress import session_progress


@pytest.fixture(scope="module")
def scenario_results(obs_report_dir: Path) -> Iterator[list[ScenarioResult]]:
    """Collects every scenario's result; the JSON/HTML/JUnit/Markdown reports are written at the end."""
    results: list[ScenarioResult] = []
    yield results
    if results:
        write_reports(results, obs_report_dir, ("json", "html", "junit", "md"))


@pytest.fixture(scope="module")
def pooled_results(pytestconfig: pytest.Config, scenario_pool: Background | None) -> dict[str, ScenarioResult] | None:
    """Every selected scenario's result from the pool of stacks (None: they run one by one, in each test)."""
    if scenario_pool is None:
        return None
    total = len(scenario_pool.scenarios)
    with session_progress(pytestconfig).phase(
        f"chaos: waiting for the scenarios still running ({scenario_pool.finished}/{total} done)",
        status=lambda: f"{scenario_pool.finished}/{total} done",
    ):
        results = scenario_pool.wait()
    return {r.scenario: r for r in results}


def _timings(result: ScenarioResult) -> str:
    return "; ".join(timing.describe() for timing in result.alerts)


# each scenario brings its markers: integration, stack, scenario, chaos, slow and, by what it does, load,
# state, edge_case (obs_tests.suite.markers.scenario_marks)
def test_scenario(
    contract_scenario: Scenario,
    mock_system: EmbeddedStack,
    scenario_results: list[ScenarioResult],
    pooled_results: dict[str, ScenarioResult] | None,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
    request: pytest.FixtureRequest,
) -> None:
    """One scenario run on the live stack: its faults applied and reverted, every expectation judged."""
    if pooled_results is not None:
        result = pooled_results[contract_scenario.name]
    else:
        output = RunOutput(directory=run_settings(request.config).report_dir / "scenarios")
        lanes = SharedStack(mock_system, name="session stack")
        (result,) = run_scenarios([contract_scenario], lanes, output=output)
    scenario_results.append(result)
    text = f"{result.assertions_passed}/{len(result.assertions)} assertions in {result.duration:.1f}s"
    timings = _timings(result)
    obs_summary(f"{contract_scenario.name}: {text}" + (f"; {timings}" if timings else ""))
    findings = [
        Finding(
            "scenario", f"{contract_scenario.name}: {a.name}", a.message or f"expected {a.expected}, got {a.actual}"
        )
        for a in result.failures()
    ]
    if result.error:
        findings.append(Finding("scenario", contract_scenario.name, result.error))
    obs_findings(findings)


def _covering(scenarios: list[Scenario]) -> dict[str, list[str]]:
    covered: dict[str, list[str]] = {}
    for scenario in scenarios:
        for must in scenario.expect.must_fire:
            if must.clears:
                covered.setdefault(must.alert, []).append(scenario.name)
    return covered


def scenarios_not_applicable(config: pytest.Config, contract: Contract) -> str | None:
    """Why no chaos scenario can run in this session, or None when they can: they inject faults into the
    embedded stack's components, so a Prometheus of yours (by URL) runs none; without a scenario
    directory there are none to run."""
    if not run_settings(config).embedded:
        return (
            "the chaos scenarios inject faults into the embedded stack's components; this run checks a "
            "Prometheus of yours (by URL), where none can run"
        )
    if not contract.files.scenarios.is_dir():
        return f"no scenario directory ({display_path(contract.files.scenarios)}, files.scenarios in the contract)"
    return None


def test_every_alert_has_a_scenario(
    contract: Contract,
    pytestconfig: pytest.Config,
    obs_report: dict[str, Any],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Every alert rule (but the always-firing watchdog) is made to fire and clear by a scenario — where
    scenarios can run at all (else the check is not applicable, and the report says why)."""
    reason = scenarios_not_applicable(pytestconfig, contract)
    obs_report["scenario_coverage"] = {"applicable": reason is None, "reason": reason}
    if reason is not None:
        obs_summary(f"alerts exercised by scenarios: not applicable — {reason}")
        pytest.skip(f"not applicable: {reason}")
    scenarios: list[Scenario] = session_scenarios(pytestconfig)
    rules = [r for rf in load_rule_files(contract.files.rule_files()) for r in rf.alerts if r.name != WATCHDOG]
    alerts = {r.name: r for r in rules}
    covered = _covering(scenarios)
    missing = sorted(a for a in alerts if a not in covered)
    findings = [
        alerts[a].finding(
            "coverage/scenarios",
            f"no scenario makes it fire and clear — add one to {display_path(contract.files.scenarios)} "
            "(expect.must_fire with clears: true)",
        )
        for a in missing
    ]
    verdict = obs_findings.judge(findings)
    text = f"{len(alerts) - len(missing)}/{len(alerts)} alerts fired and cleared by a scenario"
    obs_summary(text + (f" ({len(verdict.warnings)} uncovered, warnings by the policy)" if verdict.warnings else ""))
    obs_findings.require(verdict)
