"""No process of ours survives a run: normal exit, SIGTERM, SIGINT, SIGKILL of the owner, pytest killed —
and every CLI entry point interrupted at several moments leaves nothing (process, state file, temp dir)."""

from __future__ import annotations

import re
import signal
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.stack import EmbeddedStack
from obs_tests.stack.process import ProcessIdentity
from obs_tests.stack.state import list_records
from tests.web.helpers import Server, scenario_dir

from .helpers import (
    CONTRACT,
    ROOT,
    CliProcess,
    Isolated,
    assert_all_gone,
    env_with_state,
    identities,
    obs_tests,
    python,
    reap,
    wait_ready_record,
    write_paused_scenario,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow]

HOLD_STACK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from obs_tests.config.contract import load_contract
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
        f"--obs-contract={CONTRACT}",  # with =: as a separate argument it would be pytest's rootdir (a usage error)
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


# -- every entry point, interrupted at several moments, leaves nothing ----------------------------------
# Each command runs as a user runs it, in a child with a home, temp dir and process marker of its own
# (helpers.Isolated), and is signalled at an observed moment. Then: exit status 128 + signal, no process
# carrying its marker, no state file in the (default) state dir, nothing in its temp dir, faults reverted.


@pytest.fixture
def iso(tmp_path: Path) -> Iterator[Isolated]:
    isolated = Isolated(tmp_path)
    try:
        yield isolated
    finally:
        isolated.cleanup()


def _signal_and_finish(run: CliProcess, sig: signal.Signals) -> str:
    run.proc.send_signal(sig)
    code = run.finish()
    assert code == (-sig if sig == signal.SIGKILL else 128 + sig), run.output
    assert "Traceback" not in run.output, run.output
    if sig != signal.SIGKILL:
        assert run.lines[-1] == f"Interrupted ({sig.name}).", run.output
    return run.output


@pytest.mark.parametrize(
    ("moment", "sig"),
    [
        pytest.param("starting", signal.SIGINT, id="starting-SIGINT"),
        pytest.param("starting", signal.SIGTERM, id="starting-SIGTERM"),
        pytest.param("ready", signal.SIGINT, id="ready-SIGINT"),
        pytest.param("ready", signal.SIGTERM, id="ready-SIGTERM"),
    ],
)
def test_up_interrupted_leaves_nothing(iso: Isolated, moment: str, sig: signal.Signals) -> None:
    run = iso.start("up", "--no-warm-up")
    if moment == "starting":
        run.wait_until(iso.starting(run.pid), "the stack's processes started, not ready yet")
    else:
        run.wait_line("stack ready in")
    output = _signal_and_finish(run, sig)
    if moment == "starting":
        assert "start aborted, every process stopped" in output
    iso.assert_nothing_left()


@pytest.mark.parametrize(
    ("moment", "sig"),
    [
        pytest.param("spawned", signal.SIGINT, id="spawned-SIGINT"),
        pytest.param("starting", signal.SIGTERM, id="starting-SIGTERM"),
        pytest.param("starting", signal.SIGKILL, id="starting-SIGKILL"),
    ],
)
def test_up_detach_interrupted_while_starting_leaves_nothing(iso: Isolated, moment: str, sig: signal.Signals) -> None:
    """Interrupted before the stack is ready, `up --detach` stops its background supervisor and all it
    started. SIGKILLed, it cannot: the kernel sends its supervisor SIGTERM (until the stack is handed over),
    which stops the stack itself."""
    run = iso.start("up", "--detach", "--no-warm-up")
    if moment == "spawned":
        run.wait_line("starting stack")  # the supervisor is still importing
    else:
        run.wait_until(iso.starting(), "the stack's processes started, not ready yet")
    output = _signal_and_finish(run, sig)
    if sig != signal.SIGKILL:
        assert "start aborted, every process stopped" in output
    iso.assert_nothing_left()


@pytest.mark.parametrize(
    ("moment", "sig"),
    [
        pytest.param("starting", signal.SIGTERM, id="starting-SIGTERM"),
        pytest.param("fault", signal.SIGINT, id="fault-SIGINT"),
        pytest.param("fault", signal.SIGTERM, id="fault-SIGTERM"),
        pytest.param("fault", signal.SIGKILL, id="fault-SIGKILL-down-all"),
    ],
)
def test_scenario_run_interrupted_leaves_nothing(
    iso: Isolated, tmp_path: Path, moment: str, sig: signal.Signals
) -> None:
    scenario = write_paused_scenario(tmp_path, "pause-exchange", "exchange")
    run = iso.start("scenario", "run", "--report-dir", str(tmp_path / "reports"), str(scenario))
    if moment == "starting":
        run.wait_until(iso.starting(run.pid), "the stack's processes started, not ready yet")
    else:
        run.wait_line("fault applied: pause-exchange")
    output = _signal_and_finish(run, sig)
    if sig == signal.SIGKILL:  # nothing could run: the kernel killed the stack, `down --all` reaps the rest
        down = iso.run("down", "--all", cwd=tmp_path)
        assert down.returncode == 0 and "reaped stale stack" in down.stdout, down.stdout + down.stderr
    elif moment == "fault":
        assert "fault reverted: pause-exchange" in output
    iso.assert_nothing_left()


