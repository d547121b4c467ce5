"""Chaos suite: wall time of every shipped scenario on one embedded stack, and the detection overhead.

Usage: .venv/bin/python benchmarks/chaos_suite.py [--time-scale 0.02] [--only NAME ...] [--concurrency N | --stacks N]

Starts one embedded stack at the time scale (default: the contract's), runs every scenario of
``scenarios/`` in the suite's order, and prints per scenario: status, wall time, and for each expected
alert the measured fire/clear times against their bounds. Then the totals: stack start, all scenarios,
and the detection overhead — when obs-tests saw an alert firing minus when Prometheus switched it (its
``activeAt`` + ``for``, on the evaluation tick) — median and max over every alert. ``--stacks N`` runs
the scenarios on N embedded stacks at once (each scenario on a stack of its own, as ``obs-tests check``
does with ``stack.scenario_stacks``); ``--concurrency N`` shares one stack between independent ones.

Goals (issue): the whole ``make check``, scenarios included, <= 120 s on the 2-core machine; detection
overhead <= 0.25 s median. Exit status 1 when a scenario failed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from obs_tests.config.contract import load_contract  # noqa: E402
from obs_tests.scenarios.lanes import Lanes, SharedStack, StackPool, run_scenarios  # noqa: E402
from obs_tests.scenarios.model import Catalog, load_scenarios, ordered  # noqa: E402
from obs_tests.stack import EmbeddedStack  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-scale", type=float, default=None, help="rule time factor (default: the contract's)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these scenario names")
    parser.add_argument("--concurrency", type=int, default=1, help="independent scenarios run at once")
    parser.add_argument("--stacks", type=int, default=1, help="embedded stacks the scenarios run on at once")
    args = parser.parse_args()
    contract = load_contract(ROOT / "obs.yaml")
    scale = args.time_scale or contract.stack.time_scale
    catalog = Catalog.from_contract(contract)
    scenarios = ordered(load_scenarios(contract.files.scenarios, catalog))
    if args.only:
        scenarios = [s for s in scenarios if s.name in args.only]
    print(f"{len(scenarios)} scenarios, time scale {scale:g}")
    started = time.monotonic()
    overheads: list[float] = []
    failed = 0
    with EmbeddedStack(contract, time_scale=scale) as stack:
        ready = time.monotonic() - started
        print(f"stack ready in {ready:.1f}s")
        print(f"{'scenario':34} {'status':7} {'wall s':>6}  alerts (fired/bound, cleared/bound, overhead)")
        run_started = time.monotonic()
        lanes: Lanes = SharedStack(stack, concurrency=args.concurrency, catalog=catalog)
        if args.stacks > 1:
            lanes = StackPool(lambda: EmbeddedStack(contract, time_scale=scale), stacks=args.stacks, first=stack)
        results = run_scenarios(scenarios, lanes, on_lane=print)
        for scenario, result in zip(scenarios, results, strict=True):
            failed += not result.passed
            parts = []
            for t in result.alerts:
                b = t.bounds
                if t.detection_overhead is not None:
                    overheads.append(t.detection_overhead)
                parts.append(
                    f"{t.alert} {_s(t.fired_after)}/{_s(b.fire(t.detect) if b else None)}, "
                    f"{_s(t.resolved_after)}/{_s(b.resolve() if b else None)}, {_s(t.detection_overhead)}"
                )
            print(f"{scenario.name:34} {result.status:7} {result.duration:6.1f}  {'; '.join(parts)}")
            for failure in result.failures():
                print(f"{'':43}✘ {failure.name}: {failure.message or failure.actual}")
        scenarios_wall = time.monotonic() - run_started
    total = time.monotonic() - started
    print()
    print(f"stack start {ready:.1f}s + scenarios {scenarios_wall:.1f}s (+ teardown) = {total:.1f}s")
    if overheads:
        print(
            f"detection overhead over {len(overheads)} alerts: median {statistics.median(overheads):.3f}s, "
            f"max {max(overheads):.3f}s (goal: median <= 0.25s)"
        )
    print(f"{len(scenarios) - failed}/{len(scenarios)} scenarios passed")
    return 1 if failed else 0


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
