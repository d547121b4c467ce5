"""Locust as users run it, and through obs_tests.workloads.loadgen: exit codes, shapes, distributed mode,
exact accounting at volume, clean stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.core.findings import format_findings
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.demo.accounting import format_key
from obs_tests.demo.workload import run_load_accounting
from obs_tests.errors import ToolError, UsageError, WaitTimeout
from obs_tests.stack import EmbeddedStack
from obs_tests.stack.process import pid_alive
from obs_tests.workloads import LoadRun, LoadSpec, run_load
from tests.procs import cmdline

from .helpers import ROOT, assert_all_gone

pytestmark = [pytest.mark.stack, pytest.mark.load, pytest.mark.slow]


def test_locust_cli_headless_exits_0(stack: EmbeddedStack, tmp_path: Path) -> None:
    """The headless command of docs/load.md, verbatim, against the embedded stack."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "load" / "locustfile.py"),
            "--headless",
            "-u",
            "50",
            "-r",
            "50",
            "-t",
            "20s",
            "--host",
            stack.url("gateway"),
            "--json-file",
            str(tmp_path / "stats"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"name": "signal"' in (tmp_path / "stats.json").read_text()


@pytest.mark.parametrize(
    ("shape", "env"),
    [
        ("step", {"OBS_STEP_USERS": "2", "OBS_STEP_SECONDS": "2", "OBS_STEP_MAX": "4"}),
        ("spike", {"OBS_SPIKE_BASE": "2", "OBS_SPIKE_PEAK": "10", "OBS_SPIKE_SECONDS": "2", "OBS_SPIKE_DURATION": "6"}),
        ("soak", {"OBS_SOAK_USERS": "3", "OBS_SOAK_RAMP": "1", "OBS_SOAK_SECONDS": "4"}),
    ],
)
def test_shapes(stack: EmbeddedStack, shape: str, env: dict[str, str]) -> None:
    result = run_load(LoadSpec(shape=shape, shape_env=env, stop_timeout=5), stack.url("gateway"))
    assert result.requests > 0 and result.failures == 0
    assert 3 < result.ended_at - result.started_at < 30


def test_distributed_two_workers_accounting_exact(stack: EmbeddedStack, prom: PrometheusClient) -> None:
    spec = LoadSpec(users=20, duration=8, workers=2, malformed_ratio=0.2, stop_timeout=15)
    run = run_load_accounting(prom, stack.url("gateway"), spec, targets_file=stack.load_targets)
    assert run.result.requests > 1000
    assert not run.findings, format_findings(run.findings)


def test_hundred_thousand_requests_zero_unaccounted(stack: EmbeddedStack, prom: PrometheusClient) -> None:
    """>= 100,000 mixed requests: the gateway counted every one, by status and reason."""
    spec = LoadSpec(
        users=64, duration=600, malformed_ratio=0.1, stop_timeout=30, extra_args=("--max-requests", "100000")
    )
    run = run_load_accounting(prom, stack.url("gateway"), spec, targets_file=stack.load_targets)
    print()
    for key in sorted(run.expected):
        moved = run.after.get(key, 0.0) - run.before.get(key, 0.0)
        print(f"  {format_key(key):<58} expected +{run.expected[key]:<7g} counted +{moved:g}")
    print(f"  {run.summary()}")
    assert run.result.requests >= 100_000
    assert not run.findings, format_findings(run.findings)


def test_exact_size_burst_stops_at_its_request_count(stack: EmbeddedStack) -> None:
    """LoadSpec(requests=N): Locust stops once N requests were sent, long before its duration cap."""
    result = run_load(LoadSpec(users=5, requests=300, duration=120, malformed_ratio=0.0), stack.url("gateway"))
    assert result.returncode == 0, result.output[-2000:]
    # Users finish the task they are in when the count is reached: at most one burst (20 signals) each.
    assert 300 <= result.requests <= 300 + 5 * result.spec.burst_size, result.requests
    assert result.failures == 0
    assert result.ended_at - result.started_at < 60


def test_bad_locust_arguments_are_a_clear_error(stack: EmbeddedStack) -> None:
    with pytest.raises(UsageError) as info:
        run_load(LoadSpec(duration=2, extra_args=("--no-such-flag",)), stack.url("gateway"))
    assert "Locust rejected its arguments" in str(info.value)
    assert "--no-such-flag" in str(info.value)


@pytest.mark.parametrize("workers", [0, 1], ids=["single", "distributed"])
def test_wait_sending_returns_once_requests_flow(stack: EmbeddedStack, workers: int) -> None:
    with LoadRun(LoadSpec(users=2, duration=60, workers=workers, think_time=0.05), stack.url("gateway")) as run:
        sent = run.wait_sending(timeout=60)
        assert run.started_at is not None and run.started_at < sent <= time.time()
        run.stop()
        result = run.wait()
    assert result.requests > 0


def test_wait_sending_fails_when_locust_exits_first(stack: EmbeddedStack) -> None:
    # A locustfile whose users never send: Locust runs its 2 s and exits without a request.
    spec = LoadSpec(users=1, duration=2, extra_args=("--tags", "no-such-tag"))
    with LoadRun(spec, stack.url("gateway")) as run, pytest.raises(ToolError) as info:
        run.wait_sending(timeout=60)
    assert "Locust exited" in str(info.value) and "before sending a request" in str(info.value)


def test_load_stopped_when_the_test_raises(stack: EmbeddedStack) -> None:
    pids: list[int | None] = []

    def failing_test() -> None:
        with LoadRun(LoadSpec(users=5, duration=300, workers=1), stack.url("gateway")) as run:
            assert run.master is not None
            pids.extend(p.pid for p in (run.master, *run.workers))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        failing_test()
    assert pids and not any(pid_alive(p) for p in pids if p)


HOLD = textwrap.dedent(
    """
    import sys, time
    from obs_tests.workloads import LoadRun, LoadSpec
    run = LoadRun(LoadSpec(users=5, duration=300, workers=1), sys.argv[1])
    run.start()
    print(run.master.pid, *[w.pid for w in run.workers], flush=True)
    time.sleep(300)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_no_orphan_when_the_owner_is_killed(stack: EmbeddedStack, sig: signal.Signals, tmp_path: Path) -> None:
    # the owner dies without running its cleanup (no handler for either signal): the kernel stops Locust, but
    # nobody can remove the run's directory — so it is made in this test's own temp dir, not the system's
    owner = subprocess.Popen(
        [sys.executable, "-c", HOLD, stack.url("gateway")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert owner.stdout is not None
    line = owner.stdout.readline()
    pids = [int(p) for p in line.split()]
    assert len(pids) == 2, line
    assert all(pid_alive(p) for p in pids), [(p, cmdline(p)) for p in pids]
    owner.send_signal(sig)
    owner.wait(timeout=30)
    owner.stdout.close()
    from obs_tests.stack.process import ProcessIdentity  # noqa: PLC0415

    idents = [i for p in pids if (i := ProcessIdentity.of(p))]
    try:
        assert_all_gone(idents, timeout=15)
    except WaitTimeout as exc:
        raise AssertionError(f"{exc}: {[(i.pid, cmdline(i.pid)) for i in idents if i.alive()]}") from None


def _load_series(prom: PrometheusClient, service: str) -> float:
    samples = prom.query(f'sum(locust_requests_total{{job="load", service="{service}"}})')
    return samples[0].value if samples else 0.0


def test_a_locust_run_by_hand_shows_up_in_prometheus_without_flags(
    stack: EmbeddedStack, prom: PrometheusClient, tmp_path: Path
) -> None:
    """Issue 17: `locust -f load/locustfile.py --host <gateway>` run by hand never reached job `load` (the
    metrics port was off and nothing told it the stack's targets file). Now it finds the running stack
    serving --host, announces itself, is scraped, and removes itself on exit; `status` says how."""
    status = subprocess.run(
        [sys.executable, "-m", "obs_tests.cli", "status"], capture_output=True, text=True, timeout=60, check=False
    )
    gateway = stack.url("gateway")
    assert f"Locust: `locust -f load/locustfile.py --host {gateway}` shows up in Prometheus job load" in status.stdout
    assert str(stack.load_targets) in status.stdout
    env = {k: v for k, v in os.environ.items() if k not in ("OBS_LOAD_TARGETS_FILE", "OBS_LOCUST_METRICS_PORT")}
    argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "load" / "locustfile.py"), "--headless", "-u", "2"]
    argv += ["-r", "2", "-t", "90s", "--think-time", "0.05", "--host", gateway]
    locust = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    service = f"locust-local-{locust.pid}"
    try:
        wait_for(
            lambda: Poll((got := _load_series(prom, service)) > 0, got, f"locust_requests_total of {service}: {got}"),
            timeout=30,
            interval=0.25,
            expected=f"requests of the hand-run Locust ({service}) scraped as job load",
            bound="file_sd refresh 1s + 1 scrape interval",
        )
        assert stack.load_targets is not None
        assert service in stack.load_targets.read_text()
    finally:
        locust.send_signal(signal.SIGINT)
        _, err = locust.communicate(timeout=60)
    assert locust.returncode == 0, err.decode()[-2000:]
    assert service not in stack.load_targets.read_text()


def test_a_killed_locust_leaves_no_target_down_after_heal(
    stack: EmbeddedStack, prom: PrometheusClient, tmp_path: Path
) -> None:
    """A Locust process SIGKILLed cannot remove its entry from the load job's file: its target stays DOWN in
    Prometheus (every later health check reports it) until the stack's heal drops it."""
    env = {k: v for k, v in os.environ.items() if k not in ("OBS_LOAD_TARGETS_FILE", "OBS_LOCUST_METRICS_PORT")}
    argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "load" / "locustfile.py"), "--headless", "-u", "1"]
    argv += ["-r", "1", "-t", "90s", "--think-time", "0.2", "--host", stack.url("gateway")]
    locust = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    service = f"locust-local-{locust.pid}"

    def health_of_its_target() -> Poll[str]:
        health = next((t.health for t in prom.targets() if t.labels.get("service") == service), "absent")
        return Poll(health == "up", health, f"target {service}: {health}")

    wait_for(health_of_its_target, timeout=30, interval=0.25, expected=f"{service} up in job load")
    locust.kill()
    locust.wait(timeout=30)
    assert stack.load_targets is not None and service in stack.load_targets.read_text()  # nobody removed it
    stack.heal()
    assert service not in stack.load_targets.read_text()
    assert not [t for t in prom.targets() if t.labels.get("service") == service], "still a target after heal"
