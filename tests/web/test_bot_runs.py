"""A trading-bot scenario run through the dashboard on its embedded stack: its recorded bus events and its
event-chaos counters in the status document (live while it runs, from its report once it ended), the
``verbose`` bus-event log, and the ``recording`` option (a file name; false over the scenario's own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from obs_tests.core.waiting import Poll, wait_for

from .helpers import BOT_EXAMPLES, Server

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.chaos]

CRASH = "trading-flash-crash-recovery"  # every kind of event chaos, setup.recording and setup.report
COUNTERS = ("events_delayed", "events_dropped", "failures_injected", "events_modified", "total_delay_ms")


def _run_to_the_end(server: Server, **options: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the flash-crash example; its final status document and the live bot samples seen meanwhile."""
    test_id = server.run(CRASH, **options)
    live: list[dict[str, Any]] = []

    def probe() -> Poll[dict[str, Any]]:
        doc = server.status(test_id)
        if doc["status"] == "running" and doc["bot"] is not None:
            live.append(doc["bot"])
        return Poll(doc["status"] != "running", doc, f"{doc['status']}/{doc['phase']}: {doc['log'][-3:]}")

    done = wait_for(probe, timeout=240, interval=0.1, expected="the bot scenario to finish")
    return done, live


@pytest.fixture(scope="module")
def crash_run(server: Server) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    active = server.info()["active_run"]
    if active is not None:
        server.post(f"/api/stop/{active}")
    return _run_to_the_end(server, verbose=True, recording="dash-{scenario_name}.json")


def test_a_bot_run_shows_its_event_count_and_chaos_statistics(crash_run: Any) -> None:
    doc, _live = crash_run
    assert doc["status"] == "passed", doc["error"] or [a for a in doc["assertions"] if not a["passed"]]
    bot = doc["bot"]
    assert bot["live"] is False
    events = bot["events"]
    assert events["cycles"] >= 50 and events["total"] >= 2 * events["cycles"]  # a start and a fetch each
    assert events["total"] == sum(events["by_name"].values())
    assert 3 <= events["by_name"]["PositionPurchased"] <= 10
    assert events["by_name"]["MarketPriceFetchFailed"] == 1  # inject_failure at cycle 30
    assert events["corrupted"] >= 1  # modify_event on MarketPriceFetched at cycles 40-41, detected
    assert set(bot["chaos"]) == set(COUNTERS)
    chaos = bot["chaos"]
    assert chaos["failures_injected"] == 1 and chaos["events_modified"] >= 1
    assert chaos["events_delayed"] >= 1 and chaos["total_delay_ms"] > 0
    assert bot["exchange"]["min_price"] < bot["exchange"]["max_price"]


def test_the_bot_block_is_the_reports_events_and_chaos(server: Server, crash_run: Any) -> None:
    doc, _live = crash_run
    report = server.get(doc["report"]["json"]).json()
    assert report["scenario"]["name"] == "Flash Crash Recovery Test"
    assert report["scenario"]["id"] == "flash-crash-recovery-test"
    assert doc["scenario"] == CRASH and report["path"] == f"{CRASH}.yaml"  # the dashboard names files
    assert report["events"]["total"] == doc["bot"]["events"]["total"]
    assert report["events"]["by_name"] == doc["bot"]["events"]["by_name"]
    assert {key: report["chaos"][key] for key in COUNTERS} == doc["bot"]["chaos"]
    assert report["options"]["recording"] == "dash-{scenario_name}.json" and report["options"]["verbose"] is True
    history = {r["test_id"]: r for r in server.get("/api/runs").json()["runs"]}
    assert history[doc["test_id"]]["scenario"] == CRASH


def test_the_bot_block_was_sampled_live_while_the_run_went(crash_run: Any) -> None:
    _doc, live = crash_run
    assert live, "no live sample of the bot's events while the run went"
    assert all(sample["live"] is True for sample in live)
    totals = [sample["events"]["total"] for sample in live]
    assert totals == sorted(totals) and totals[-1] > 0
    delays = [sample["chaos"]["events_delayed"] for sample in live]
    assert delays == sorted(delays)  # counters never go down


def test_the_named_recording_is_written_in_the_runs_directory_and_served(server: Server, crash_run: Any) -> None:
    doc, _live = crash_run
    test_id = doc["test_id"]
    assert doc["bot"]["recording"] == "recordings/dash-flash_crash_recovery_test.json"
    assert doc["report"]["events"] == f"/api/report/{test_id}.events"
    served = server.get(doc["report"]["events"])
    assert served.status_code == 200 and served.headers["content-type"] == "application/json"
    recording = served.json()
    assert recording["format"] == "obs-tests-recording/1"
    assert len(recording["events"]) == doc["bot"]["events"]["total"]
    run_dir = Path(server.report_dir) / "dashboard" / test_id
    assert (run_dir / "recordings" / "dash-flash_crash_recovery_test.json").is_file()
    assert (run_dir / "reports" / "flash_crash_recovery_test.html").is_file()  # the scenario's setup.report
    assert not (run_dir / "recorded.yml").exists()  # no must_fire alert: no promtool recording
    assert not (Path(server.report_dir) / "recordings").exists()  # nothing outside the run's directory


def test_verbose_logs_every_bus_event(crash_run: Any) -> None:
    doc, _live = crash_run
    messages = [entry["message"] for entry in doc["log"]]
    assert any("BotMonitoringCycleStarted #1" in m for m in messages), messages[-10:]
    assert any("PositionPurchased #1" in m for m in messages)


def test_recording_false_records_nothing_even_when_the_scenario_asks(idle: Server) -> None:
    server = idle
    doc, _live = _run_to_the_end(server, recording=False)
    assert doc["status"] == "passed", doc["error"]
    assert doc["bot"]["recording"] is None and doc["bot"]["events"]["total"] > 0
    assert doc["report"]["events"] is None
    run_dir = Path(server.report_dir) / "dashboard" / doc["test_id"]
    assert not (run_dir / "recordings").exists()
    missing = server.get(f"/api/report/{doc['test_id']}.events")
    assert missing.status_code == 404
    assert "no event recording (run a trading-bot scenario with recording: true)" in missing.json()["error"]


@pytest.mark.parametrize("example", [e for e in BOT_EXAMPLES if e != CRASH])
def test_every_other_shipped_example_passes_from_the_dashboard(idle: Server, example: str) -> None:
    test_id = idle.run(example)

    def probe() -> Poll[dict[str, Any]]:
        doc = idle.status(test_id)
        return Poll(doc["status"] != "running", doc, f"{doc['status']}/{doc['phase']}")

    doc = wait_for(probe, timeout=240, interval=0.2, expected=f"{example} to finish")
    assert doc["status"] == "passed", doc["error"] or [a for a in doc["assertions"] if not a["passed"]]
    assert doc["bot"]["events"]["cycles"] >= 40
