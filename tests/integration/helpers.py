"""Helpers for integration tests that run obs-tests in child processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from obs_tests.stack.process import ProcessIdentity
from obs_tests.stack.state import StackRecord, list_records
from obs_tests.waiting import Poll, wait_for

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "obs.yaml"


def env_with_state(state_dir: Path) -> dict[str, str]:
    return {**os.environ, "OBS_STATE_DIR": str(state_dir), "OBS_CONTRACT": str(CONTRACT)}


def wait_ready_record(state_dir: Path, owner_pid: int | None = None, timeout: float = 60) -> StackRecord:
    """Wait for a ready stack record (of ``owner_pid`` if given) in ``state_dir``."""

    def probe() -> Poll[StackRecord | None]:
        records = [r for r in list_records(state_dir) if owner_pid is None or r.owner_pid == owner_pid]
        ready = [r for r in records if r.ready]
        return Poll(bool(ready), ready[0] if ready else None, f"records: {[(r.id, r.ready) for r in records]}")

    record = wait_for(probe, timeout=timeout, interval=0.1, expected="a ready stack in the state dir")
    assert record is not None
    return record


def identities(record: StackRecord) -> list[ProcessIdentity]:
    out = [c.identity() for c in record.components.values()]
    return [i for i in out if i is not None]


def assert_all_gone(idents: list[ProcessIdentity], timeout: float = 15) -> None:
    """Every listed process exits within ``timeout`` (a leak fails the test)."""

    def probe() -> Poll[list[int]]:
        alive = [i.pid for i in idents if i.alive()]
        return Poll(not alive, alive, f"still alive: {alive}")

    wait_for(probe, timeout=timeout, interval=0.05, expected="every stack process gone")


def python(*args: str, env: dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kwargs,  # type: ignore[call-overload]
    )


def reap(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc`` if it still runs (a test's ``finally``), wait for it and close its stdout."""
    proc.kill()
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


def obs_tests(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the CLI; past ``timeout`` it gets SIGTERM (so it tears its stack down), then the test fails."""
    argv = [sys.executable, "-m", "obs_tests.cli", *args]
    with subprocess.Popen(argv, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                out, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            raise AssertionError(
                f"obs-tests {' '.join(args)} still running after {timeout:g}s (stopped with SIGTERM):\n{out}\n{err}"
            ) from None
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


PAUSED = """\
name: {name}
components: [{target}]
chaos:
  - {{name: pause-{target}, kind: pause, target: {target}, at: 0.2}}
steps:
  - wait_for_time: 120
"""


def write_paused_scenario(directory: Path, name: str, target: str) -> Path:
    """``<directory>/<name>.yaml``: a scenario that pauses ``target`` and then waits two minutes (to be
    interrupted)."""
    path = directory / f"{name}.yaml"
    path.write_text(PAUSED.format(name=name, target=target), encoding="utf-8")
    return path
