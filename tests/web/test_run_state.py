"""A dashboard run's state and the documents made from it: the history line, the status message, the
whole status document, and a finished run read back from its report."""

from __future__ import annotations

from pathlib import Path

from obs_tests.web.run_state import Run, RunOptions

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
    assert state["options"] == {"verbose": True, "recording": False, "time_scale": None, "load": "light"}
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
    assert run.log == doc["dashboard_log"] and run.assertion_counts() == (0, 1)
    assert run.report_links() == {
        "json": f"/api/report/{TEST_ID}.json",
        "html": f"/api/report/{TEST_ID}.html",
        "svg": f"/api/report/{TEST_ID}.svg",
        "recording": f"/api/report/{TEST_ID}.yml",
    }
    assert run.state()["scenario_duration"] == 12.5
