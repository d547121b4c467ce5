"""The trading-bot language on the embedded stack (issue 19): how fast the bot cycles, how many events it
puts on the bus, and how long each shipped example takes.

Starts one embedded stack (the contract ``obs.yaml``, time scale 0.01), then:

1. for bot poll intervals of 10, 5 and 1 (bot-world seconds: 0.1, 0.05, 0.01 s at 0.01) runs ``wait_for_cycles``
   of 50 cycles and reports the wall time, the measured seconds per cycle (from the events' ``time``) and the
   events per second the run recorded;
2. runs every ``scenarios/trading-*.yaml`` and prints its status, wall time (setup and settle included),
   cycles, events and chaos counters.

Run: ``python benchmarks/bot_scenarios.py`` (about a minute).
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from obs_tests.config.contract import load_contract  # noqa: E402
from obs_tests.scenarios.build import build_scenario  # noqa: E402
from obs_tests.scenarios.event_setup import BotSetup, ExchangeSetup  # noqa: E402
from obs_tests.scenarios.model import Catalog  # noqa: E402
from obs_tests.scenarios.runner import ScenarioRunner  # noqa: E402
from obs_tests.scenarios.step_types import WaitForCycles  # noqa: E402
from obs_tests.stack import EmbeddedStack  # noqa: E402

CYCLES = 50


def _cycle_rates(stack: EmbeddedStack, catalog: Catalog, output: Path) -> None:
    print(
        f"{'poll (bot s)':>12} {'poll (wall s)':>13} {'wall for 50':>12} {'s/cycle':>9} {'events':>7} {'events/s':>9}"
    )
    for poll in (10.0, 5.0, 1.0):
        scenario = build_scenario(
            f"cycle rate {poll:g}",
            exchange=ExchangeSetup(scenario="sideways", seed=1),
            bot=BotSetup(poll_interval=poll),
            steps=[WaitForCycles(CYCLES)],
            catalog=catalog,
        )
        started = time.monotonic()
        runner = ScenarioRunner(scenario, stack=stack, output_dir=output)
        result = runner.run()
        wall = time.monotonic() - started
        events = result.event_log
        starts = [float(e["time"]) for e in events if e["event"] == "BotMonitoringCycleStarted"]
        per_cycle = statistics.mean(b - a for a, b in itertools.pairwise(starts)) if len(starts) > 1 else 0
        span = (float(events[-1]["time"]) - float(events[0]["time"])) if len(events) > 1 else 0.0
        rate = len(events) / span if span else 0.0
        scaled = poll * stack.time_scale
        print(
            f"{poll:>12g} {scaled:>13g} {wall:>11.1f}s {per_cycle:>9.3f} {len(events):>7} {rate:>9.0f}",
            result.status,
        )


def _examples(stack: EmbeddedStack, output: Path) -> None:
    print()
    print(
        f"{'example':<34} {'status':<7} {'wall':>6} {'cycles':>6} {'events':>6}",
        " chaos (delayed/dropped/injected/modified)",
    )
    for path in sorted((ROOT / "scenarios").glob("trading-*.yaml")):
        started = time.monotonic()
        result = ScenarioRunner(path, stack=stack, output_dir=output).run()
        wall = time.monotonic() - started
        events = result.events or {}
        chaos = result.chaos
        counts = "/".join(
            str(chaos.get(k, 0)) for k in ("events_delayed", "events_dropped", "failures_injected", "events_modified")
        )
        print(
            f"{path.stem:<34} {result.status:<7} {wall:>5.1f}s",
            f"{events.get('cycles', 0):>6} {events.get('total', 0):>6}",
            counts,
        )


def main() -> None:
    contract = load_contract(ROOT / "obs.yaml")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="obs-tests-bench-bot-") as tmp, EmbeddedStack(contract) as stack:
        output = Path(tmp)
        print(f"embedded stack up in {time.monotonic() - started:.1f}s, time scale {stack.time_scale:g}")
        catalog = Catalog.from_contract(contract, list(stack.components))
        _cycle_rates(stack, catalog, output)
        _examples(stack, output)
    print(f"\ntotal {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
