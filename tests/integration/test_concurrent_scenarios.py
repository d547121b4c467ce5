"""Independent scenarios sharing one real stack: both judged, their faults overlap, all reverted."""

from __future__ import annotations

import signal
from pathlib import Path

from obs_tests.scenarios.lanes import SharedStack, run_scenarios
from obs_tests.scenarios.model import Catalog, load_scenario
from obs_tests.scenarios.waves import plan_waves
from obs_tests.stack import EmbeddedStack

from .helpers import ROOT, assert_all_gone, env_with_state, identities, python, wait_ready_record, write_paused_scenario


def _window(result: object, name: str) -> tuple[float, float]:
    (fault,) = [f for f in result.chaos["faults"] if f["name"] == name]  # type: ignore[attr-defined]
    started = result.started_at  # type: ignore[attr-defined]
    return started + fault["applied_at"], started + fault["reverted_at"]


def test_disjoint_scenarios_run_at_the_same_time_and_both_hold(stack: EmbeddedStack) -> None:
    catalog = Catalog.from_contract(stack.contract, list(stack.components))
    scenarios = [
        load_scenario(ROOT / "scenarios" / "orchestrator-down.yaml", catalog),
        load_scenario(ROOT / "scenarios" / "exchange-feed-failing.yaml", catalog),
    ]
    assert [w.describe() for w in plan_waves(scenarios, catalog, 2)] == ["orchestrator-down + exchange-feed-failing"]
    lines: list[tuple[str, str, str]] = []
    down, failing = run_scenarios(
        scenarios, SharedStack(stack, concurrency=2, catalog=catalog), log=lambda n, lv, m: lines.append((n, lv, m))
    )
    assert down.passed, [a for a in down.assertions if not a.passed]
    assert failing.passed, [a for a in failing.assertions if not a.passed]
    # both faults were in effect at the same time
    kill = _window(down, "kill-orchestrator")
    errors = _window(failing, "fetch-errors")
    assert max(kill[0], errors[0]) < min(kill[1], errors[1]), (kill, errors)
    assert {n for n, _, _ in lines} == {"orchestrator-down", "exchange-feed-failing"}
    assert (down.lane, failing.lane) == ("slot 1", "slot 2")
    assert stack.processes["orchestrator"].running()


def test_sigterm_stops_every_concurrent_scenario_and_leaks_nothing(tmp_path: Path) -> None:
    """Two scenarios pause two components at once; SIGTERM reverts both and the stack goes down clean."""
    for name, target in (("pause-orchestrator", "orchestrator"), ("pause-exchange", "exchange")):
        write_paused_scenario(tmp_path, name, target)
    state = tmp_path / "state"
    proc = python(
        "-m",
        "obs_tests.cli",
        "scenario",
        "run",
        "--concurrency",
        "2",
        "--report-dir",
        str(tmp_path / "reports"),
        str(tmp_path / "pause-orchestrator.yaml"),
        str(tmp_path / "pause-exchange.yaml"),
        env=env_with_state(state),
        cwd=ROOT,
    )
    assert proc.stdout is not None
    record = wait_ready_record(state, owner_pid=proc.pid, timeout=90)
    idents = identities(record)
    lines: list[str] = []
    applied: set[str] = set()
    for line in proc.stdout:
        lines.append(line.rstrip())
        if "fault applied: pause-" in line:
            applied.add(line.split("fault applied: ")[1].split()[0])
        if len(applied) == 2:
            proc.send_signal(signal.SIGTERM)
            break
    rest, _ = proc.communicate(timeout=90)
    output = "\n".join(lines) + "\n" + rest
    assert "concurrently: pause-orchestrator + pause-exchange" in output, output
    assert "fault reverted: pause-orchestrator" in output, output
    assert "fault reverted: pause-exchange" in output, output
    assert proc.returncode != 0, output
    assert_all_gone(idents, timeout=20)
