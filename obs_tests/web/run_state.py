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
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obs_tests.errors import InputError
from obs_tests.scenarios.event_setup import RecordingSetup
from obs_tests.scenarios.model import Scenario
from obs_tests.scenarios.results import scenario_id
from obs_tests.web.views import alert_rows, bot_view, chaos_view

__all__ = [
    "LOG_LIMIT",
    "RECORDINGS_DIR",
    "RECORDING_NAME_MAX",
    "RECORDING_NAME_PATTERN",
    "Run",
    "RunOptions",
    "recording_name_problem",
]

LOG_LIMIT = 5000
#: where a run's event recording goes, under the run's directory (``<report-dir>/dashboard/<test_id>/``)
RECORDINGS_DIR = "recordings"
RECORDING_NAME_MAX = 120
_NAME_CHAR = r"(?:[A-Za-z0-9_.-]|\{scenario_name\})"
#: a recording's file name as a request may give it: no directory, no leading dot, ``.json`` at the end
RECORDING_NAME_PATTERN = rf"^(?:[A-Za-z0-9_-]|\{{scenario_name\}}){_NAME_CHAR}*\.json$"
_RECORDING_NAME = re.compile(RECORDING_NAME_PATTERN)
_PLACEHOLDER = "{scenario_name}"


def recording_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as the file name of a run's event recording (None: nothing). A name is a
    plain file name — it is written to the run's ``recordings/`` directory and can never land outside it."""
    if name == "":
        return "an empty file name — give one like 'crash-run.json', or true for the default"
    shown = repr(name if len(name) <= 60 else name[:60] + "…")
    if len(name) > RECORDING_NAME_MAX:
        return f"{shown} is {len(name)} characters long — at most {RECORDING_NAME_MAX}"
    if "/" in name or "\\" in name:
        return f"{shown} — give a file name, not a path: the recording goes to the run's {RECORDINGS_DIR}/ directory"
    if name.startswith("."):
        return f"{shown} — a file name may not start with a dot"
    if not name.endswith(".json"):
        return f"{shown} — a recording is JSON: end the file name with .json"
    if not _RECORDING_NAME.match(name):
        return f"{shown} — use letters, digits, '.', '_', '-' and {_PLACEHOLDER} only"
    return None


@dataclass(frozen=True)
class RunOptions:
    """How to run: log every event (verbose), record (``recording``: None — as the scenario says; True —
    record; False — record nothing; a file name — record the bus events to it), time scale, load profile."""

    verbose: bool = False
    recording: bool | str | None = None
    time_scale: float | None = None
    load: str = "scenario"

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)

    @property
    def records(self) -> bool:
        """Whether the run was asked to record (``true`` or a file name)."""
        return self.recording is True or isinstance(self.recording, str)

    def recorded(self, scenario: Scenario) -> Scenario:
        """``scenario`` with its event recording as asked: unchanged (None), none at all (False), the
        scenario's own ``setup.recording.output`` or the default ``recordings/{scenario_name}.json`` (True),
        ``recordings/<name>`` (a file name) — relative to the run's output directory. A file name for a
        scenario without bot events is an :class:`InputError` (400)."""
        option = self.recording
        setup = scenario.events
        if option is None or (option is True and not scenario.drives_bot):
            return scenario
        if isinstance(option, str):
            problem = recording_name_problem(option)
            if problem is not None:
                raise InputError(f"recording: {problem}")
            if not scenario.drives_bot or setup is None:
                raise InputError(
                    f"recording: a file name records a trading-bot scenario's bus events — {scenario.path.name} "
                    "has no setup.bot or setup.replay (true records its alerts as a promtool test)"
                )
            wanted: RecordingSetup | None = RecordingSetup(output=f"{RECORDINGS_DIR}/{option}")
        elif option is False:
            wanted = None
        else:
            own = setup.recording if setup is not None else None
            wanted = RecordingSetup(output=own.output) if own is not None else RecordingSetup()
        if setup is None:
            return scenario
        return dataclasses.replace(scenario, events=dataclasses.replace(setup, recording=wanted))


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
        #: the run's log lines, the last LOG_LIMIT of them (a verbose run logs every bus event: a long one
        #: kept them all in the server's memory); ``log_omitted`` counts the older lines let go
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self.log_omitted = 0
        self.events: list[dict[str, Any]] = []
        self.assertions: list[dict[str, Any]] = []
        self.report: dict[str, Any] | None = None
        self.files: dict[str, Path] = {}
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.origin: float | None = None
        #: a trading-bot run's events and event-chaos counters sampled while it runs (:func:`bot_view`)
        self.live_bot: dict[str, Any] | None = None

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

    def bot(self) -> dict[str, Any] | None:
        """A trading-bot run's recorded events and what event chaos did: from its report once it ended,
        else the last live sample (None for a run without bot events)."""
        report = self.report
        if report is None or report.get("events") is None:
            return None if report is not None else self.live_bot
        recording = report.get("recording")
        return bot_view(
            report["events"],
            report.get("chaos"),
            exchange=report.get("exchange"),
            recording=str(recording) if recording else None,
        )

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
            "events": f"{base}.events" if "events" in self.files else None,
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
        } | ({"bot": bot} if (bot := self.bot()) is not None else {})

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
            "bot": self.bot(),
            "log": list(self.log),
            "log_omitted": self.log_omitted,
            "events": list(self.events),
            "report": self.report_links(),
        }

    @classmethod
    def from_report(cls, test_id: str, doc: Mapping[str, Any], files: dict[str, Path]) -> Run:
        """A past run, read back from its JSON report."""
        options = RunOptions(**{k: v for k, v in (doc.get("options") or {}).items() if k in RunOptions.__annotations__})
        file = str(doc.get("path") or "")
        # the dashboard names a scenario by its file, as it did while the run went; else the result's id
        name = Path(file).stem if file else scenario_id(doc) if doc.get("scenario") else "?"
        run = cls(test_id, name, file, options, None)
        run.status = str(doc.get("status", "error"))
        run.phase = "finished"
        run.created_at = float(doc.get("created_at") or doc.get("started_at") or 0.0)
        run.finished_at = float(doc.get("finished_at") or run.created_at + float(doc.get("duration") or 0.0))
        run.time_scale = doc.get("time_scale")
        run.error = str(doc.get("error") or "")
        lines = list(doc.get("dashboard_log") or doc.get("log") or [])
        run.log.extend(lines)
        run.log_omitted = int(doc.get("dashboard_log_omitted") or 0) + max(0, len(lines) - LOG_LIMIT)
        run.events = list(doc.get("timeline") or [])
        run.assertions = list((doc.get("assertions") or {}).get("results") or [])
        run.report = dict(doc)
        run.files = files
        return run
