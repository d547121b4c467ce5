"""The dashboard's embedded stack: started in the background when the server starts (or at the first
run), restarted at another time scale when a run asks for one, stopped with the server.

Every change of its state (``starting``, ``ready``, ``error``, ``stopped``) is published to the live
:class:`~obs_tests.web.stream.Stream` as a ``stack`` message, under the lock the run manager publishes
with, so a snapshot and the stream position it carries agree.

Example::

    stack = DashboardStack(contract, scale=0.01, stream=Stream())
    stack.start_in_background()
    running = stack.ensure(0.02)        # waits for the start, or restarts it at 0.02
    stack.info()["state"]               # ready
    stack.abort(); stack.close()        # a start in progress ends at once, then the stack stops
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from obs_tests.config.contract import Contract
from obs_tests.errors import ObsTestsError
from obs_tests.stack import EmbeddedStack
from obs_tests.web.stream import Stream

__all__ = ["DashboardStack"]

#: ``echo(test id, level, message)``: the server's console
EchoFn = Callable[[str, str, str], None]


class DashboardStack:
    """One stack for the dashboard's runs; see the module docstring. ``make(scale)`` builds an unstarted
    stack (default: an embedded one that leaves the signals to the server)."""

    def __init__(
        self,
        contract: Contract,
        *,
        scale: float,
        stream: Stream,
        lock: threading.RLock | None = None,
        echo: EchoFn | None = None,
        make: Callable[[float], EmbeddedStack] | None = None,
    ) -> None:
        self.contract = contract
        self.default_scale = scale
        self.stream = stream
        self.echo = echo
        self.stack: EmbeddedStack | None = None
        self.state = "stopped"
        self.message = "not started (it starts with the first run)"
        self.scale = scale
        self._make = make or self._embedded
        self._lock = lock or threading.RLock()
        self._start_lock = threading.Lock()  # one start (or restart) at a time
        self._thread: threading.Thread | None = None
        self._starting: EmbeddedStack | None = None  # the stack being started (abort() ends its start)
        self._closed = False

    def _embedded(self, scale: float) -> EmbeddedStack:
        return EmbeddedStack(self.contract, time_scale=scale, origin="dashboard", handle_signals=False)

    def start_in_background(self) -> None:
        """Start the stack at the default time scale in a thread (once); a failure shows in its state."""
        if self._thread is not None:
            return

        def start() -> None:
            with contextlib.suppress(ObsTestsError):
                self.ensure(self.default_scale)

        self._thread = threading.Thread(target=start, name="obs-dashboard-stack", daemon=True)
        self._thread.start()

    def ready_at(self, scale: float) -> bool:
        """Whether the stack runs, ready, at ``scale``."""
        return self.stack is not None and self.state == "ready" and self.scale == scale

    def ensure(self, scale: float) -> EmbeddedStack:
        """The running stack at ``scale``: started, or restarted at that scale (one caller at a time)."""
        with self._start_lock:
            if self._closed:
                raise ObsTestsError("the dashboard is shutting down")
            if self.stack is not None and self.ready_at(scale):
                return self.stack
            if self.stack is not None:
                self._set("starting", scale, f"restarting at time scale {scale:g} (was {self.scale:g})")
                self.stack.close()
                self.stack = None
            else:
                self._set("starting", scale, f"starting at time scale {scale:g}")
            stack = self._make(scale)
            self._starting = stack
            if self._shutting_down():  # since the check above: abort() may have missed this stack
                stack.abort()
            try:
                stack.__enter__()
            except ObsTestsError as exc:
                if self._shutting_down():
                    self._set("stopped", scale, "start aborted: the dashboard is shutting down")
                else:
                    self._set("error", scale, f"{type(exc).__name__}: {exc}")
                raise
            finally:
                self._starting = None
            self.stack = stack
            self._set("ready", scale, f"{len(stack.components)} components at time scale {scale:g}")
            return stack

    def links(self) -> dict[str, str | None]:
        """Prometheus' alerts and targets pages and Alertmanager's API, once the stack is ready."""
        links: dict[str, str | None] = {"prometheus_alerts": None, "prometheus_targets": None, "alertmanager_api": None}
        stack = self.stack
        if stack is not None and self.state == "ready":
            prom = stack.url("prometheus")
            links["prometheus_alerts"] = f"{prom}/classic/alerts"
            links["prometheus_targets"] = f"{prom}/classic/targets"
            if stack.alertmanager_url:
                links["alertmanager_api"] = f"{stack.alertmanager_url}/api/v2/alerts"
        return links

    def info(self) -> dict[str, Any]:
        """State, time scale and components of the stack (process states, no probing)."""
        with self._lock:
            stack, state = self.stack, self.state
            info: dict[str, Any] = {"state": state, "time_scale": self.scale, "message": self.message}
        components = []
        if stack is not None and state == "ready":
            for name, proc in list(stack.processes.items()):
                if proc.pid is None:
                    status = "not started"
                elif not proc.running():
                    status = "exited"
                else:
                    status = "paused" if proc.paused else "running"
                components.append({"name": name, "state": status})
        info["components"] = components
        return info

    def abort(self) -> None:
        """No start from now on; a stack still starting stops at once instead of when it is ready."""
        self._closed = True
        starting = self._starting
        if starting is not None:
            starting.abort()

    def close(self) -> None:
        """Stop the stack (after a start in progress ended), without waiting forever for that."""
        self.abort()
        if self._start_lock.acquire(timeout=self.contract.stack.startup_timeout + 30):
            try:
                if self.stack is not None:
                    self.stack.close()
                    self.stack = None
                    self._set("stopped", self.scale, "stopped with the dashboard")
            finally:
                self._start_lock.release()
        elif self.stack is not None:
            self.stack.close()

    def _set(self, state: str, scale: float, message: str) -> None:
        with self._lock:
            self.state, self.scale, self.message = state, scale, message
            self.stream.publish("stack", {"state": state, "time_scale": scale, "message": message})
        if self.echo is not None:
            self.echo("", "ERROR" if state == "error" else "INFO", f"stack {state}: {message}")

    def _shutting_down(self) -> bool:
        """abort() has begun (read anew: another thread sets it)."""
        return self._closed
