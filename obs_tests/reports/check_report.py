"""The report of one ``obs-tests check`` run: a JSON document (schema ``obs_tests/schemas/report.schema.json``),
a self-contained HTML page and a Markdown summary for a CI job summary — next to JUnit XML.

One section per check family (targets, metrics, rules, alerting, chaos, dashboards, grafana, load, health),
the load report of each load check (Locust's table per request name beside the gateway histogram's view of
the same window), the scenario lanes (which stack ran which chaos scenario, from when to when) and a coverage
summary: alerts exercised (fired and cleared by a chaos scenario) / alert rules, dashboard panels with data / panels,
metrics declared / exported / referenced. The HTML and the Markdown are written from templates
(``obs_tests/templates/check_report.{html,md}.j2``) that escape every value; this module builds the document
and the lane chart's geometry.

Example::

    document = build_report(summary, scenarios=load_scenario_results(report_dir, since=start), alerts=names)
    write_reports(document, Path("reports"))   # report.json, report.html, summary.md
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obs_tests.config.contract import Contract
from obs_tests.errors import PromQLSyntaxError
from obs_tests.reports.templates import render
from obs_tests.rules.promql import selectors
from obs_tests.rules.rulefiles import load_rule_files

__all__ = [
    "FAMILIES",
    "SCHEMA_VERSION",
    "build_report",
    "load_scenario_results",
    "render_html",
    "render_markdown",
    "write_reports",
    "write_run_reports",
]

SCHEMA_VERSION = 1
#: the check families, in report order (a family with no test in the run is reported as not run)
FAMILIES = ("targets", "metrics", "rules", "alerting", "chaos", "dashboards", "grafana", "load", "health")
_OUTCOMES = ("passed", "failed", "error", "skipped")


def load_scenario_results(report_dir: Path, since: float) -> list[dict[str, Any]]:
    """The scenario result documents the chaos suite wrote under ``report_dir/scenarios`` in this run."""
    base = report_dir / "scenarios"
    if not base.is_dir():
        return []
    out = []
    for path in sorted(base.glob("*/*.json")):
        try:
            if path.stat().st_mtime < since:
                continue
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "scenario" in doc and "alerts" in doc:
            out.append(doc)
    return out


def _families(tests: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    families: dict[str, Any] = {}
    for name in (*FAMILIES, *sorted({str(t.get("family")) for t in tests} - set(FAMILIES))):
        mine = [t for t in tests if t.get("family") == name]
        counts = {o: sum(1 for t in mine if t.get("outcome") == o) for o in _OUTCOMES}
        if not mine:
            status = "not run"
        elif counts["failed"] or counts["error"]:
            status = "failed"
        elif counts["passed"]:
            status = "passed"
        else:
            status = "skipped"
        families[name] = {
            "status": status,
            "counts": counts,
            "tests": [
                {
                    "name": str(t.get("name", "")),
                    "outcome": str(t.get("outcome", "")),
                    "duration_seconds": round(float(t.get("duration") or 0.0), 3),
                    "summary": str(t.get("summary") or ""),
                    "message": str(t.get("message") or ""),
                    "warnings": [str(w) for w in t.get("warnings") or []],
                }
                for t in mine
            ],
        }
    return families


def _span(doc: Mapping[str, Any]) -> tuple[float, float] | None:
    """When a scenario held its stack (unix seconds): from when its runner took the stack (heal and settle
    included; a report written before that was recorded: from the scenario's start) to its end."""
    began = float(doc.get("began_at") or doc.get("started_at") or 0.0)
    if not began:
        return None
    ended = float(doc.get("finished_at") or 0.0) or float(doc.get("started_at") or began) + float(
        doc.get("duration") or 0.0
    )
    return began, max(ended, began)


def _scenario_id(doc: Mapping[str, Any]) -> str:
    """The identifier of the scenario a result document is about (its ``scenario`` is ``{name, id, ...}``)."""
    about = doc.get("scenario")
    return str(about.get("id") or about.get("name") or "") if isinstance(about, Mapping) else str(about or "")


def _chaos(scenarios: Sequence[Mapping[str, Any]], started_at: float | None) -> dict[str, Any]:
    spans = [_span(doc) for doc in scenarios]
    origin = started_at or min((span[0] for span in spans if span), default=0.0)
    rows = []
    for doc, span in zip(scenarios, spans, strict=True):
        rows.append(
            {
                "scenario": _scenario_id(doc),
                "status": str(doc.get("status", "")),
                "duration_seconds": round(float(doc.get("duration") or 0.0), 3),
                "lane": str(doc.get("lane") or ""),
                "started_offset_seconds": None if span is None else round(span[0] - origin, 3),
                "ended_offset_seconds": None if span is None else round(span[1] - origin, 3),
                "alerts": [
                    {
                        "alert": str(a.get("alert", "")),
                        "fault": str(a.get("fault", "")),
                        "fired_after": a.get("fired_after"),
                        "notified_after": a.get("notified_after"),
                        "resolved_after": a.get("resolved_after"),
                        "detection_overhead": a.get("detection_overhead"),
                        "limits": dict(a.get("limits") or {}),
                        "bound_source": dict(a.get("bound_source") or {}),
                        "margins": dict(a.get("margins") or {}),
                    }
                    for a in doc.get("alerts") or []
                ],
            }
        )
    return {"scenarios": rows}


def _alert_coverage(
    alerts: Sequence[str],
    scenarios: Sequence[Mapping[str, Any]],
    always_firing: Sequence[str],
    applicable: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    fired: set[str] = set()
    cleared: set[str] = set()
    for doc in scenarios:
        for timing in doc.get("alerts") or []:
            name = str(timing.get("alert", ""))
            if timing.get("firing_at") is not None or timing.get("fired_after") is not None:
                fired.add(name)
                if timing.get("resolved_at") is not None or timing.get("resolved_after") is not None:
                    cleared.add(name)
    alerts = [a for a in alerts if a not in always_firing]
    exercised = sorted(a for a in alerts if a in fired and a in cleared)
    return {
        "total": len(alerts),
        "always_firing": sorted(always_firing),
        "exercised": len(exercised),
        "exercised_alerts": exercised,
        "fired_not_cleared": sorted(a for a in alerts if a in fired and a not in cleared),
        "not_exercised": sorted(a for a in alerts if a not in fired),
        # why no scenario could run on this stack (the suite's scenario_coverage section), else None
        "not_applicable": (applicable or {}).get("reason") if (applicable or {}).get("applicable") is False else None,
    }


def _metric_coverage(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not section:
        return None
    return {
        "declared": len(section.get("declared") or []),
        "exported": int(section.get("exported_count") or 0),
        "referenced": len(section.get("referenced") or {}),
        "declared_missing": list(section.get("declared_missing") or []),
        "referenced_missing": list(section.get("referenced_missing") or []),
    }


def _panel_coverage(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not section or "panels_total" not in section:
        return None
    return {
        "total": int(section.get("panels_total") or 0),
        "with_data": int(section.get("panels_with_data") or 0),
        "declared_empty": int(section.get("panels_declared_empty") or 0),
    }


def _selection(raw: Any) -> dict[str, str | None]:
    """``-m``/``-k`` of the run (None: not given)."""
    given = raw if isinstance(raw, Mapping) else {}
    return {key: (str(given[key]) if given.get(key) else None) for key in ("markers", "keyword")}


def _load(section: Any) -> list[dict[str, Any]]:
    """The load checks' reports (``load`` section: Locust's table per request name beside the gateway
    histogram's view of the same window, by check), in the order the checks ran."""
    if not isinstance(section, Mapping):
        return []
    return [{"check": str(name), "report": dict(doc)} for name, doc in section.items() if isinstance(doc, Mapping)]


def build_report(
    summary: Mapping[str, Any],
    *,
    scenarios: Sequence[Mapping[str, Any]] = (),
    alerts: Iterable[str] = (),
    always_firing: Iterable[str] = (),
    generated_at: float | None = None,
    started_at: float | None = None,
) -> dict[str, Any]:
    """The JSON document from a run's ``summary.json`` data, the chaos scenario results and the names of
    the contract's alert rules (``always_firing``: watchdogs, which can fire but never clear — not counted).
    ``started_at`` (unix seconds) is the run's start, from which each scenario's start and end offsets on
    its lane are counted (default: the first scenario's start)."""
    tests: list[Mapping[str, Any]] = list(summary.get("tests") or [])
    sections: dict[str, Any] = dict(summary.get("sections") or {})
    counts = {o: int((summary.get("counts") or {}).get(o, 0)) for o in _OUTCOMES}
    health = sections.pop("health", None)
    load = _load(sections.pop("load", None))
    failed = counts["failed"] or counts["error"]
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.fromtimestamp(generated_at or time.time(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "contract": str(summary.get("contract", "")),
        "stack": str(summary.get("stack", "")),
        "selection": _selection(summary.get("selection")),
        "status": "failed" if failed else "passed",
        "counts": counts,
        "duration_seconds": round(float(summary.get("duration_seconds") or 0.0), 3),
        "families": _families(tests),
        "chaos": _chaos(scenarios, started_at),
        "health": health,
        "load": load,
        "coverage": {
            "alerts": _alert_coverage(
                sorted(set(alerts)), scenarios, sorted(set(always_firing)), sections.get("scenario_coverage")
            ),
            "panels": _panel_coverage(sections.get("dashboards_coverage")),
            "metrics": _metric_coverage(sections.get("metrics_coverage")),
        },
        "sections": sections,
    }


# -- Markdown and HTML: obs_tests/templates/check_report.{md,html}.j2 ---------------------------------


def render_markdown(document: Mapping[str, Any], failures_shown: int = 20) -> str:
    """A Markdown summary for a CI job summary (``$GITHUB_STEP_SUMMARY``): the first ``failures_shown``
    failures and warnings are listed."""
    tests = [(name, test) for name, family in document["families"].items() for test in family["tests"]]
    return render(
        "check_report.md.j2",
        document=document,
        failures=[(name, test) for name, test in tests if test["outcome"] in ("failed", "error")],
        warnings=[(name, test, warning) for name, test in tests for warning in test["warnings"]],
        shown=failures_shown,
    )


_LANE_FILL = {"passed": "#1f7a4d", "failed": "#b3261e", "error": "#b3261e"}


@dataclass(frozen=True)
class _Bar:
    """One scenario on its lane: where it is drawn, its colour, its tooltip and its name if it fits."""

    x: float
    width: float
    fill: str
    title: str
    label: str


@dataclass(frozen=True)
class _Lane:
    name: str
    y: int
    bars: list[_Bar]


@dataclass(frozen=True)
class _LaneChart:
    """The scenario lanes of check_report_lanes.svg.j2: ``ticks`` are (x, label) on the time axis."""

    width: int
    height: int
    left: int
    ticks: list[tuple[float, str]]
    lanes: list[_Lane]


def _lane_bar(row: Mapping[str, Any], left: int, scale: float) -> _Bar:
    start, end = float(row["started_offset_seconds"]), float(row["ended_offset_seconds"])
    width = max((end - start) * scale, 2.0)
    name, status, lane = str(row["scenario"]), str(row["status"]), row.get("lane") or "stack"
    title = f"{name} — {status} on {lane}, +{start:.1f}s to +{end:.1f}s ({end - start:.1f}s)"
    label = name if width >= 7 * len(name) + 6 else ""
    return _Bar(left + start * scale, width, _LANE_FILL.get(status, "#8a93a3"), title, label)


def _lane_chart(scenarios: Sequence[Mapping[str, Any]]) -> _LaneChart | None:
    """Which stack (lane) ran which scenario, from when to when: one row per lane in the order they were
    first used, a bar per scenario (red: failed or error), seconds from the run's start."""
    timed = [r for r in scenarios if r.get("started_offset_seconds") is not None]
    if not timed:
        return None
    names: list[str] = []
    for row in sorted(timed, key=lambda r: float(r["started_offset_seconds"])):
        if (row.get("lane") or "stack") not in names:
            names.append(row.get("lane") or "stack")
    span = max([float(r["ended_offset_seconds"]) for r in timed] + [1.0])
    width, left, lane_height = 900, 140, 26
    scale = (width - left - 20) / span
    ticks = [(left + tick * scale, f"{tick}s") for tick in range(0, int(span) + 1, max(1, math.ceil(span / 10)))]
    lanes = []
    for index, name in enumerate(names):
        bars = [_lane_bar(row, left, scale) for row in timed if (row.get("lane") or "stack") == name]
        lanes.append(_Lane(name, 28 + index * lane_height, bars))
    return _LaneChart(width, 34 + lane_height * len(lanes), left, ticks, lanes)


def render_html(document: Mapping[str, Any]) -> str:
    """One self-contained HTML page (no external assets, every value escaped by the template engine)."""
    return render("check_report.html.j2", document=document, lanes=_lane_chart(document["chaos"]["scenarios"]))


def write_reports(document: Mapping[str, Any], report_dir: Path) -> list[Path]:
    """Write ``report.json``, ``report.html`` and ``summary.md`` into ``report_dir``."""
    report_dir.mkdir(parents=True, exist_ok=True)
    written = {
        report_dir / "report.json": json.dumps(document, indent=2, default=str) + "\n",
        report_dir / "report.html": render_html(document),
        report_dir / "summary.md": render_markdown(document),
    }
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
    return list(written)


def _has_selectors(expr: str) -> bool:
    try:
        return bool(selectors(expr))
    except PromQLSyntaxError:
        return True


def write_run_reports(summary_path: Path, report_dir: Path, contract: Contract, since: float) -> list[Path]:
    """After an ``obs-tests check`` run: the report from its ``summary.json``, the chaos scenario results
    written since ``since`` and the contract's alert rules (report.json, report.html, summary.md)."""
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    rules = [rule for rf in load_rule_files(contract.files.rule_files()) for rule in rf.alerts]
    watchdogs = [rule.name for rule in rules if not _has_selectors(rule.expr)]
    document = build_report(
        summary,
        scenarios=load_scenario_results(report_dir, since),
        alerts=[rule.name for rule in rules],
        always_firing=watchdogs,
        started_at=since,
    )
    return write_reports(document, report_dir)
