"""What load to run — a :class:`LoadSpec`, validated — and the Locust command lines and environment that run it:
one headless process, or a master and its workers, writing their stats with ``--json-file`` and finishing every
request a user started (``--stop-timeout``) so each is counted.

Example::

    spec = LoadSpec(users=50, duration=20, workers=2)
    spec.validate()
    master_argv(spec, "http://127.0.0.1:8080", Path("run/stats.json"), master_port=5557)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from obs_tests.errors import UsageError
from obs_tests.stack.process import environ_copy

__all__ = ["DEFAULT_LOCUSTFILE", "SHAPES", "LoadSpec", "locust_env", "locustfiles", "master_argv", "worker_argv"]

DEFAULT_LOCUSTFILE = Path(__file__).resolve().parents[2] / "load" / "locustfile.py"
SHAPES = ("step", "spike", "soak")


@dataclass(frozen=True)
class LoadSpec:
    """What load to run. ``shape`` picks ``load/shapes/<shape>.py`` (then users/duration come from the
    shape and its ``shape_env``); ``workers`` > 0 runs a master and that many workers. ``requests`` > 0
    stops Locust once that many requests were sent (per Locust process; ``duration`` stays the cap)."""

    users: int = 10
    spawn_rate: float | None = None
    duration: float = 10.0
    shape: str | None = None
    shape_env: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    malformed_ratio: float = 0.05
    burst_size: int = 20
    think_time: float = 0.0
    requests: int = 0
    workers: int = 0
    stop_timeout: float = 30.0
    locustfile: Path | None = None
    metrics: bool = True
    extra_args: tuple[str, ...] = ()

    def validate(self) -> None:
        """Refuse specs Locust would choke on, with the field and the fix."""
        if self.users < 1 and self.shape is None:
            raise UsageError(f"load.users: {self.users} — at least 1 user")
        if self.duration <= 0 and self.shape is None:
            raise UsageError(f"load.duration: {self.duration} — a positive number of seconds")
        if not 0.0 <= self.malformed_ratio <= 1.0:
            raise UsageError(f"load.malformed_ratio: {self.malformed_ratio} — between 0 and 1")
        if self.shape is not None and self.shape not in SHAPES:
            raise UsageError(f"load.shape: unknown shape '{self.shape}' — known: {', '.join(SHAPES)}")
        if self.workers < 0:
            raise UsageError(f"load.workers: {self.workers} — 0 (one process) or more")
        if self.requests < 0:
            raise UsageError(f"load.requests: {self.requests} — 0 (no limit) or a number of requests")


def locustfiles(spec: LoadSpec) -> str:
    """Locust's ``-f``: the locustfile, and the shape's file beside it (``shapes/<shape>.py``)."""
    base = spec.locustfile or DEFAULT_LOCUSTFILE
    if not base.is_file():
        raise UsageError(f"locustfile {base} not found — pass LoadSpec(locustfile=...)")
    files = [str(base)]
    if spec.shape:
        files.append(str(base.parent / "shapes" / f"{spec.shape}.py"))
    return ",".join(files)


def locust_env(
    spec: LoadSpec, extra: Mapping[str, str], *, sending_file: Path, targets_file: Path | None
) -> dict[str, str]:
    """The environment of every Locust process: the locustfile's settings from ``spec``, then ``extra``; the
    file it creates on its first request; where it announces its metrics endpoint (``targets_file``)."""
    env = {
        **environ_copy(),
        "OBS_MALFORMED_RATIO": str(spec.malformed_ratio),
        "OBS_BURST_SIZE": str(spec.burst_size),
        "OBS_THINK_TIME": str(spec.think_time),
        "OBS_MAX_REQUESTS": str(spec.requests),
        "OBS_LOCUST_METRICS_PORT": "0" if spec.metrics else "-1",
        **{k: str(v) for k, v in spec.shape_env.items()},
        **extra,
    }
    env["OBS_LOAD_SENDING_FILE"] = str(sending_file)
    # obs-tests reports the run itself (LoadResult.report): the locustfile prints its table without waiting on
    # a Prometheus
    env["OBS_LOAD_REPORT_PROMETHEUS"] = "off"
    # announced where this run says, never to a stack found by --host (that is for runs by hand)
    env["OBS_LOAD_TARGETS_FILE"] = str(targets_file) if targets_file is not None and spec.metrics else ""
    return env


def master_argv(spec: LoadSpec, host: str, stats_file: Path, master_port: int | None) -> list[str]:
    """The headless Locust process (the master when ``master_port`` is given) writing ``stats_file``."""
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        locustfiles(spec),
        "--headless",
        "--host",
        host,
        "--json-file",
        str(stats_file.with_suffix("")),
        "--only-summary",
        "--stop-timeout",
        f"{spec.stop_timeout:g}",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
    ]
    if spec.shape is None:
        argv += ["-u", str(spec.users), "-r", f"{spec.spawn_rate or spec.users:g}", "-t", f"{spec.duration:g}s"]
    if spec.tags:
        argv += ["--tags", *spec.tags]
    if master_port is not None:
        argv += [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(master_port),
            "--expect-workers",
            str(spec.workers),
            "--expect-workers-max-wait",
            "30",
        ]
    return argv + list(spec.extra_args)


def worker_argv(spec: LoadSpec, master_port: int | None) -> list[str]:
    """A Locust worker connecting to its master on ``master_port``."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        locustfiles(spec),
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(master_port),
        "--loglevel",
        "WARNING",
    ]
