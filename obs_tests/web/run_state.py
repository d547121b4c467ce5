"""One dashboard run and everything the dashboard shows of it: how it was asked to run
(:class:`RunOptions`), its status, phase, log, timeline events and assertions as they arrive, and the
documents the API serves from them — a history line, the ``status`` stream message, the whole status
document. A finished run is read back from its JSON report when the server starts.

Example::

    run = Run("20261122-081618-a1b2c3", "gateway-down", "gateway-down.yaml", RunOptions(verbose=True), scenario)
    run.progress()["status"]          # running
    Run.from_report(run.test_id, json.loads(path.read_text()), {"json": path}).summary()
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obs_tests.scenarios.model import Scenario
from obs_tests.web.views import alert_rows, chaos_view

__all__ = ["LOG_LIMIT", "Run", "RunOptions"]

LOG_LIMIT = 5000


@dataclass(frozen=True)
class RunOptions:
    """How to run: stream every event to the log, record a promtool fixture, time scale, load profile."""

    verbose: bool = False
    recording: bool = False
    time_scale: float | None = None
    load: str = "scenario"

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


class Run:
    """One run and everything the dashboard shows of it."""

    def __init__(self, test_id: str, name: str, file: str, options: RunOptions, scenario: Scenario | None) -> None:
        self.test_id = test_id
        self.name = name
        self.file = file
        self.options = options
        self.scenario = scenario
        self.status = "running"
        self.phase = "queued"
        self.created_at = time.time()
        self.finished_at: float | None = None
        self.time_scale: float | None = options.time_scale
        self.error = ""
        self.log: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.assertions: list[dict[str, Any]] = []
        self.report: dict[str, Any] | None = None
        self.files: dict[str, Path] = {}
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.origin: float | None = None

    @property
    def finished(self) -> bool:
        """Whether the run is over."""
        return self.status != "running"

    @property
    def duration(self) -> float:
        """Seconds since the run was accepted (until it finished)."""
        return round(max(0.0, (self.finished_at or time.time()) - self.created_at), 3)

    def chaos(self) -> dict[str, Any]:
        """Faults applied / reverted / still active."""
        return chaos_view(self.events, self.report.get("chaos") if self.report else None)

    def assertion_counts(self) -> tuple[int, int]:
        """(passed, total)."""
        return sum(1 for a in self.assertions if a["passed"]), len(self.assertions)

    def report_links(self) -> dict[str, str | None] | None:
        """URLs of the reports (once written)."""
        if "json" not in self.files:
            return None
        base = f"/api/report/{self.test_id}"
        return {
            "json": f"{base}.json",
            "html": f"{base}.html",
            "svg": f"{base}.svg",
            "recording": f"{base}.yml" if "yml" in self.files else None,
        }

    def summary(self) -> dict[str, Any]:
        """One line of the history."""
        passed, total = self.assertion_counts()
        return {
            "test_id": self.test_id,
            "scenario": self.name,
            "status": self.status,
            "created_at": self.created_at,
            "duration": self.duration,
            "assertions_passed": passed,
            "assertions_total": total,
            "report": self.report_links(),
        }

    def progress(self) -> dict[str, Any]:
        """The ``status`` stream message."""
        passed, total = self.assertion_counts()
        chaos = self.chaos()
        return {
            "status": self.status,
            "phase": self.phase,
            "duration": self.duration,
            "assertions_passed": passed,
            "assertions_total": total,
            "chaos": {"applied": chaos["applied"], "reverted": chaos["reverted"], "active": chaos["active"]},
        }

    def state(self) -> dict[str, Any]:
        """The whole status document (``GET /api/status/{test_id}``)."""
        passed, total = self.assertion_counts()
        return {
            "test_id": self.test_id,
            "scenario": self.name,
            "file": self.file,
            "status": self.status,
            "phase": self.phase,
            "options": self.options.to_json(),
            "time_scale": self.time_scale,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "duration": self.duration,
            "scenario_duration": self.report.get("duration") if self.report else None,
            "error": self.error,
            "assertions_passed": passed,
            "assertions_total": total,
            "assertions": list(self.assertions),
            "alerts": alert_rows(self.events, (self.report.get("alerts") or []) if self.report else []),
            "chaos": self.chaos(),
            "log": self.log[-LOG_LIMIT:],
            "events": list(self.events),
            "report": self.report_links(),
        }

    @classmethod
    def from_report(cls, test_id: str, doc: Mapping[str, Any], files: dict[str, Path]) -> Run:
        """A past run, read back from its JSON report."""
        options = RunOptions(**{k: v for k, v in (doc.get("options") or {}).items() if k in RunOptions.__annotations__})
        run = cls(test_id, str(doc.get("scenario", "?")), str(doc.get("path", "")), options, None)
        run.status = str(doc.get("status", "error"))
        run.phase = "finished"
        run.created_at = float(doc.get("created_at") or doc.get("started_at") or 0.0)
        run.finished_at = float(doc.get("finished_at") or run.created_at + float(doc.get("duration") or 0.0))
        run.time_scale = doc.get("time_scale")
        run.error = str(doc.get("error") or "")
        run.log = list(doc.get("dashboard_log") or doc.get("log") or [])
        run.events = list(doc.get("timeline") or [])
        run.assertions = list((doc.get("assertions") or {}).get("results") or [])
        run.report = dict(doc)
        run.files = files
        return run
