"""Scenario reports: JSON, self-contained HTML (a summary table, then per scenario a timeline chart with
the limits that judged it), JUnit XML, Markdown.

``write_reports(results, report_dir, formats)`` writes them under a timestamped run directory
``<report_dir>/scenarios/<YYYYmmdd-HHMMSS>/`` and returns the paths. The HTML has no external resource
(inline CSS and SVG): it opens offline, as a CI artifact. The HTML, the timeline SVG and the Markdown are
written from templates (``obs_tests/templates/scenarios.{html,md}.j2``, ``scenario_timeline.svg.j2``) that
escape every value; the chart's geometry is computed here.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from obs_tests.errors import UsageError
from obs_tests.reports.templates import render
from obs_tests.scenarios.results import ScenarioResult, scenario_id

__all__ = [
    "FORMATS",
    "no_alert_summary",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_timeline_svg",
    "worst_margin",
    "write_output",
    "write_reports",
    "write_run_report",
]

FORMATS = ("json", "html", "junit", "md")

_COLOURS = {
    "fault": "#d62728",
    "pending": "#ff9f1c",
    "firing": "#e4572e",
    "notified": "#6a4c93",
    "reverted": "#2ca02c",
    "resolved": "#1f77b4",
    "resolved_notified": "#17becf",
}


@dataclass(frozen=True)
class _Band:
    """A limit drawn as a shaded band from the event it is counted from."""

    x: float
    width: float
    fill: str
    title: str


@dataclass(frozen=True)
class _Dot:
    """An event of an alert (fault, pending, firing, ...) at its time."""

    x: float
    r: int
    fill: str
    title: str


@dataclass(frozen=True)
class _Row:
    alert: str
    y: int
    bands: list[_Band]
    dots: list[_Dot]


@dataclass(frozen=True)
class _Chart:
    """The timeline of scenario_timeline.svg.j2: ``ticks`` are (x, label) on the time axis."""

    scenario: str
    width: int
    height: int
    left: int
    ticks: list[tuple[float, str]]
    rows: list[_Row]


_EVENTS = ("fault_at", "pending_at", "firing_at", "notified_at", "reverted_at", "resolved_at")
_BANDS = (("fault_at", "fire", "#ffe0d6"), ("reverted_at", "clear", "#d6e8ff"))


def _timeline_row(alert: dict[str, Any], y: int, left: int, scale: float) -> _Row:
    """One expected alert: its events as dots, the fire limit from the fault and the clear limit from the
    revert as bands."""

    def x(t: float) -> float:
        return left + max(0.0, t) * scale

    bands = []
    for start_key, phase, fill in _BANDS:
        start, limit = alert.get(start_key), _limit(alert, phase)
        if start is not None and limit is not None:
            title = f"{phase} limit {limit[0]:.2f}s ({limit[1]})"
            bands.append(_Band(x(start), limit[0] * scale, fill, title))
    dots = [
        _Dot(x(alert[key]), 5, _COLOURS.get(key[:-3], "#333"), f"{key[:-3]} at +{alert[key]:.2f}s")
        for key in _EVENTS
        if alert.get(key) is not None
    ]
    value = alert.get("resolved_notified_at")
    if value is not None:
        dots.append(_Dot(x(value), 4, _COLOURS["resolved_notified"], f"resolved notification at +{value:.2f}s"))
    return _Row(str(alert["alert"]), y, bands, dots)


def _timeline_chart(doc: dict[str, Any]) -> _Chart:
    """One row per expected alert: fault → pending → firing → notified → reverted → resolved, with the
    fire and resolve limits drawn as shaded bands."""
    alerts = doc.get("alerts") or []
    span = max(float(doc.get("duration") or 1.0), 1.0)
    width, left, row = 900, 190, 46
    scale = (width - left - 20) / span
    step = max(1.0, round(span / 10))
    ticks = [(left + i * step * scale, f"{i * step:g}s") for i in range(int(span // step) + 1)]
    rows = [_timeline_row(alert, 40 + index * row, left, scale) for index, alert in enumerate(alerts)]
    return _Chart(scenario_id(doc), width, 40 + row * max(len(alerts), 1), left, ticks, rows)


def render_timeline_svg(doc: dict[str, Any]) -> str:
    """The timeline chart of one run's JSON report as a standalone SVG (the chart of the HTML report)."""
    return render("scenario_timeline.svg.j2", chart=_timeline_chart(doc))


#: where a phase's limit comes from (the ``bound_source`` of a report's alert)
_SOURCE_WORDS = {
    "within": "{key}, set in the scenario",
    "computed": "computed bound + tolerance",
    "default": "a default: no bound, the rule was not loaded",
}
_BOUND_KEYS = {"fire": "fire", "clear": "resolve", "notify": "notify", "notify_resolved": "notify_resolved"}


