"""Shared helpers for the project's own tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_OWN_STATE_DIR = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    # The suite fixtures (stack, prom, ...) validate the bundled contract; stacks started by the tests
    # record their state in a private directory so they never touch a user's running stacks. The session
    # removes that directory when it ends (pytest_unconfigure).
    os.environ.setdefault("OBS_CONTRACT", str(ROOT / "obs.yaml"))
    if not os.environ.get("OBS_STATE_DIR"):
        state_dir = Path(tempfile.mkdtemp(prefix="obs-tests-state-"))
        os.environ["OBS_STATE_DIR"] = str(state_dir)
        config.stash[_OWN_STATE_DIR] = state_dir
    # Every process the session starts inherits this marker; the leak check finds them by it.
    os.environ["OBS_TESTS_SESSION"] = uuid.uuid4().hex


def pytest_unconfigure(config: pytest.Config) -> None:
    state_dir = config.stash.get(_OWN_STATE_DIR, None)
    if state_dir is not None:
        shutil.rmtree(state_dir, ignore_errors=True)
        if os.environ.get("OBS_STATE_DIR") == str(state_dir):
            del os.environ["OBS_STATE_DIR"]


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No process of ours may outlive the test session: a leak fails the run."""
    import signal  # noqa: PLC0415

    from tests.procs import our_processes  # noqa: PLC0415

    leaked = our_processes()
    if not leaked:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"LEAKED PROCESS {pid}: {line[:200]}" for pid, line in leaked.items()]
    if reporter is not None:
        reporter.write_line("\n".join(lines), red=True)
    for pid in leaked:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
