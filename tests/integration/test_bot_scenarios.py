"""The trading-bot language on a real stack: the shipped examples pass, a broken variant of each fails with
the seed framework's message, event chaos is counted and detected, a recording replays to the same verdict,
and the CLI and the standalone Python API run the files as written. Every run here goes through an
EventSession (subscription, candle feed and bot reset, replay, recording)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from obs_tests.config.contract import load_contract
from obs_tests.config.validation import load_schema
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.scenarios.runner import ScenarioRunner
from obs_tests.stack import EmbeddedStack

from .helpers import CONTRACT, ROOT, obs_tests

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.chaos]

EXAMPLES = sorted((ROOT / "scenarios").glob("trading-*.yaml"))
RESULT_SCHEMA = load_schema("scenario_result")


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(load_contract(CONTRACT)) as running:
        yield running


def _run(stack: EmbeddedStack, path: Path, tmp_path: Path) -> ScenarioResult:
    return ScenarioRunner(path, stack=stack, output_dir=tmp_path).run()


def _variant(tmp_path: Path, example: str, change: Any) -> Path:
    """A copy of ``scenarios/<example>`` changed by ``change(doc)``."""
    doc = yaml.safe_load((ROOT / "scenarios" / example).read_text())
    change(doc)
    path = tmp_path / example
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _failures(result: ScenarioResult) -> dict[str, str]:
    return {a.name: a.message for a in result.failures()}


def _verdicts(result: ScenarioResult) -> str:
    return "\n".join(f"{a.name}: {a.passed} {a.message}" for a in result.assertions) + f"\n{result.error}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_shipped_example_passes_and_its_result_validates(
    stack: EmbeddedStack, example: Path, tmp_path: Path
) -> None:
    result = _run(stack, example, tmp_path)
    assert result.status == "passed", _verdicts(result)
    doc = result.to_json()
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(doc)
    assert doc["events"]["total"] > 0 and doc["events"]["cycles"] >= 40
    assert doc["exchange"]["min_price"] is not None


def test_the_flash_crash_example_counts_its_chaos_records_and_reports(stack: EmbeddedStack, tmp_path: Path) -> None:
    result = _run(stack, ROOT / "scenarios" / "trading-flash-crash-recovery.yaml", tmp_path)
    assert result.status == "passed", _verdicts(result)
    chaos = result.chaos
    assert chaos["failures_injected"] == 1 and chaos["events_delayed"] >= 1 and chaos["total_delay_ms"] > 0
    assert chaos["events_modified"] >= 1 and chaos["active"] == 0
    assert result.events is not None and result.events["corrupted"] >= 1  # the modified prices, detected
    recording = json.loads((tmp_path / "recordings" / "flash_crash_recovery_test.json").read_text())
    assert len(recording["events"]) == result.events["total"]
    page = (tmp_path / "reports" / "flash_crash_recovery_test.html").read_text()
    assert "Bot events" in page and "Event log" in page and "event_count.PositionPurchased.min" in page


BROKEN = [
    pytest.param(
        "trading-flash-crash-recovery.yaml",
        lambda doc: doc["setup"]["bot"].update(strategy="panic"),
        "no_panic_sell",
        "Panic sell during the crash:",
        id="flash-crash-panic-strategy",
    ),
    pytest.param(
        "trading-bull-run-profit.yaml",
        lambda doc: doc["steps"][-1]["assert"].update(final_capital={"min": 20000.0}),
        "final_capital.min",
        "Expected at least 20000.00 final capital, got ",
        id="bull-run-unreachable-profit",
    ),
    pytest.param(
        "trading-chaos-resilience.yaml",
        lambda doc: doc["chaos"].append({"type": "inject_failure", "event": "MarketPriceFetchFailed", "at_cycle": 25}),
        "event_count.MarketPriceFetchFailed.exact",
        "Expected exactly 2 MarketPriceFetchFailed events, got 3",
        id="chaos-resilience-third-failure",
    ),
    pytest.param(
        "trading-regression-baseline.yaml",
        lambda doc: doc.update(chaos=[{"type": "drop_event", "event": "MarketPriceFetched", "probability": 0.5}]),
        "event_count.MarketPriceFetched.min",
        "Expected at least 40 MarketPriceFetched events, got ",
        id="regression-baseline-prices-dropped",
    ),
    pytest.param(
        "trading-recovery-after-failures.yaml",
        lambda doc: doc["chaos"][0].update(duration_cycles=60),
        "custom.obs_tests.scenarios.custom:recovered_after_failures",
        "after the last of ",
        id="recovery-never-recovers",
    ),
]


@pytest.mark.parametrize(("example", "change", "name", "message"), BROKEN)
def test_a_broken_variant_of_each_example_fails_with_a_clear_message(
    stack: EmbeddedStack, tmp_path: Path, example: str, change: Any, name: str, message: str
) -> None:
    result = _run(stack, _variant(tmp_path, example, change), tmp_path)
    assert result.status == "failed", _verdicts(result)
    failures = _failures(result)
    assert name in failures, _verdicts(result)
    assert failures[name].startswith(message), failures[name]


def test_dropped_purchases_never_come_and_wait_for_event_says_so(stack: EmbeddedStack, tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["chaos"] = [{"type": "drop_event", "event": "PositionPurchased"}]
        doc["steps"] = [{"wait_for_event": "PositionPurchased", "timeout_seconds": 4}]

    result = _run(stack, _variant(tmp_path, "trading-bull-run-profit.yaml", change), tmp_path)
    assert result.status == "failed"
    [failure] = result.failures()
    assert failure.name == "step wait_for_event(event=PositionPurchased, timeout_seconds=4)"
    assert "a PositionPurchased event" in failure.message and "timeout_seconds 4" in failure.message
    assert result.chaos["events_dropped"] >= 1


def test_a_recording_replays_to_the_same_verdict(stack: EmbeddedStack, tmp_path: Path) -> None:
    def record(doc: dict[str, Any]) -> None:
        doc["setup"]["recording"] = {"enabled": True, "output": "recordings/baseline.json"}

    recorded = _run(stack, _variant(tmp_path, "trading-regression-baseline.yaml", record), tmp_path)
    assert recorded.status == "passed" and recorded.recording is not None

    def replay(doc: dict[str, Any]) -> None:
        doc["setup"] = {"replay": {"recording": str(recorded.recording), "speed_multiplier": 5}}
        doc["name"] = "Regression Baseline (replayed)"

    replayed = _run(stack, _variant(tmp_path, "trading-regression-baseline.yaml", replay), tmp_path)
    assert replayed.status == "passed", _verdicts(replayed)
    assert [a.name for a in replayed.assertions] == [a.name for a in recorded.assertions]
    assert replayed.events is not None and recorded.events is not None
    assert replayed.events["by_name"] == recorded.events["by_name"]
    assert replayed.exchange == recorded.exchange


def test_the_cli_runs_every_example_as_written_with_output_and_verbose(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = obs_tests(
        "scenario",
        "run",
        "--stacks",
        "1",
        "--report-dir",
        str(tmp_path / "reports"),
        "--output",
        str(output),
        "--verbose",
        *(str(path) for path in EXAMPLES),
        env={**os.environ, "OBS_CONTRACT": str(CONTRACT)},
        timeout=300,
        cwd=tmp_path,  # recordings and reports the scenarios ask for land here, not in the repository
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BotMonitoringCycleStarted #1" in done.stdout  # --verbose: every event as it arrives
    docs = json.loads(output.read_text())
    validator = jsonschema.Draft202012Validator(RESULT_SCHEMA)
    for doc in docs:
        validator.validate(doc)
    assert sorted(d["scenario"]["name"] for d in docs) == [
        "Bull Run Profit Test",
        "Chaos Resilience Test",
        "Flash Crash Recovery Test",
        "Recovery After Consecutive Failures",
        "Regression Baseline",
    ]
    assert {d["status"] for d in docs} == {"passed"}
    assert (tmp_path / "recordings" / "flash_crash_recovery_test.json").is_file()
    assert (tmp_path / "reports" / "flash_crash_recovery_test.html").is_file()


def test_the_standalone_python_api_starts_its_own_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = ScenarioRunner("scenarios/trading-bull-run-profit.yaml", output_dir=tmp_path).run()
    assert result.status == "passed", _verdicts(result)
    assert result.to_json()["scenario"]["name"] == "Bull Run Profit Test"


FIRST_CYCLES = """
name: "Failures in the first cycles"
description: "Injected failures at cycles 1 and 2 of a bot polling every millisecond"
setup:
  exchange: {scenario: sideways, initial_price: 50000.0, seed: 3}
  bot: {initial_capital: 10000.0, pool_count: 5, poll_interval: 0.1}
chaos:
  - {type: inject_failure, event: MarketPriceFetchFailed, at_cycle: 1, error_message: "first"}
  - {type: inject_failure, event: MarketPriceFetchFailed, at_cycle: 2, error_message: "second"}
steps:
  - wait_for_cycles: 20
  - assert:
      event_count: {MarketPriceFetchFailed: {exact: 2}}
"""


def test_the_bot_waits_until_event_chaos_is_installed_before_its_first_cycle(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    """At a 1 ms poll the bot would be past cycle 2 before the rules are installed over HTTP, were it not
    paused until the faults due at once are on: every failure at a cycle happens, however busy the machine."""
    path = tmp_path / "first-cycles.yaml"
    path.write_text(FIRST_CYCLES)
    result = _run(stack, path, tmp_path)
    assert result.status == "passed", _verdicts(result)
    assert result.chaos["failures_injected"] == 2
