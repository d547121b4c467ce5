"""No process of ours survives a run: normal exit, SIGTERM, SIGINT, SIGKILL of the owner, pytest killed."""

from __future__ import annotations

import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from obs_tests.stack.process import ProcessIdentity
from obs_tests.stack.state import list_records
from obs_tests.waiting import Poll, wait_for

from .helpers import (
    CONTRACT,
    assert_all_gone,
    env_with_state,
    identities,
    obs_tests,
    python,
    reap,
    wait_ready_record,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow]

HOLD_STACK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from obs_tests.contract import load_contract
    from obs_tests.stack import EmbeddedStack
    with EmbeddedStack(load_contract(Path(sys.argv[1])), warm_up=False) as stack:
        print("PIDS", *(p.identity().pid for p in stack.processes.values()), flush=True)
        print("IDENTS", *(p.identity().start_time for p in stack.processes.values()), flush=True)
        if sys.argv[2] == "exit":
            sys.exit(0)
        if sys.argv[2] == "raise":
            raise RuntimeError("boom")
        time.sleep(600)
    """
)


def _run_holder(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], Path]:
    state = tmp_path / "state"
    proc = python("-c", HOLD_STACK, str(CONTRACT), mode, env=env_with_state(state))
    return proc, state


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_owner_tears_down(tmp_path: Path, sig: signal.Signals) -> None:
    proc, state = _run_holder(tmp_path, "hold")
    try:
        record = wait_ready_record(state, proc.pid)
        idents = identities(record)
        assert len(idents) == len(record.components) >= 14
        proc.send_signal(sig)
        proc.wait(timeout=30)
        assert_all_gone(idents)
        assert list_records(state) == []
        assert not Path(record.workdir).exists()
    finally:
        reap(proc)


@pytest.mark.parametrize("mode", ["exit", "raise"])
def test_normal_exit_and_exception_tear_down(tmp_path: Path, mode: str) -> None:
    proc, state = _run_holder(tmp_path, mode)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == (0 if mode == "exit" else 1), out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("PIDS", "IDENTS"))}
    idents = [ProcessIdentity(int(p), int(t)) for p, t in zip(lines["PIDS"], lines["IDENTS"], strict=True)]
    assert len(idents) >= 14
    assert_all_gone(idents, timeout=1)
    assert list_records(state) == []
    if mode == "raise":
        assert "RuntimeError: boom" in out


def test_owner_sigkilled_children_die_and_down_reaps_state(tmp_path: Path) -> None:
    proc, state = _run_holder(tmp_path, "hold")
    try:
        record = wait_ready_record(state, proc.pid)
        idents = identities(record)
        proc.kill()
        proc.wait()
        assert_all_gone(idents)  # parent-death signal: the kernel killed them
        assert [r.id for r in list_records(state)] == [record.id]  # stale record left behind
        result = obs_tests("down", "--state-dir", str(state), env=env_with_state(state))
        assert result.returncode == 0, result.stderr
        assert f"reaped stale stack {record.id}" in result.stdout
        assert list_records(state) == []
        assert not Path(record.workdir).exists()
    finally:
        assert proc.stdout is not None
        proc.stdout.close()


PYTEST_HOLD = textwrap.dedent(
    """
    import pathlib, time

    def test_hold(stack):
        pathlib.Path("holding").touch()
        time.sleep(600)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_pytest_mid_session_tears_down(tmp_path: Path, sig: signal.Signals) -> None:
    test_file = tmp_path / "test_hold.py"
    test_file.write_text(PYTEST_HOLD)
    state = tmp_path / "state"
    proc = python(
        "-m",
        "pytest",
        str(test_file),
        "-p",
        "no:cacheprovider",
        "-q",
        "--obs-contract",
        str(CONTRACT),
        env=env_with_state(state),
        cwd=tmp_path,
    )
    try:
        record = wait_ready_record(state, proc.pid)
        idents = identities(record)
        # mid-test: a signal landing inside pytest's own hooks (between the stack's setup and the test)
        # is pytest's INTERNALERROR, not the teardown under test
        holding = tmp_path / "holding"
        wait_for(lambda: Poll(holding.exists(), None), timeout=30, expected="the test holding the stack")
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
        assert_all_gone(idents)
        assert list_records(state) == []
    finally:
        reap(proc)
