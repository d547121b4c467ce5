"""Soak: the whole ``obs-tests check`` N times from a clean state, and how much margin every timing had.

Usage: .venv/bin/python benchmarks/soak_check.py [--runs 10] [--hog 0] [--order given|reverse|shuffle]
       [--seed 1] [--keep DIR] [-- extra obs-tests check args]

Each run is a separate ``obs-tests check`` with a report directory and a temp directory of its own
(``TMPDIR``); before a run no stack of ours may be running, after it nothing may be left in its temp
directory and no stack in ``obs-tests status``. Printed per run: PASS/FAIL, wall time, the failing checks,
anything left behind. Then, for every scenario alert and phase (fire, notify, clear, notify_resolved) and
every step with a ``within``: the measured times over the runs (min / median / max) against the limit the
judge used, and the smallest margin (limit minus measured) — flagged ``TIGHT`` when below 1 s or 20 % of the
limit, the point where a slower or faster machine can turn it red.

``--hog K`` runs K busy loops beside the checks (a slower machine); ``--order reverse|shuffle`` changes
the order in which the scenario lanes take the scenarios (steady-state stays first). The script is also
the pytest plugin that reorders them (``-p soak_check``, with this directory on ``PYTHONPATH``).

Exit status: 0 when every run passed with nothing left behind and no margin is tight, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ORDER_ENV = "SOAK_SCENARIO_ORDER"
PHASES = ("fire", "notify", "clear", "notify_resolved")
_WITHIN = re.compile(r"\bwithin=([0-9.]+)")


# -- the pytest plugin: the order in which the scenario lanes take the scenarios --------------------
def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Reorder the ``test_scenario`` items (the pool takes them in this order) as ``SOAK_SCENARIO_ORDER``
    says: ``reverse`` or ``shuffle:<seed>``; steady-state scenarios stay first."""
    order = os.environ.get(ORDER_ENV, "")
    if not order or order == "given":
        return
    slots = [i for i, item in enumerate(items) if getattr(item, "originalname", "") == "test_scenario"]
    scenario_items = [items[i] for i in slots]
    steady = [it for it in scenario_items if it.callspec.params["contract_scenario"].type == "steady_state"]
    rest = [it for it in scenario_items if it not in steady]
    if order == "reverse":
        rest.reverse()
    elif order.startswith("shuffle:"):
        random.Random(int(order.split(":", 1)[1])).shuffle(rest)
    for slot, item in zip(slots, steady + rest, strict=True):
        items[slot] = item


# -- the soak --------------------------------------------------------------------------------------
@dataclass
class Run:
    """One ``obs-tests check``."""

    number: int
    code: int = -1
    wall: float = 0.0
    failed: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    scenario_order: list[str] = field(default_factory=list)


@dataclass
class Timing:
    """Measured times of one phase (or step) over the runs, with the limits the judge used."""

    measured: list[float] = field(default_factory=list)
    limits: list[float] = field(default_factory=list)

    def add(self, value: float, limit: float) -> None:
        self.measured.append(value)
        self.limits.append(limit)

    @property
    def margin(self) -> float:
        return min(limit - value for value, limit in zip(self.measured, self.limits, strict=True))

    @property
    def limit(self) -> float:
        return min(self.limits)

    def tight(self) -> bool:
        return self.margin < max(1.0, 0.2 * self.limit)


@contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """``count`` processes spinning on a CPU each, until the block ends."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _scenario_name(doc: dict[str, Any]) -> str:
    """The scenario a result document is about (``scenario`` is {name, id, ...})."""
    about = doc.get("scenario")
    return str(about.get("id")) if isinstance(about, dict) else str(about)


def _obs_tests() -> str:
    found = Path(sys.executable).parent / "obs-tests"
    return str(found) if found.exists() else "obs-tests"


def running_stacks(env: dict[str, str]) -> list[str]:
    """The ids of the stacks ``obs-tests status`` knows of."""
    done = subprocess.run(
        [_obs_tests(), "status", "--format", "json"], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        return []
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError:
        return []
    stacks = data.get("stacks", data) if isinstance(data, dict) else data
    return [str(s.get("id")) for s in stacks if isinstance(s, dict)] if isinstance(stacks, list) else []


def scenario_docs(report_dir: Path) -> list[dict[str, Any]]:
    """The per-scenario JSON reports the check wrote."""
    docs = []
    for path in sorted(report_dir.glob("scenarios/*/*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and "scenario" in doc:
            docs.append(doc)
    return docs


def failed_checks(report_dir: Path) -> list[str]:
    """``family: test — message`` of every failed or erroring check in report.json."""
    path = report_dir / "report.json"
    if not path.exists():
        return ["no report.json (the check did not finish)"]
    report = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for family, data in (report.get("families") or {}).items():
        for test in data.get("tests") or []:
            if test.get("outcome") in ("failed", "error"):
                message = str(test.get("message") or test.get("summary") or "").splitlines()
                out.append(f"{family}: {test.get('name')} — {message[0][:300] if message else ''}")
    return out


def collect(doc: dict[str, Any], timings: dict[tuple[str, str, str], Timing]) -> None:
    """Add one scenario run's phases and steps to ``timings``."""
    name = _scenario_name(doc)
    for alert in doc.get("alerts") or []:
        limits = alert.get("limits") or {}
        measured = {
            "fire": alert.get("fired_after"),
            "notify": alert.get("notified_after"),
            "clear": alert.get("resolved_after"),
            "notify_resolved": alert.get("resolved_notified_after"),
        }
        for phase in PHASES:
            value, limit = measured.get(phase), limits.get(phase)
            if value is not None and limit is not None:
                timings[(name, str(alert["alert"]), phase)].add(float(value), float(limit))
    started: dict[str, float] = {}
    for event in doc.get("timeline") or []:
        if event.get("kind") != "step":
            continue
        label = str(event.get("name"))
        if event.get("state") == "started":
            started[label] = float(event["t"])
        elif event.get("state") == "done" and label in started:
            within = _WITHIN.search(label)
            if within:
                timings[(name, f"step {label}", "done")].add(float(event["t"]) - started[label], float(within.group(1)))


def run_check(number: int, work: Path, extra: Sequence[str], order: str) -> tuple[Run, list[dict[str, Any]]]:
    """One ``obs-tests check`` with a report and temp directory of its own."""
    run = Run(number)
    report_dir = work / f"run-{number}" / "reports"
    tmp = work / f"run-{number}" / "tmp"
    tmp.mkdir(parents=True)
    env = {**os.environ, "TMPDIR": str(tmp), ORDER_ENV: order}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH", "")]))
    before = running_stacks(env)
    if before:
        run.leftovers.append(f"stacks running before the run: {', '.join(before)} (obs-tests down --all)")
    started = time.monotonic()
    command = [_obs_tests(), "check", "--report-dir", str(report_dir), *extra]
    if order != "given":
        command += ["--", "-p", "soak_check"]
    log = work / f"run-{number}" / "check.log"
    with log.open("w") as out:
        run.code = subprocess.run(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        ).returncode
    run.wall = time.monotonic() - started
    if run.code != 0:
        run.failed = failed_checks(report_dir) or [f"exit {run.code}, see {log}"]
    left = sorted(p.name for p in tmp.iterdir())
    if left:
        run.leftovers.append(f"left in its temp dir: {', '.join(left[:8])}{' ...' if len(left) > 8 else ''}")
    after = running_stacks(env)
    if after:
        run.leftovers.append(f"stacks still running after it: {', '.join(after)}")
    docs = scenario_docs(report_dir)
    run.scenario_order = [_scenario_name(d) for d in sorted(docs, key=lambda d: float(d.get("started_at") or 0))]
    return run, docs


