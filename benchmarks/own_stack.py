"""Adopting obs-tests on a stack it has never seen: how long init --baseline, lint, check and health take.

The stack is tests/integration/foreign.py's (a Prometheus of its own scraping node_exporter, redis_exporter
and itself every 15 s, no Alertmanager) with the community-style rule pack and dashboards of
tests/fixtures/{rules,dashboards}/community. Each command runs as a user runs it (a child process, in the
project directory), ``--runs`` times; the script prints the median and the range of each, and what the
first run said.

    .venv/bin/python benchmarks/own_stack.py --runs 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.foreign import ForeignStack  # noqa: E402

COMMANDS = {
    "init --baseline": ["init", "--rules", "rules", "--dashboards", "dashboards", "--baseline", "--force"],
    "lint": ["lint", "-c", "obs.yaml"],
    "check": ["check", "-c", "obs.yaml"],
    "health": ["health", "-c", "obs.yaml"],
}


def _run(project: Path, args: list[str], url: str) -> tuple[float, int, str]:
    argv = [sys.executable, "-m", "obs_tests.cli", *args]
    if args[0] == "init":
        argv += ["--prometheus-url", url]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=600, check=False)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return time.perf_counter() - started, done.returncode, lines[-1] if lines else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="obs-bench-own-") as tmp:
        project = Path(tmp) / "monitoring"
        shutil.copytree(
            ROOT / "tests/fixtures/rules/community", project / "rules", ignore=shutil.ignore_patterns("tests")
        )
        shutil.copytree(ROOT / "tests/fixtures/dashboards/community", project / "dashboards")
        started = time.perf_counter()
        with ForeignStack(Path(tmp) / "stack", scrape_interval="15s") as stack:
            stack.load_rules(sorted((project / "rules").glob("*.y*ml")))
            print(f"foreign stack scraped twice, every group evaluated: {time.perf_counter() - started:.1f} s")
            times: dict[str, list[float]] = {name: [] for name in COMMANDS}
            for index in range(runs):
                for name, args in COMMANDS.items():
                    seconds, code, last = _run(project, args, stack.prometheus_url)
                    times[name].append(seconds)
                    if index == 0:
                        print(f"  {name}: exit {code} — {last[:150]}")
            print(f"\n{'command':<18} {'median s':>9} {'min':>7} {'max':>7}  ({runs} runs)")
            for name, values in times.items():
                print(f"{name:<18} {statistics.median(values):>9.2f} {min(values):>7.2f} {max(values):>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
