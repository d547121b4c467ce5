"""A dashboard run's state and the documents made from it: the history line, the status message, the
whole status document, and a finished run read back from its report."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.errors import InputError, ReportNotReady
from obs_tests.scenarios.event_setup import RecordingSetup
from obs_tests.scenarios.model import Catalog, Scenario, load_scenario
from obs_tests.web.run_state import (
    LOG_LIMIT,
    RECORDING_NAME_MAX,
    RECORDING_NAME_PATTERN,
    Run,
    RunOptions,
    recording_name_problem,
)
from obs_tests.web.runs import RunManager
from obs_tests.web.scenario_files import ScenarioFiles
from obs_tests.web.stream import Stream

from .helpers import ROOT

TEST_ID = "20261122-081618-a1b2c3"


def _run() -> Run:
    run = Run(TEST_ID, "gateway-down", "gateway-down.yaml", RunOptions(verbose=True, load="light"), None)
    run.assertions = [{"name": "GatewayDown fires", "passed": True}, {"name": "clears", "passed": False}]
    run.events = [{"t": 1.0, "kind": "fault", "name": "kill-gateway", "state": "applied", "labels": {}, "data": {}}]
    return run


def test_a_running_run_is_counted_and_has_no_report_yet() -> None:
    run = _run()
    assert not run.finished and run.phase == "queued"
    assert run.assertion_counts() == (1, 2)
    assert run.report_links() is None
    progress = run.progress()
    assert progress["status"] == "running" and (progress["assertions_passed"], progress["assertions_total"]) == (1, 2)
    assert progress["chaos"]["applied"] == 1 and progress["chaos"]["active"] == ["kill-gateway"]
    summary = run.summary()
    assert summary["scenario"] == "gateway-down" and summary["report"] is None
    state = run.state()
    assert state["options"] == {"verbose": True, "recording": None, "time_scale": None, "load": "light"}
    assert state["scenario_duration"] is None and state["events"] == run.events


def test_a_finished_run_reads_back_from_its_report(tmp_path: Path) -> None:
    doc = {
        "scenario": "gateway-down",
        "path": "gateway-down.yaml",
        "status": "failed",
        "created_at": 100.0,
        "duration": 12.5,
        "time_scale": 0.01,
        "error": "",
        "options": {"verbose": False, "recording": True, "unknown": 1},
        "dashboard_log": [{"t": 0.1, "level": "INFO", "message": "scenario gateway-down"}],
        "timeline": [],
        "assertions": {"results": [{"name": "clears", "passed": False}]},
        "chaos": {"applied": 1, "reverted": 1, "revert_failed": 0, "active": 0, "errors": [], "faults": []},
        "alerts": [],
    }
    files = {"json": tmp_path / "report.json", "html": tmp_path / "report.html", "yml": tmp_path / "recorded.yml"}
    run = Run.from_report(TEST_ID, doc, files)
    assert run.finished and run.status == "failed" and run.phase == "finished"
    assert run.options == RunOptions(recording=True)
    assert run.finished_at == 112.5 and run.duration == 12.5
    assert list(run.log) == doc["dashboard_log"] and run.log_omitted == 0 and run.assertion_counts() == (0, 1)
    assert run.report_links() == {
        "json": f"/api/report/{TEST_ID}.json",
        "html": f"/api/report/{TEST_ID}.html",
        "svg": f"/api/report/{TEST_ID}.svg",
        "recording": f"/api/report/{TEST_ID}.yml",
        "events": None,
    }
    assert run.state()["scenario_duration"] == 12.5


def test_a_run_keeps_its_last_log_lines_in_memory_and_counts_the_others() -> None:
    # a verbose run logs every bus event: the server keeps the newest LOG_LIMIT lines, not all of them
    run = Run(TEST_ID, "bot-run", "bot-run.yaml", RunOptions(verbose=True), None)
    stream = Stream(16)
    manager = RunManager.__new__(RunManager)  # only _log's state: the lock, the stream, no console
    manager._lock, manager.stream, manager.echo = threading.RLock(), stream, None
    for i in range(LOG_LIMIT + 7):
        manager._log(run, "INFO", f"event {i}")
    state = run.state()
    assert len(state["log"]) == LOG_LIMIT and state["log_omitted"] == 7
    assert state["log"][0]["message"] == "event 7" and state["log"][-1]["message"] == f"event {LOG_LIMIT + 6}"
    assert stream.seq == LOG_LIMIT + 7  # the stream carried every line


def test_a_report_with_a_long_log_reads_back_its_last_lines() -> None:
    lines = [{"t": float(i), "level": "INFO", "message": f"line {i}"} for i in range(LOG_LIMIT + 3)]
    run = Run.from_report(TEST_ID, {"status": "passed", "dashboard_log": lines, "dashboard_log_omitted": 10}, {})
    assert list(run.log) == lines[3:] and run.log_omitted == 13


# -- trading-bot runs: events and event chaos, recording options --------------------------------------

BOT_REPORT_EVENTS = {
    "total": 412,
    "by_name": {"BotMonitoringCycleStarted": 52, "PositionPurchased": 4},
    "cycles": 52,
    "missing": {"BuyConditionMet": 2},
    "corrupted": 2,
}
BOT_REPORT_CHAOS = {
    "applied": 5,
    "reverted": 5,
    "revert_failed": 0,
    "errors": [],
    "faults": [],
    "events_delayed": 31,
    "events_dropped": 2,
    "failures_injected": 1,
    "events_modified": 2,
    "total_delay_ms": 20731.5,
}


def test_a_live_bot_sample_is_in_the_status_document_and_the_status_message() -> None:
    run = _run()
    assert run.bot() is None and run.state()["bot"] is None and "bot" not in run.progress()
    sample = {"live": True, "events": {"total": 8}, "chaos": {"events_dropped": 1}}
    run.live_bot = sample
    assert run.state()["bot"] == sample and run.progress()["bot"] == sample


def test_a_finished_bot_run_shows_its_events_and_chaos_from_its_report(tmp_path: Path) -> None:
    doc = {
        "scenario": {
            "name": "Flash Crash Recovery Test",
            "id": "flash-crash-recovery-test",
            "description": "",
            "path": "",
        },
        "status": "passed",
        "created_at": 100.0,
        "duration": 9.0,
        "events": BOT_REPORT_EVENTS,
        "chaos": BOT_REPORT_CHAOS,
        "exchange": {"min_price": 41000.0, "max_price": 50100.0, "total_return_pct": -3.2},
        "recording": "recordings/crash.json",
        "assertions": {"results": []},
    }
    events = tmp_path / "recordings" / "crash.json"
    run = Run.from_report(TEST_ID, doc, {"json": tmp_path / "report.json", "events": events})
    assert run.name == "flash-crash-recovery-test"  # the result's scenario is an object now: its id
    named = Run.from_report(TEST_ID, {**doc, "path": "trading-flash-crash-recovery.yaml"}, {})
    assert named.name == "trading-flash-crash-recovery"  # the dashboard's name: the file, as while it ran
    bot = run.state()["bot"]
    assert bot["live"] is False
    assert bot["events"] == {**BOT_REPORT_EVENTS, "missing_total": 2}
    assert bot["chaos"] == {
        "events_delayed": 31,
        "events_dropped": 2,
        "failures_injected": 1,
        "events_modified": 2,
        "total_delay_ms": 20731.5,
    }
    assert bot["exchange"]["total_return_pct"] == -3.2 and bot["recording"] == "recordings/crash.json"
    assert run.progress()["bot"] == bot
    assert run.report_links()["events"] == f"/api/report/{TEST_ID}.events"  # type: ignore[index]


def test_a_finished_run_without_bot_events_shows_none_even_with_a_live_sample() -> None:
    run = Run.from_report(TEST_ID, {"scenario": "gateway-down", "status": "passed", "events": None}, {})
    run.live_bot = {"live": True}
    assert run.name == "gateway-down" and run.bot() is None


@pytest.mark.parametrize(
    "name",
    ["crash.json", "{scenario_name}.json", "run-2_b.{scenario_name}.json", "a..json", "X" * 115 + ".json"],
)
def test_good_recording_names(name: str) -> None:
    assert recording_name_problem(name) is None
    assert re.match(RECORDING_NAME_PATTERN, name)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        pytest.param("", "an empty file name", id="empty"),
        pytest.param("../../etc/x.json", "give a file name, not a path", id="traversal"),
        pytest.param("/tmp/x.json", "give a file name, not a path", id="absolute"),
        pytest.param("sub/x.json", "give a file name, not a path", id="directory"),
        pytest.param("..\\x.json", "give a file name, not a path", id="backslash"),
        pytest.param(".hidden.json", "may not start with a dot", id="dot"),
        pytest.param("..", "may not start with a dot", id="dot-dot"),
        pytest.param("crash.yaml", "end the file name with .json", id="not-json"),
        pytest.param("crash", "end the file name with .json", id="no-suffix"),
        pytest.param("a b.json", "use letters, digits", id="space"),
        pytest.param("{other}.json", "use letters, digits", id="other-placeholder"),
        pytest.param("x\x00.json", "use letters, digits", id="nul"),
        pytest.param("é.json", "use letters, digits", id="non-ascii"),
        pytest.param("x" * 200 + ".json", "is 205 characters long — at most 120", id="long"),
    ],
)
def test_bad_recording_names_say_why(name: str, problem: str) -> None:
    said = recording_name_problem(name)
    assert said is not None and problem in said
    assert not re.match(RECORDING_NAME_PATTERN, name) or len(name) > RECORDING_NAME_MAX  # the schema agrees


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_contract(load_contract(ROOT / "obs.yaml"))


def _scenario(catalog: Catalog, name: str) -> Scenario:
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml", catalog)


def _recording(scenario: Scenario) -> RecordingSetup | None:
    assert scenario.events is not None
    return scenario.events.recording


def test_recording_options_on_a_bot_scenario_that_records(catalog: Catalog) -> None:
    crash = _scenario(catalog, "trading-flash-crash-recovery")  # setup.recording: recordings/{scenario_name}.json
    assert RunOptions().recorded(crash) is crash
    assert _recording(RunOptions(recording=False).recorded(crash)) is None
    assert _recording(RunOptions(recording=True).recorded(crash)) == RecordingSetup(
        enabled=True, output="recordings/{scenario_name}.json"
    )
    named = RunOptions(recording="dash-{scenario_name}.json").recorded(crash)
    assert _recording(named) == RecordingSetup(enabled=True, output="recordings/dash-{scenario_name}.json")
    assert named.events is not None and named.events.bot == crash.events.bot  # type: ignore[union-attr]
    assert RunOptions(recording="x.json").records and RunOptions(recording=True).records
    assert not RunOptions(recording=False).records and not RunOptions().records


def test_recording_true_gives_a_bot_scenario_without_one_the_default(catalog: Catalog) -> None:
    baseline = _scenario(catalog, "trading-regression-baseline")
    assert _recording(baseline) is None
    assert _recording(RunOptions(recording=True).recorded(baseline)) == RecordingSetup()
    assert RecordingSetup().output == "recordings/{scenario_name}.json"


def test_recording_options_on_a_scenario_without_bot_events(catalog: Catalog) -> None:
    down = _scenario(catalog, "exchange-down")
    for option in (None, True, False):
        assert RunOptions(recording=option).recorded(down) is down  # true: its promtool recording
    with pytest.raises(InputError, match=r"recording: a file name records a trading-bot scenario's bus events — "):
        RunOptions(recording="x.json").recorded(down)


def test_a_bad_recording_name_is_refused_when_the_run_is_prepared(catalog: Catalog) -> None:
    with pytest.raises(InputError, match=r"recording: '\.\./x\.json' — give a file name, not a path"):
        RunOptions(recording="../x.json").recorded(_scenario(catalog, "trading-regression-baseline"))


def test_the_manager_reads_a_bot_run_back_and_serves_only_its_own_recording(tmp_path: Path, catalog: Catalog) -> None:
    reports = tmp_path / "reports"
    (tmp_path / "outside.json").write_text('{"secret": true}')
    docs = {
        TEST_ID: "recordings/crash.json",
        "20261122-081619-d4e5f6": "../../../outside.json",  # a tampered report: never served
    }
    for test_id, recording in docs.items():
        directory = reports / "dashboard" / test_id
        (directory / "recordings").mkdir(parents=True)
        (directory / "recordings" / "crash.json").write_text('{"format": "obs-tests-recording/1", "events": []}')
        doc = {
            "scenario": {"name": "Flash Crash Recovery Test", "id": "flash-crash-recovery-test"},
            "path": "trading-flash-crash-recovery.yaml",
            "status": "passed",
            "events": BOT_REPORT_EVENTS,
            "chaos": BOT_REPORT_CHAOS,
            "recording": recording,
            "assertions": {"results": []},
        }
        (directory / "report.json").write_text(json.dumps(doc))
    manager = RunManager(
        load_contract(ROOT / "obs.yaml"),
        files=ScenarioFiles(tmp_path, catalog),
        report_dir=reports,
        stream=Stream(10),
    )
    state = manager.status(TEST_ID)
    assert state["scenario"] == "trading-flash-crash-recovery" and state["bot"]["events"]["total"] == 412
    assert state["report"]["events"] == f"/api/report/{TEST_ID}.events"
    content, media_type = manager.report(TEST_ID, "events")
    assert media_type == "application/json" and json.loads(content)["format"] == "obs-tests-recording/1"
    tampered = manager.status("20261122-081619-d4e5f6")
    assert tampered["report"]["events"] is None
    with pytest.raises(ReportNotReady, match="no event recording"):
        manager.report("20261122-081619-d4e5f6", "events")