def report(runs: Sequence[Run], timings: dict[tuple[str, str, str], Timing]) -> bool:
    """Print the distribution table and the verdict; True when everything held."""
    print()
    print(
        f"{'scenario':36} {'alert / step':44} {'phase':15} {'n':>3} {'min':>6} {'median':>6} {'max':>6} "
        f"{'limit':>6} {'margin':>7}"
    )
    tight = []
    for (scenario, subject, phase), timing in sorted(timings.items()):
        values = timing.measured
        # a long step label: its kind and the end of its arguments tell it apart
        shown = subject if len(subject) <= 44 else subject[:20] + "..." + subject[-21:]
        flag = "  TIGHT" if timing.tight() else ""
        if flag:
            tight.append((scenario, subject, phase, timing))
        print(
            f"{scenario[:36]:36} {shown:44} {phase:15} {len(values):>3} {min(values):>6.2f} "
            f"{statistics.median(values):>6.2f} {max(values):>6.2f} {timing.limit:>6.1f} {timing.margin:>7.2f}{flag}"
        )
    green = sum(1 for r in runs if r.code == 0 and not r.leftovers)
    print()
    print(
        f"{green}/{len(runs)} runs green; wall {min(r.wall for r in runs):.1f}-{max(r.wall for r in runs):.1f}s "
        f"(median {statistics.median(r.wall for r in runs):.1f}s)"
    )
    if timings:
        scenario, subject, phase, worst = min(
            ((k[0], k[1], k[2], t) for k, t in timings.items()), key=lambda item: item[3].margin / item[3].limit
        )
        print(
            f"tightest margin (relative to its limit): {worst.margin:.2f}s of {worst.limit:.1f}s — "
            f"{scenario} / {subject} / {phase}"
        )
    for scenario, subject, phase, timing in tight:
        print(
            f"TIGHT: {scenario} / {subject} / {phase}: margin {timing.margin:.2f}s of {timing.limit:.1f}s "
            f"(below max(1 s, 20 % of the limit))"
        )
    return green == len(runs) and not tight


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args_in:
        cut = args_in.index("--")
        args_in, extra = args_in[:cut], args_in[cut + 1 :]
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="how many checks (default 10)")
    parser.add_argument("--hog", type=int, default=0, help="busy loops beside the checks (default 0)")
    parser.add_argument(
        "--order",
        choices=("given", "reverse", "shuffle"),
        default="given",
        help="the order the scenario lanes take the scenarios in",
    )
    parser.add_argument("--seed", type=int, default=1, help="first shuffle seed (run i uses seed + i)")
    parser.add_argument("--keep", type=Path, default=None, help="keep every run's reports and logs here")
    args = parser.parse_args(args_in)
    if args.runs < 1 or args.hog < 0:
        parser.error("--runs must be >= 1 and --hog >= 0")
    work = args.keep or Path(tempfile.mkdtemp(prefix="obs-tests-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"soak: {args.runs} x obs-tests check, {args.hog} busy loop(s), scenario order {args.order}"
        + (f", runs in {work}" if args.keep else "")
    )
    runs: list[Run] = []
    timings: dict[tuple[str, str, str], Timing] = defaultdict(Timing)
    try:
        with busy_loops(args.hog):
            for number in range(1, args.runs + 1):
                order = f"shuffle:{args.seed + number}" if args.order == "shuffle" else args.order
                run, docs = run_check(number, work, extra, order)
                runs.append(run)
                for doc in docs:
                    collect(doc, timings)
                verdict = "PASS" if run.code == 0 and not run.leftovers else "FAIL"
                print(f"run {number}/{args.runs}: {verdict} exit {run.code} in {run.wall:.1f}s", flush=True)
                if args.order != "given":
                    print(f"  scenarios started in this order: {', '.join(run.scenario_order)}")
                for line in [*run.failed, *run.leftovers]:
                    print(f"  {line}")
        ok = report(runs, timings)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
