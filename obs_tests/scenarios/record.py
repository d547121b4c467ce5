"""Record a live scenario as a ``promtool test rules`` fixture: a live incident becomes a fast offline
regression test.

The scenario runs on an embedded stack; afterwards every series the alerts of ``expect.must_fire`` read
(their selectors, through the recording rules they use) is exported with ``query_range`` over the run
at the scrape interval, and written as ``input_series`` in promtool's expanding notation. Time is put
back on the real axis: a run at time scale 0.01 with 1 s scrapes becomes a series with a 100 s interval,
so the fixture tests the rule files *as written* (``for: 10m``, ``[5m]``). The alert expectations are
what was observed: at an evaluation time well inside each firing span the alert fires with the labels
and annotations it had live; before the fault it does not. The file is checked with the real
``promtool test rules`` before this returns.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from obs_tests.clients.tools import run_tool
from obs_tests.config.contract import Contract
from obs_tests.core.durations import format_duration
from obs_tests.errors import PromQLSyntaxError, ScenarioInvalid, ToolError
from obs_tests.rules.promql import selectors
from obs_tests.rules.rulefiles import load_rule_files
from obs_tests.scenarios.lanes import SharedStack, run_scenarios
from obs_tests.scenarios.model import Catalog, load_scenario
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.stack.embedded import EmbeddedStack
from obs_tests.stack.run_settings import resolve_time_scale

__all__ = ["build_fixture", "record_scenario"]


def _selectors(expr: str, records: dict[str, str], seen: frozenset[str] = frozenset()) -> set[str]:
    """Raw series selectors an expression reads, through recording rules."""
    try:
        found = selectors(expr)
    except PromQLSyntaxError:
        return set()
    out: set[str] = set()
    for sel in found:
        if sel.metric in records and sel.metric not in seen:
            out |= _selectors(records[sel.metric], records, seen | {sel.metric})
        elif sel.metric or sel.matchers:
            out.add(sel.text())
    return out


def _series_text(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}"


def _values(points: dict[int, float], count: int) -> str:
    out = []
    for index in range(count):
        value = points.get(index)
        if value is None:
            out.append("_")
        elif math.isnan(value):
            out.append("NaN")
        elif value == math.floor(value) and abs(value) < 1e15:
            out.append(str(int(value)))
        else:
            out.append(repr(value))
    return " ".join(out)


def build_fixture(
    result: ScenarioResult,
    prom: Any,
    contract: Contract,
    rule_files: list[Path],
    *,
    scrape_interval: float,
    time_scale: float,
    output: Path,
) -> dict[str, Any]:
    """The promtool test document for a finished run (see the module docstring)."""
    rules = [r for rf in load_rule_files(contract.files.rule_files()) for r in rf.rules]
    records = {r.name: r.expr for r in rules if r.kind == "record"}
    alerts = {r.name: r for r in rules if r.kind == "alert"}
    wanted: set[str] = set()
    for timing in result.alerts:
        rule = alerts.get(timing.alert)
        if rule is not None:
            wanted |= _selectors(rule.expr, records)
    series = _input_series(prom, sorted(wanted), result.started_at, result.finished_at, scrape_interval)
    interval = scrape_interval / time_scale
    relative = [os.path.relpath(p, output.parent) for p in rule_files]
    return {
        "rule_files": relative,
        "evaluation_interval": format_duration(interval),
        "tests": [
            {
                "name": f"recorded from scenario {result.scenario} (time scale {time_scale:g})",
                "interval": format_duration(interval),
                "input_series": series,
                "alert_rule_test": _alert_tests(result, scrape_interval, interval),
            }
        ],
    }


def _input_series(
    prom: Any, wanted: list[str], start: float, end: float, scrape_interval: float
) -> list[dict[str, str]]:
    """Every series the selectors match over the run, one sample per scrape interval (``_`` where none)."""
    count = int((end - start) // scrape_interval) + 1
    series = []
    for selector in wanted:
        for item in prom.query_range(selector, start, start + (count - 1) * scrape_interval, scrape_interval):
            points = {round((t - start) / scrape_interval): v for t, v in item.points}
            series.append({"series": _series_text(dict(item.labels)), "values": _values(points, count)})
    return series


def _alert_tests(result: ScenarioResult, scrape_interval: float, interval: float) -> list[dict[str, Any]]:
    """For each alert that fired: it fires, with its live labels and annotations, halfway through its firing
    span; and it does not before the fault (when the run has a scrape before it). Times on the real axis
    (``interval``: the scrape interval unscaled)."""
    start, end = result.started_at, result.finished_at
    tests_for_alerts: list[dict[str, Any]] = []
    for timing in result.alerts:
        if timing.firing_at is None:
            continue
        firing_end = timing.resolved_at or end
        middle = (timing.firing_at + firing_end) / 2
        steps = round((middle - start) / scrape_interval)
        event = result.timeline.first("alert", timing.alert, "firing") if result.timeline else None
        labels = dict(event.labels) if event else {}
        labels.pop("alertname", None)
        annotations = dict(event.detail.get("annotations") or {}) if event else {}
        tests_for_alerts.append(
            {
                "eval_time": format_duration(steps * interval),
                "alertname": timing.alert,
                "exp_alerts": [{"exp_labels": labels, "exp_annotations": annotations}],
            }
        )
        before = (timing.fault_at or start) - start
        if before >= scrape_interval:
            tests_for_alerts.append(
                {
                    "eval_time": format_duration(math.floor(before / scrape_interval) * interval),
                    "alertname": timing.alert,
                    "exp_alerts": [],
                }
            )
    return tests_for_alerts


def record_scenario(
    contract: Contract,
    path: Path,
    output: Path,
    *,
    time_scale: float | None = None,
    log: Callable[[str, str], None] | None = None,
) -> str:
    """Run the scenario, write the promtool fixture to ``output`` and check it with promtool."""
    scenario = load_scenario(path, Catalog.from_contract(contract))
    if not scenario.expect.must_fire:
        raise ScenarioInvalid(f"{path}: nothing to record — the scenario has no expect.must_fire alert")
    scale = resolve_time_scale(time_scale, [scenario.time_scale], contract.stack.time_scale)
    with EmbeddedStack(contract, time_scale=scale, origin="record") as stack:
        tagged = (lambda _name, level, message: log(level, message)) if log is not None else None
        (result,) = run_scenarios([scenario], SharedStack(stack, name="record"), log=tagged)
        if not result.alerts or all(t.firing_at is None for t in result.alerts):
            raise ScenarioInvalid(f"{path}: no expected alert fired during the run — nothing to record")
        doc = build_fixture(
            result,
            stack.prometheus(),
            contract,
            contract.files.rule_files(),
            scrape_interval=contract.stack.scrape_interval,
            time_scale=scale,
            output=output,
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Recorded by `obs-tests scenario record {path}` — a live run turned into a promtool test.\n"
    output.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=200), encoding="utf-8")
    done = run_tool(["promtool", "test", "rules", str(output)], timeout=120)
    if done.returncode != 0:
        raise ToolError(f"the recorded fixture {output} does not pass promtool: {done.output}")
    series = len(doc["tests"][0]["input_series"])
    checks = len(doc["tests"][0]["alert_rule_test"])
    return f"{output}: {series} input series, {checks} alert checks; promtool test rules: SUCCESS"