def _limit(alert: dict[str, Any], phase: str) -> tuple[float, str] | None:
    """The limit that judged ``phase`` of one alert and where it comes from; for a report written before
    limits were recorded, the computed bound."""
    limits = alert.get("limits") or {}
    if phase in limits:
        source = str((alert.get("bound_source") or {}).get(phase, "computed"))
        words = _SOURCE_WORDS.get(source, source).format(key="within" if phase == "fire" else "clear_within")
        return float(limits[phase]), words
    bound = (alert.get("bounds") or {}).get(_BOUND_KEYS[phase])
    return None if bound is None else (float(bound), "computed bound")


def _limit_text(alert: dict[str, Any], phase: str) -> str:
    limit = _limit(alert, phase)
    return "—" if limit is None else f"{limit[0]:.2f} ({limit[1]})"


_PHASE_WORDS = {"fire": "fire", "notify": "notification", "clear": "clear", "notify_resolved": "resolved notification"}


def worst_margin(doc: dict[str, Any]) -> tuple[float, str, str] | None:
    """The smallest margin (limit minus measured) of a scenario's timed phases: (seconds, alert, phase)."""
    worst: tuple[float, str, str] | None = None
    for alert in doc.get("alerts") or []:
        for phase, margin in (alert.get("margins") or {}).items():
            if worst is None or float(margin) < worst[0]:
                worst = (float(margin), str(alert.get("alert", "")), _PHASE_WORDS.get(phase, phase))
    return worst


def _verdict(doc: dict[str, Any]) -> str:
    """What the summary says of one scenario: why it failed, else its worst margin."""
    if doc["status"] in ("error", "stopped") and doc.get("error"):
        return str(doc["error"])
    failures = [a for a in doc["assertions"]["results"] if not a["passed"]]
    if failures:
        first = failures[0]
        more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        return f"{first['name']}: {first['message'] or first['actual']}{more}"
    worst = worst_margin(doc)
    if worst is None:
        return "no timed phase"
    return f"worst margin {worst[0]:.2f}s ({worst[1]} {worst[2]})"


def _silent(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in doc["assertions"]["results"] if str(a["name"]).endswith(" must not fire")]


def _asserted(doc: dict[str, Any]) -> str:
    fire, silent = len(doc.get("alerts") or []), len(_silent(doc))
    return f"{fire} must fire · {silent} must not fire" if fire or silent else "none"


def _anchor(index: int, name: str) -> str:
    return f"s{index + 1}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")


def _scenario_faults(doc: dict[str, Any]) -> list[str]:
    """The faults the scenario injected (not its setup, e.g. ``setup-market``)."""
    faults = (doc.get("chaos") or {}).get("faults") or []
    return [str(f["name"]) for f in faults if not str(f["name"]).startswith("setup-")]


def no_alert_summary(doc: dict[str, Any]) -> str:
    """What a scenario that asserts no alert firing (a steady state) asserted, in one sentence — in place
    of an empty chart and an empty alert table."""
    faults = _scenario_faults(doc)
    if faults:
        lead = f"No alert was expected to fire; faults injected: {', '.join(faults)}."
    else:
        lead = "Steady state: no fault was injected and no alert was expected to fire."
    results = doc["assertions"]["results"]
    if not results:
        return f"{lead} Its expectations were not judged: the run ended before."
    window = f"during the {float(doc['duration']):.1f} s run"
    silent = _silent(doc)
    fired = [str(a["name"]).removesuffix(" must not fire") for a in silent if not a["passed"]]
    if fired:
        said = f"{len(fired)} of the {len(silent)} alerts that must stay silent fired {window}: {', '.join(fired)}"
    elif silent:
        said = f"None of the {len(silent)} alerts that must stay silent fired {window}"
    else:
        said = "No alert was required to stay silent"
    others = [a for a in results if a not in silent]
    held = [str(a["name"]) for a in others if a["passed"]]
    broken = [str(a["name"]) for a in others if not a["passed"]]
    if held:
        said += f"; held: {', '.join(held)}"
    if broken:
        said += f"; did not hold: {', '.join(broken)}"
    return f"{lead} {said}."


@dataclass(frozen=True)
class _Section:
    """One scenario as the HTML report shows it: its result document and what is said of it."""

    doc: dict[str, Any]
    anchor: str
    asserted: str
    verdict: str
    steady: str  # what a scenario expecting no alert asserted, said instead of its chart ("" with alerts)
    chart: _Chart | None


def _section(index: int, doc: dict[str, Any]) -> _Section:
    return _Section(
        doc,
        _anchor(index, scenario_id(doc)),
        _asserted(doc),
        _verdict(doc),
        "" if doc["alerts"] else no_alert_summary(doc),
        _timeline_chart(doc) if doc["alerts"] else None,
    )


