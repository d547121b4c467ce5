"""The dashboard's runs: one embedded stack, one scenario run at a time, live state, history on disk.

:class:`RunManager` owns the embedded stack (:class:`~obs_tests.web.dashboard_stack.DashboardStack`:
started in the background when the server starts, or at the first run). A run asking for another time
scale than the running stack restarts the stack at that scale first (the run's phase says ``starting
stack``). Each run, in its own thread, runs its scenario on that stack through
:func:`~obs_tests.scenarios.lanes.run_scenarios`; its log lines and timeline events go to the live
:class:`~obs_tests.web.stream.Stream` and to the run's state (:class:`~obs_tests.web.run_state.Run`),
under one lock, so a status snapshot and the stream position (``seq``) it carries always agree.
Finished runs write their JSON and HTML reports to ``<report_dir>/dashboard/<test_id>/``; the history
is read back from there when the server starts.

Example::

    manager = RunManager(contract, files=ScenarioFiles(dir, catalog), report_dir=Path("reports"), stream=Stream())
    run = manager.start("gateway-down", RunOptions(verbose=True))
    manager.status(run.test_id)["status"]      # running | passed | failed | stopped | error
    manager.stop(run.test_id)                   # faults reverted, status "stopped"
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from obs_tests import __version__
from obs_tests.clients.tools import run_tool
from obs_tests.config.contract import Contract
from obs_tests.core.yamlfile import read_text, shown
from obs_tests.errors import InputError, ObsTestsError, ReportNotReady, RunFinished, RunInProgress, UnknownRun
from obs_tests.scenarios.lanes import SharedStack, run_scenarios
from obs_tests.scenarios.model import Scenario
from obs_tests.scenarios.record import build_fixture
from obs_tests.scenarios.reports import render_html, render_timeline_svg
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.scenarios.runner import ScenarioRunner
from obs_tests.scenarios.standalone import RunOutput
from obs_tests.scenarios.timeline import Event
from obs_tests.stack.protocol import Stack
from obs_tests.stack.run_settings import resolve_time_scale
from obs_tests.web.dashboard_stack import DashboardStack
from obs_tests.web.live_bot import LiveBot
from obs_tests.web.run_state import LOG_LIMIT, Run, RunOptions
from obs_tests.web.scenario_files import ScenarioFiles
from obs_tests.web.stream import Stream
from obs_tests.web.views import LOG_LEVELS, event_line, public_url

__all__ = [
    "LOAD_PROFILES",
    "REPORT_FORMATS",
    "TEST_ID_PATTERN",
    "RunManager",
    "RunOptions",  # what RunManager.start takes (defined with the run's state in web/run_state.py)
]

TEST_ID_PATTERN = r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$"
_TEST_ID = re.compile(TEST_ID_PATTERN)
#: load profiles of a run: keep the scenario's own ``setup.load``, none, or a fixed Locust load
LOAD_PROFILES: dict[str, Mapping[str, Any] | None] = {
    "scenario": None,
    "none": {},
    "light": {"users": 2, "malformed_ratio": 0.0},
    "nominal": {"users": 5, "malformed_ratio": 0.0},
    "heavy": {"users": 20, "malformed_ratio": 0.0},
}
REPORT_FORMATS = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "svg": "image/svg+xml",
    "yml": "application/yaml",
    "events": "application/json",
}
HISTORY_LIMIT = 500

EchoFn = Callable[[str, str, str], None]


class RunManager:
    """Owns the stack and the runs; see the module docstring."""

    def __init__(
        self,
        contract: Contract,
        *,
        files: ScenarioFiles,
        report_dir: Path,
        stream: Stream,
        time_scale: float | None = None,
        grafana_url: str | None = None,
        echo: EchoFn | None = None,
        stop_timeout: float = 60.0,
    ) -> None:
        self.contract = contract
        self.files = files
        self.report_dir = report_dir
        self.stream = stream
        self.default_scale = float(time_scale or contract.stack.time_scale)
        self.grafana_url = grafana_url or contract.stack.grafana
        self.echo = echo
        self.stop_timeout = stop_timeout
        self._lock = threading.RLock()
        self.stack = DashboardStack(contract, scale=self.default_scale, stream=stream, lock=self._lock, echo=echo)
        self._runs: dict[str, Run] = {}
        self._active: Run | None = None
        self._closed = False
        self._load_history()

    # -- the stack -----------------------------------------------------------------------------
    def start_stack(self) -> None:
        """Start the embedded stack in the background (at the default time scale)."""
        self.stack.start_in_background()

    def links(self) -> dict[str, str | None]:
        """Prometheus' alerts page, Alertmanager's API and Grafana (when configured)."""
        return {**self.stack.links(), "grafana": public_url(self.grafana_url)}

    def stack_info(self) -> dict[str, Any]:
        """State, time scale and components of the stack (process states, no probing)."""
        return self.stack.info()

    def info(self) -> dict[str, Any]:
        """What the page needs first: version, stack, links, the active run and the stream position."""
        with self._lock:
            active = self._active.test_id if self._active is not None else None
            seq = self.stream.seq
        return {
            "version": __version__,
            "stack": self.stack_info(),
            "links": self.links(),
            "default_time_scale": self.default_scale,
            "load_profiles": list(LOAD_PROFILES),
            "active_run": active,
            "stream": {"seq": seq, "buffer": self.stream.size, "websocket": "/api/stream", "sse": "/api/stream"},
        }

    # -- runs ----------------------------------------------------------------------------------
    def _new_id(self) -> str:
        while True:
            test_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
            if test_id not in self._runs:
                return test_id

    def start(self, name: str, options: RunOptions) -> Run:
        """Validate the scenario and start it in the background (``RunInProgress`` when one is going)."""
        if options.load not in LOAD_PROFILES:
            raise InputError(f"load profile '{options.load}' — use one of {', '.join(LOAD_PROFILES)}")
        scale = options.time_scale
        if scale is not None and not (math.isfinite(scale) and 0 < scale <= 1):
            raise InputError(f"time_scale: {shown(scale)} — allowed: 0 < time_scale ≤ 1")
        scenario = options.recorded(self.files.load(name))
        with self._lock:
            if self._closed:
                raise RunInProgress("the dashboard is shutting down — no new runs")
            active = self._active
            if active is not None:
                raise RunInProgress(
                    f"run {active.test_id} ({active.name}) is still going on this stack — one run at a time: wait "
                    f"for it to finish or stop it (POST /api/stop/{active.test_id})"
                )
            run = Run(self._new_id(), scenario.path.stem, scenario.path.name, options, scenario)
            run.time_scale = resolve_time_scale(options.time_scale, [scenario.time_scale], self.default_scale)
            self._runs[run.test_id] = run
            self._active = run
            self._publish_run(run)
            run.thread = threading.Thread(target=self._execute, args=(run,), name=f"run-{run.test_id}", daemon=True)
            run.thread.start()
        return run

    def _publish_run(self, run: Run) -> None:
        data: dict[str, Any] = {"scenario": run.name, "status": run.status, "phase": run.phase}
        if run.phase == "queued":
            data["options"] = run.options.to_json()
        if run.error:
            data["error"] = run.error
        self.stream.publish("run", data, run.test_id)

    def _set_phase(self, run: Run, phase: str) -> None:
        with self._lock:
            run.phase = phase
            self._publish_run(run)

    def _log(self, run: Run, level: str, message: str) -> None:
        level = level if level in LOG_LEVELS else "INFO"
        entry = {"t": round(time.time() - run.created_at, 3), "level": level, "message": message}
        with self._lock:
            run.log_omitted += len(run.log) == LOG_LIMIT
            run.log.append(entry)
            self.stream.publish("log", entry, run.test_id)
        if self.echo is not None:
            self.echo(run.test_id, level, message)

    def _on_event(self, run: Run, event: Event) -> None:
        try:
            origin = run.origin if run.origin is not None else event.t
            doc = event.to_json(origin)
            with self._lock:
                run.events.append(doc)
                self.stream.publish("event", doc, run.test_id)
                if event.kind in ("fault", "revert"):
                    self.stream.publish("status", run.progress(), run.test_id)
            if run.options.verbose:
                self._log(run, "INFO", event_line(doc))
        except Exception as exc:  # noqa: BLE001 - a listener must never break the recorder thread
            self._log(run, "ERROR", f"(internal) event not streamed: {type(exc).__name__}: {exc}")

    def _scenario_for(self, run: Run) -> Scenario:
        assert run.scenario is not None
        profile = LOAD_PROFILES[run.options.load]
        if profile is None:
            return run.scenario
        return dataclasses.replace(run.scenario, load=dict(profile) if profile else None)

    def _execute(self, run: Run) -> None:
        try:
            scale = float(run.time_scale or self.default_scale)
            if not self.stack.ready_at(scale):
                self._set_phase(run, "starting stack")
                self._log(run, "INFO", f"waiting for the embedded stack at time scale {scale:g}")
            stack = self.stack.ensure(scale)
            if run.stop_event.is_set():
                raise _StoppedEarly
            (result,) = run_scenarios(
                [self._scenario_for(run)],
                SharedStack(stack),
                log=lambda _name, level, message: self._log(run, level, message),
                stop=run.stop_event,
                around=partial(self._streaming, run),
                output=RunOutput(self._run_dir(run.test_id), verbose=run.options.verbose),
            )
            self._conclude(run, result, stack)
        except _StoppedEarly:
            with self._lock:
                run.error = "stopped before the scenario started (no fault was applied)"
                self._finish(run, "stopped")
        except Exception as exc:  # noqa: BLE001 - any failure of a run is reported as its error, never lost
            message = f"{type(exc).__name__}: {exc}"
            self._log(run, "ERROR", message)
            with self._lock:
                run.error = message
                self._finish(run, "error")

    @contextlib.contextmanager
    def _streaming(self, run: Run, runner: ScenarioRunner) -> Iterator[None]:
        """While ``runner`` runs ``run``: its timeline events go to the stream, its phase is ``running``, a
        trading-bot run's events and event-chaos counters are sampled (:class:`LiveBot`)."""
        run.origin = None

        def listener(event: Event) -> None:
            if run.origin is None:
                run.origin = runner.timeline.origin
            self._on_event(run, event)

        runner.timeline.listeners.append(listener)
        self._set_phase(run, "running")
        with self._lock:
            self.stream.publish("status", run.progress(), run.test_id)
        with LiveBot(lambda: runner.session, partial(self._on_bot_sample, run)):
            yield

    def _on_bot_sample(self, run: Run, sample: dict[str, Any]) -> None:
        """A live sample of a trading-bot run: into its state and a ``status`` message."""
        try:
            with self._lock:
                if run.finished:
                    return
                run.live_bot = sample
                self.stream.publish("status", run.progress(), run.test_id)
        except Exception as exc:  # noqa: BLE001 - the sampler must never end the run
            self._log(run, "ERROR", f"(internal) bot sample not streamed: {type(exc).__name__}: {exc}")

    def _conclude(self, run: Run, result: ScenarioResult, stack: Stack) -> None:
        """Write the run's reports (and its recording), stream its assertions, and finish it."""
        self._set_phase(run, "reporting")
        doc = self._report_doc(run, result.to_json())
        scenario = run.scenario
        bot_only = scenario is not None and scenario.drives_bot and not scenario.expect.must_fire
        if run.options.records and not bot_only:  # a bot scenario's recording is its events (the runner's)
            self._record(run, result, stack)
        self._write_reports(run, doc)
        with self._lock:
            run.report = doc
            run.assertions = list(doc["assertions"]["results"])
            run.error = str(doc.get("error") or "")
            for assertion in run.assertions:
                self.stream.publish("assertion", assertion, run.test_id)
            self._finish(run, str(doc["status"]))

    def _finish(self, run: Run, status: str) -> None:
        """Mark the run over, free the stack for the next run, then tell the stream (under the lock)."""
        run.status = status
        run.phase = "finished"
        run.finished_at = time.time()
        if self._active is run:
            self._active = None
        self.stream.publish("status", run.progress(), run.test_id)
        self._publish_run(run)
        if self.echo is not None:
            passed, total = run.assertion_counts()
            self.echo(run.test_id, "SUCCESS" if status == "passed" else "WARNING", f"{status} ({passed}/{total})")

    def _report_doc(self, run: Run, doc: dict[str, Any]) -> dict[str, Any]:
        doc["path"] = run.file
        doc["test_id"] = run.test_id
        doc["options"] = run.options.to_json()
        doc["created_at"] = run.created_at
        doc["finished_at"] = time.time()
        doc["dashboard_log"] = list(run.log)
        doc["dashboard_log_omitted"] = run.log_omitted
        if doc.get("error"):
            doc["error"] = self.files.relative(str(doc["error"]), Path(run.file))
        if doc.get("recording"):
            doc["recording"] = self._recording_file(run, Path(str(doc["recording"])))
        return doc

    def _recording_file(self, run: Run, path: Path) -> str:
        """Where the run's event recording went, relative to the run's directory (served as
        ``/api/report/<test_id>.events``); only its name when a scenario wrote it elsewhere."""
        directory = self._run_dir(run.test_id).resolve()
        try:
            relative = path.resolve().relative_to(directory)
        except ValueError:
            return path.name
        if path.is_file():
            run.files["events"] = directory / relative
        return relative.as_posix()

    def _run_dir(self, test_id: str) -> Path:
        return self.report_dir / "dashboard" / test_id

    def _write_reports(self, run: Run, doc: dict[str, Any]) -> None:

        directory = self._run_dir(run.test_id)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "report.json").write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
        (directory / "report.html").write_text(render_html([doc]), encoding="utf-8")
        run.files.update(json=directory / "report.json", html=directory / "report.html")

    def _record(self, run: Run, result: ScenarioResult, stack: Stack) -> None:
        """Turn the live run into a promtool test file next to the reports (``scenario record``'s fixture)."""

        if not result.alerts or all(t.firing_at is None for t in result.alerts):
            self._log(run, "WARNING", "recording: no expected alert fired — nothing to record")
            return
        directory = self._run_dir(run.test_id)
        directory.mkdir(parents=True, exist_ok=True)
        output = directory / "recorded.yml"
        try:
            fixture = build_fixture(
                result,
                stack.prometheus(),
                self.contract,
                self.contract.files.rule_files(),
                scrape_interval=self.contract.stack.scrape_interval,
                time_scale=stack.time_scale,
                output=output,
            )
            header = f"# Recorded by the obs-tests dashboard (run {run.test_id}) — a live run as a promtool test.\n"
            output.write_text(header + yaml.safe_dump(fixture, sort_keys=False, width=200), encoding="utf-8")
            done = run_tool(["promtool", "test", "rules", str(output)], timeout=120)
        except ObsTestsError as exc:
            self._log(run, "ERROR", f"recording failed: {exc}")
            return
        run.files["yml"] = output
        if done.returncode == 0:
            self._log(run, "SUCCESS", "recording: promtool test rules passes on the recorded fixture")
        else:
            self._log(run, "ERROR", f"recording: the recorded fixture fails promtool: {done.output[-500:]}")

    def _get(self, test_id: str) -> Run:
        if not isinstance(test_id, str) or not _TEST_ID.match(test_id):
            raise InputError(f"test id {test_id[:40]!r}: test ids look like 20261122-081618-a1b2c3")
        with self._lock:
            run = self._runs.get(test_id)
        if run is None:
            raise UnknownRun(f"no run {test_id} — see GET /api/runs")
        return run

    def status(self, test_id: str) -> dict[str, Any]:
        """The run's status document, with the stream position it reflects (``seq``)."""
        run = self._get(test_id)
        with self._lock:
            doc = run.state()
            doc["seq"] = self.stream.seq
        return doc

    def stop(self, test_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Stop the run, wait until its faults are reverted and it ended; its status document."""
        run = self._get(test_id)
        if run.finished:
            raise RunFinished(f"run {test_id} already finished ({run.status}) — nothing to stop")
        self._log(run, "WARNING", "stop requested: ending the run and reverting its faults")
        run.stop_event.set()
        if run.thread is not None:
            run.thread.join(self.stop_timeout if timeout is None else timeout)
        doc = self.status(test_id)
        ended = doc["status"] != "running"
        doc["stopped"] = ended
        doc["faults_reverted"] = ended and not doc["chaos"]["active"] and not doc["chaos"]["revert_failed"]
        return doc

    def runs(self, limit: int = 100) -> dict[str, Any]:
        """The newest runs first (live and past), with the stream position."""
        with self._lock:
            ordered = sorted(self._runs.values(), key=lambda r: (r.created_at, r.test_id), reverse=True)
            return {
                "seq": self.stream.seq,
                "active_run": self._active.test_id if self._active is not None else None,
                "runs": [r.summary() for r in ordered[:limit]],
            }

    def report(self, test_id: str, fmt: str) -> tuple[bytes, str]:
        """A report of a finished run: json, html, svg (the timeline chart), yml (the promtool recording) or
        events (a trading-bot run's event recording)."""

        if fmt not in REPORT_FORMATS:
            raise InputError(f"report format '{fmt[:20]}' — use one of {', '.join(REPORT_FORMATS)}")
        run = self._get(test_id)
        if not run.finished or run.report is None:
            if not run.finished:
                raise ReportNotReady(
                    f"run {test_id} is still going — its reports are written when it ends", running=True
                )
            raise ReportNotReady(f"run {test_id} ended without a report ({run.error or run.status})", running=False)
        if fmt == "svg":
            return render_timeline_svg(run.report).encode(), REPORT_FORMATS[fmt]
        path = run.files.get(fmt)
        if path is None or not path.is_file():
            what = {
                "yml": "no promtool recording (run a scenario with must_fire alerts with recording: true)",
                "events": "no event recording (run a trading-bot scenario with recording: true)",
            }.get(fmt, f"no {fmt} report")
            raise ReportNotReady(f"run {test_id} has {what}", running=False)
        return path.read_bytes(), REPORT_FORMATS[fmt]

    def _load_history(self) -> None:
        root = self.report_dir / "dashboard"
        if not root.is_dir():
            return
        for directory in sorted(root.iterdir())[-HISTORY_LIMIT:]:
            path = directory / "report.json"
            if not _TEST_ID.match(directory.name) or not path.is_file():
                continue
            try:
                doc = json.loads(read_text(path, error=InputError))  # our own report: NaN is allowed there
                files = {fmt: directory / name for fmt, name in (("json", "report.json"), ("html", "report.html"))}
                if (directory / "recorded.yml").is_file():
                    files["yml"] = directory / "recorded.yml"
                recorded = (directory / str(doc.get("recording") or ".")).resolve()
                if recorded.is_relative_to(directory.resolve()) and recorded.is_file():
                    files["events"] = recorded
                self._runs[directory.name] = Run.from_report(directory.name, doc, files)
            except (InputError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
                if self.echo is not None:
                    self.echo("", "WARNING", f"history: skipping {path}: {exc}")

    # -- shutdown --------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the active run (its faults reverted), then the stack. Idempotent."""
        with self._lock:
            self._closed = True
            active = self._active
        self.stack.abort()  # a stack still starting stops at once instead of when it is ready
        if active is not None:
            self._log(active, "WARNING", "the dashboard is shutting down: stopping the run")
            active.stop_event.set()
            if active.thread is not None:
                active.thread.join(self.stop_timeout)
        self.stack.close()


class _StoppedEarly(Exception):
    """The run was stopped while it waited for the stack."""