CHECK_ARGS = (
    "check",
    "--scenario-stacks",
    "2",
    "-k",
    "test_scenario and (gateway-high-latency or nats-publish-failures) or test_metric_present",
)


@pytest.mark.parametrize(
    ("moment", "sig"),
    [
        pytest.param("starting", signal.SIGINT, id="starting-SIGINT"),
        pytest.param("running", signal.SIGTERM, id="running-SIGTERM"),
    ],
)
def test_check_interrupted_leaves_nothing(iso: Isolated, tmp_path: Path, moment: str, sig: signal.Signals) -> None:
    """Scenarios run on 2 stacks of their own while other checks run on the session's stack: a signal
    while they start, or once all three run, stops all three."""
    run = iso.start(*CHECK_ARGS, "--report-dir", str(tmp_path / "reports"))
    if moment == "starting":
        run.wait_until(iso.starting(run.pid), "a stack's processes started, not ready yet")
    else:
        run.wait_until(iso.ready(3, run.pid), "the session's stack and 2 scenario stacks ready")
    _signal_and_finish(run, sig)
    iso.assert_nothing_left()


def test_check_from_the_repository_is_found_by_status_and_reaped_by_down_all(iso: Isolated, tmp_path: Path) -> None:
    """Run from the repository root (whose tests/conftest.py must not reach the product's run), the
    check's 3 stacks are in the default state dir: `status` from another directory lists them, and after
    a SIGKILL `down --all` from there reaps every one — no process, state file or workdir left."""
    run = iso.start(*CHECK_ARGS, "--report-dir", str(tmp_path / "reports"), cwd=ROOT)
    records = run.wait_until(iso.ready(3, run.pid), "the session's stack and 2 scenario stacks ready")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    status = iso.run("status", cwd=elsewhere)
    assert status.returncode in (0, 1), status.stdout + status.stderr  # 3: "no obs-tests stack is running"
    listed = set(re.findall(r"^stack (\w+) +owner pid (\d+) ", status.stdout, re.M))
    # a scenario stack is closed once its scenario is done: at least the others are still listed
    assert len(listed) >= 2 and listed <= {(r.id, str(run.pid)) for r in records}, status.stdout
    _signal_and_finish(run, signal.SIGKILL)
    left = list_records(iso.state)
    assert len(left) >= 2
    down = iso.run("down", "--all", cwd=elsewhere)
    assert down.returncode == 0, down.stdout + down.stderr
    assert sorted(re.findall(r"reaped stale stack (\w+)", down.stdout)) == sorted(r.id for r in left), down.stdout
    iso.assert_nothing_left()


@pytest.mark.parametrize(
    ("moment", "sig"),
    [
        pytest.param("starting", signal.SIGINT, id="starting-SIGINT"),
        pytest.param("ready", signal.SIGTERM, id="ready-SIGTERM"),
        pytest.param("running", signal.SIGINT, id="scenario-running-SIGINT"),
    ],
)
def test_serve_interrupted_leaves_nothing(iso: Isolated, tmp_path: Path, moment: str, sig: signal.Signals) -> None:
    """The dashboard: while its stack starts, once it is ready, and with a scenario holding a fault
    (SIGTERM mid-run: tests/web/test_serve_cli.py)."""
    scenarios = scenario_dir(tmp_path / "scenarios", real=(), fixtures=("long-pause",))
    env = {k: iso.env[k] for k in ("HOME", "TMPDIR", "OBS_TESTS_SESSION")} | {"OBS_STATE_DIR": str(iso.state)}
    server = Server(scenarios, tmp_path / "reports", env=env)
    try:
        if moment == "starting":
            wait_for(iso.starting(server.proc.pid), timeout=60, interval=0.05, expected="the stack starting")
        else:
            server.wait_stack("ready")
        if moment == "running":
            server.wait_fault_active(server.run("long-pause", load="none"))
        server.proc.send_signal(sig)
        server.proc.wait(90)
    except BaseException:
        server.kill()
        raise
    assert server.stop() == 128 + sig, server.output
    assert server.lines[-1] == f"Interrupted ({sig.name}).", server.output
    if moment == "starting":  # not when it is ready
        assert "stack stopped: start aborted: the dashboard is shutting down" in server.output
    if moment == "running":
        assert "fault reverted: pause-exchange" in server.output
    iso.assert_nothing_left()


def test_a_close_during_another_threads_close_returns_when_it_is_done(tmp_path: Path) -> None:
    """The main thread, about to exit after an interrupt, closes a stack a pool thread is already closing:
    it must return only once that close is done, or the process can exit with the stack's working
    directory half removed (one way test_check_interrupted_leaves_nothing[running-SIGTERM] can leave a
    directory behind, which it did once in CI)."""
    stack = EmbeddedStack(load_contract(CONTRACT), state_dir=tmp_path / "state", warm_up=False)
    try:
        stack.start()
        workdir = stack.workdir
        other = threading.Thread(target=stack.close)
        other.start()
        wait_for(
            lambda: Poll(stack._closed, stack._closed),
            timeout=10, interval=0.001, expected="the other thread closing the stack",
        )  # fmt: skip
        stack.close()
        assert not workdir.exists(), sorted(str(p) for p in workdir.rglob("*"))[:10]
        other.join(timeout=30)
        assert not other.is_alive()
    finally:
        stack.close()