def render_html(docs: Sequence[dict[str, Any]]) -> str:
    """The self-contained HTML report of one or more scenario runs: with several, a summary table first
    (status, duration, alerts asserted, worst margin or why it failed; each row links to its section).
    A scenario that asserts no alert firing (a steady state) gets one sentence saying what it asserted
    instead of an empty chart and alert table."""
    return render(
        "scenarios.html.j2",
        scenarios=[_section(index, doc) for index, doc in enumerate(docs)],
        passed=sum(1 for d in docs if d["status"] == "passed"),
        colours=_COLOURS,
        limit_text=_limit_text,
    )


def render_junit(docs: Sequence[dict[str, Any]]) -> str:
    """One testsuite per scenario, one testcase per assertion."""
    root = ET.Element("testsuites", name="obs-tests scenarios")
    for doc in docs:
        results = doc["assertions"]["results"]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=scenario_id(doc),
            tests=str(len(results) or 1),
            failures=str(doc["assertions"]["failed"]),
            errors="1" if doc["status"] in ("error", "stopped") else "0",
            time=f"{doc['duration']:.3f}",
        )
        if doc["status"] in ("error", "stopped"):
            case = ET.SubElement(suite, "testcase", classname=scenario_id(doc), name="run")
            ET.SubElement(case, "error", message=str(doc.get("error") or doc["status"]))
        for result in results:
            case = ET.SubElement(suite, "testcase", classname=scenario_id(doc), name=str(result["name"]))
            if not result["passed"]:
                failure = ET.SubElement(case, "failure", message=str(result["message"] or result["actual"]))
                failure.text = f"expected: {result['expected']}\nactual: {result['actual']}"
    return ET.tostring(root, encoding="unicode")


def render_markdown(docs: Sequence[dict[str, Any]]) -> str:
    """A Markdown summary: status per scenario and the alert timing table."""
    failures = [(scenario_id(d), a) for d in docs for a in d["assertions"]["results"] if not a["passed"]]
    return render("scenarios.md.j2", docs=docs, failures=failures, limit_text=_limit_text)


def parse_formats(text: str) -> tuple[str, ...]:
    """``json,html`` → ('json', 'html'), refusing unknown formats."""
    formats = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UsageError(f"--format {text}: unknown format {', '.join(unknown) or '(none)'} — use {', '.join(FORMATS)}")
    return formats


def write_reports(
    results: Sequence[ScenarioResult], report_dir: Path, formats: Sequence[str] = ("json", "html")
) -> list[Path]:
    """Write the reports into a new timestamped run directory and return the files."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = report_dir / "scenarios" / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = report_dir / "scenarios" / f"{stamp}-{suffix}"
    run_dir.mkdir(parents=True)
    docs = [r.to_json() for r in results]
    written = []
    if "json" in formats:
        for doc in docs:
            path = run_dir / f"{scenario_id(doc)}.json"
            path.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
            written.append(path)
    if "html" in formats:
        path = run_dir / "report.html"
        path.write_text(render_html(docs), encoding="utf-8")
        written.append(path)
    if "junit" in formats:
        path = run_dir / "junit.xml"
        path.write_text(render_junit(docs), encoding="utf-8")
        written.append(path)
    if "md" in formats:
        path = run_dir / "report.md"
        path.write_text(render_markdown(docs), encoding="utf-8")
        written.append(path)
    return written


def write_output(results: Sequence[ScenarioResult], path: Path) -> Path:
    """``scenario run --output FILE``: the result of the run by the file's suffix — ``.html``, ``.md``, else
    JSON (one scenario's result document; a list of them when several ran)."""
    if path.suffix in (".html", ".htm", ".md"):
        if len(results) == 1:
            fmt = "html" if path.suffix != ".md" else "markdown"
            return write_run_report(results[0], fmt, path, events=False, statistics=True)
        docs = [r.to_json() for r in results]
        text = render_html(docs) if path.suffix != ".md" else render_markdown(docs)
    else:
        docs = [r.to_json() for r in results]
        text = json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_run_report(result: ScenarioResult, fmt: str, path: Path, *, events: bool, statistics: bool) -> Path:
    """One run's report as a scenario's ``setup.report`` (or ``scenario run --output``) asks: ``json``,
    ``html`` or ``markdown`` at ``path``; ``events``: with every bus event of the run, ``statistics``: with
    the event, chaos and exchange statistics."""
    doc = result.to_json(include_events=events)
    if not statistics:
        for key in ("events", "exchange"):
            doc[key] = None
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        text = json.dumps(doc, indent=2, default=str)
    elif fmt == "html":
        text = render_html([doc])
    elif fmt in ("markdown", "md"):
        text = render_markdown([doc])
    else:
        raise UsageError(f"report format {fmt!r}: use json, html or markdown")
    path.write_text(text, encoding="utf-8")
    return path
