"""Cold start of the embedded stack: time until every target is up, and the stack's memory.

Usage: .venv/bin/python benchmarks/stack_start.py [--runs 5] [--topology single|ha]

Prints, per run, the time of each start-up phase (components spawned, health endpoints answering,
every target up in Prometheus, warm-up signals visible in Prometheus) and the RSS/PSS of every
component; then the median of the runs. Goals (issue 2): all targets up <= 8 s (Prometheus' own floor
is ~5 s: its target-update batching), total RSS <= 600 MB. ``--topology ha`` starts 2 Prometheus
replicas and 3 Alertmanager peers (issue 21: its start time and memory against the single topology's).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from obs_tests.config.contract import load_contract, with_topology  # noqa: E402
from obs_tests.stack import EmbeddedStack  # noqa: E402


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in KiB."""
    memory = psutil.Process(pid).memory_full_info()
    return memory.rss // 1024, memory.pss // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--topology", choices=["single", "ha"], default="single")
    args = parser.parse_args()
    contract = with_topology(load_contract(ROOT / "obs.yaml"), args.topology)
    print(f"topology: {contract.stack.topology.describe()}")
    targets_up: list[float] = []
    ready: list[float] = []
    rss_totals: list[float] = []
    pss_totals: list[float] = []
    per_component: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as state:
        for run in range(1, args.runs + 1):
            with EmbeddedStack(contract, state_dir=Path(state)) as stack:
                timings = stack.timings
                rss_total = pss_total = 0
                for name, proc in stack.processes.items():
                    assert proc.pid is not None
                    rss, pss = memory_kib(proc.pid)
                    rss_total += rss
                    pss_total += pss
                    per_component.setdefault(name, []).append(rss)
            targets_up.append(timings["targets_up"])
            ready.append(timings["warm_up_visible"])
            rss_totals.append(rss_total / 1024)
            pss_totals.append(pss_total / 1024)
            phases = "  ".join(f"{k}={v:.2f}s" for k, v in timings.items())
            print(f"run {run}: {phases}  RSS={rss_total / 1024:.0f} MB  PSS={pss_total / 1024:.0f} MB")
    print()
    print("per component RSS (MB, median):")
    for name, values in per_component.items():
        print(f"  {name:<20} {statistics.median(values) / 1024:6.1f}")
    print()
    print(f"cold start -> all targets up: median {statistics.median(targets_up):.2f} s (goal <= 8 s)")
    print(f"cold start -> warm-up visible: median {statistics.median(ready):.2f} s")
    print(f"total RSS of the running stack: median {statistics.median(rss_totals):.0f} MB (goal <= 600 MB)")
    print(f"total PSS (shared pages split): median {statistics.median(pss_totals):.0f} MB")


if __name__ == "__main__":
    main()
