"""Scenario reports: JSON, self-contained HTML (a summary table, then per scenario a timeline chart with
the limits that judged it), JUnit XML, Markdown.

``write_reports(results, report_dir, formats)`` writes them under a timestamped run directory
``<report_dir>/scenarios/<YYYYmmdd-HHMMSS>/`` and returns the paths. The HTML has no external resource
(inline CSS and SVG): it opens offline, as a CI artifact.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from obs_tests.errors import UsageError
from obs_tests.scenarios.results import ScenarioResult

__all__ = [
    "FORMATS",
    "no_alert_summary",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_timeline_svg",
    "worst_margin",
    "write_reports",
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


def _timeline_svg(doc: dict[str, Any]) -> str:
    """One row per expected alert: fault → pending → firing → notified → reverted → resolved, with the
    fire and resolve bounds drawn as shaded bands."""
    alerts = doc.get("alerts") or []
    span = max(float(doc.get("duration") or 1.0), 1.0)
    width, left, row = 900, 190, 46
    height = 40 + row * max(len(alerts), 1)
    scale = (width - left - 20) / span

    def x(t: float) -> float:
        return left + max(0.0, t) * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="timeline of {html.escape(str(doc["scenario"]))}">',
        f'<line x1="{left}" y1="20" x2="{width - 20}" y2="20" stroke="#999"/>',
    ]
    ticks = max(1, int(span // 10) or 1)
    step = max(1.0, round(span / 10))
    for i in range(int(span // step) + 1):
        t = i * step
        parts.append(f'<text x="{x(t):.1f}" y="14" font-size="10" text-anchor="middle">{t:g}s</text>')
    del ticks
    for index, alert in enumerate(alerts):
        y = 40 + index * row
        parts.append(f'<text x="4" y="{y + 14}" font-size="12">{html.escape(alert["alert"])}</text>')
        for start_key, phase, fill in (("fault_at", "fire", "#ffe0d6"), ("reverted_at", "clear", "#d6e8ff")):
            start, limit = alert.get(start_key), _limit(alert, phase)
            if start is not None and limit is not None:
                parts.append(
                    f'<rect x="{x(start):.1f}" y="{y}" width="{limit[0] * scale:.1f}" height="20" fill="{fill}" '
                    f'opacity="0.8"><title>{phase} limit {limit[0]:.2f}s ({html.escape(limit[1])})</title></rect>'
                )
        for key in ("fault_at", "pending_at", "firing_at", "notified_at", "reverted_at", "resolved_at"):
            value = alert.get(key)
            if value is None:
                continue
            label = key[:-3]
            colour = _COLOURS.get(label, "#333")
            parts.append(
                f'<circle cx="{x(value):.1f}" cy="{y + 10}" r="5" fill="{colour}">'
                f"<title>{label} at +{value:.2f}s</title></circle>"
            )
        value = alert.get("resolved_notified_at")
        if value is not None:
            parts.append(
                f'<circle cx="{x(value):.1f}" cy="{y + 10}" r="4" fill="{_COLOURS["resolved_notified"]}">'
                f"<title>resolved notification at +{value:.2f}s</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def render_timeline_svg(doc: dict[str, Any]) -> str:
    """The timeline chart of one run's JSON report as a standalone SVG (the chart of the HTML report)."""
    return _timeline_svg(doc)


def _legend() -> str:
    items = "".join(
        f'<span class="legend"><span class="dot" style="background:{c}"></span>'
        f"{html.escape(k.replace('_', ' '))}</span>"
        for k, c in _COLOURS.items()
    )
    return f'<p>{items} <span class="legend">shaded: the fire limit (red) and the clear limit (blue)</span></p>'


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


def _summary_table(docs: Sequence[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr class="{"ok" if doc["status"] == "passed" else "bad"}">'
        f'<td><a href="#{_anchor(index, str(doc["scenario"]))}">{html.escape(str(doc["scenario"]))}</a></td>'
        f'<td><span class="status {html.escape(str(doc["status"]))}">{html.escape(str(doc["status"]))}</span></td>'
        f"<td>{float(doc['duration']):.1f}s</td><td>{html.escape(_asserted(doc))}</td>"
        f"<td>{html.escape(_verdict(doc))}</td></tr>"
        for index, doc in enumerate(docs)
    )
    return (
        '<table class="summary"><tr><th>scenario</th><th>status</th><th>duration</th><th>alerts asserted</th>'
        f"<th>worst margin, or why it failed</th></tr>{rows}</table>"
    )


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


def render_html(docs: Sequence[dict[str, Any]]) -> str:
    """The self-contained HTML report of one or more scenario runs: with several, a summary table first
    (status, duration, alerts asserted, worst margin or why it failed; each row links to its section).
    A scenario that asserts no alert firing (a steady state) gets one sentence saying what it asserted
    instead of an empty chart and alert table."""
    sections = []
    for index, doc in enumerate(docs):
        status = str(doc["status"])
        rows = "".join(
            f'<tr class="{"ok" if a["passed"] else "bad"}"><td>{"✔" if a["passed"] else "✘"}</td>'
            f"<td>{html.escape(a['name'])}</td><td>{html.escape(a['expected'])}</td>"
            f"<td>{html.escape(a['actual'])}</td><td>{html.escape(a['message'])}</td></tr>"
            for a in doc["assertions"]["results"]
        )
        chaos = doc.get("chaos") or {}
        faults = "".join(
            f"<li>{html.escape(f['name'])}: {html.escape(f['what'])} — applied +{_num(f['applied_at'])}, "
            f"reverted +{_num(f['reverted_at'])}</li>"
            for f in chaos.get("faults", [])
        )
        if doc["alerts"]:
            timings = "".join(
                f"<tr><td>{html.escape(t['alert'])}</td><td>{html.escape(t['fault'])}</td>"
                f"<td>{_num(t['fired_after'])}</td><td>{html.escape(_limit_text(t, 'fire'))}</td>"
                f"<td>{_num(t['notified_after'])}</td><td>{_num(t['resolved_after'])}</td>"
                f"<td>{html.escape(_limit_text(t, 'clear'))}</td><td>{_num(t['detection_overhead'])}</td></tr>"
                for t in doc["alerts"]
            )
            alerts = (
                _timeline_svg(doc)
                + _legend()
                + "<h3>Alerts: measured vs the limit that judged them (seconds)</h3><table><tr><th>alert</th>"
                "<th>fault</th><th>fired after</th><th>fire limit (source)</th><th>notified after firing</th>"
                "<th>resolved after revert</th><th>clear limit (source)</th><th>detection overhead</th></tr>"
                f"{timings}</table>"
            )
        else:
            mark = "" if status == "passed" else " bad"
            alerts = f'<p class="steady{mark}">{html.escape(no_alert_summary(doc))}</p>'
        sections.append(
            f'<section id="{_anchor(index, str(doc["scenario"]))}"><h2>{html.escape(doc["scenario"])} '
            f'<span class="status {html.escape(status)}">{html.escape(status)}</span></h2>'
            f"<p>{html.escape(doc.get('description') or '')}</p>"
            f"<p>duration {doc['duration']:.1f}s · time scale {doc['time_scale']:g} · assertions "
            f"{doc['assertions']['passed']}/{doc['assertions']['total']} · faults applied "
            f"{chaos.get('applied', 0)}, reverted {chaos.get('reverted', 0)}</p>"
            + (f'<p class="bad">{html.escape(doc["error"])}</p>' if doc.get("error") else "")
            + alerts
            + "<h3>Assertions</h3><table><tr><th></th><th>name</th><th>expected</th><th>actual</th>"
            f"<th>message</th></tr>{rows}</table>"
            + (f"<h3>Chaos</h3><ul>{faults}</ul>" if faults else "")
            + "</section>"
        )
    style = (
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}tr.bad{background:#fde2e1}"
        ".status{font-size:14px;padding:2px 8px;border-radius:4px;color:#fff}.passed{background:#2ca02c}"
        ".failed,.error{background:#d62728}.stopped{background:#999}p.bad{color:#d62728}"
        ".summary .status{font-size:12px}p.steady{background:#eef6ee;padding:6px 10px;border-radius:4px}"
        "p.steady.bad{background:#fde2e1;color:#222}"
        ".legend{margin-right:12px;font-size:12px}.dot{display:inline-block;width:10px;height:10px;"
        "border-radius:5px;margin-right:4px}"
    )
    passed = sum(1 for d in docs if d["status"] == "passed")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>obs-tests scenarios</title>'
        f"<style>{style}</style></head><body><h1>obs-tests scenarios: {passed}/{len(docs)} passed</h1>"
        + (_summary_table(docs) if len(docs) > 1 else "")
        + "".join(sections)
        + "</body></html>"
    )


def _num(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}"


def render_junit(docs: Sequence[dict[str, Any]]) -> str:
    """One testsuite per scenario, one testcase per assertion."""
    root = ET.Element("testsuites", name="obs-tests scenarios")
    for doc in docs:
        results = doc["assertions"]["results"]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=str(doc["scenario"]),
            tests=str(len(results) or 1),
            failures=str(doc["assertions"]["failed"]),
            errors="1" if doc["status"] in ("error", "stopped") else "0",
            time=f"{doc['duration']:.3f}",
        )
        if doc["status"] in ("error", "stopped"):
            case = ET.SubElement(suite, "testcase", classname=str(doc["scenario"]), name="run")
            ET.SubElement(case, "error", message=str(doc.get("error") or doc["status"]))
        for result in results:
            case = ET.SubElement(suite, "testcase", classname=str(doc["scenario"]), name=str(result["name"]))
            if not result["passed"]:
                failure = ET.SubElement(case, "failure", message=str(result["message"] or result["actual"]))
                failure.text = f"expected: {result['expected']}\nactual: {result['actual']}"
    return ET.tostring(root, encoding="unicode")


def render_markdown(docs: Sequence[dict[str, Any]]) -> str:
    """A Markdown summary: status per scenario and the alert timing table."""
    lines = ["# obs-tests scenarios", "", "| scenario | status | assertions | duration |", "|---|---|---|---|"]
    for doc in docs:
        lines.append(
            f"| {doc['scenario']} | {doc['status']} | {doc['assertions']['passed']}/{doc['assertions']['total']} "
            f"| {doc['duration']:.1f}s |"
        )
    lines += [
        "",
        "| scenario | alert | fired after | fire limit (source) | resolved after | clear limit (source) | overhead |",
        "|---|---|---|---|---|---|---|",
    ]
    for doc in docs:
        for t in doc["alerts"]:
            lines.append(
                f"| {doc['scenario']} | {t['alert']} | {_num(t['fired_after'])} | {_limit_text(t, 'fire')} | "
                f"{_num(t['resolved_after'])} | {_limit_text(t, 'clear')} | {_num(t['detection_overhead'])} |"
            )
    failures = [(d["scenario"], a) for d in docs for a in d["assertions"]["results"] if not a["passed"]]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- **{name}** — {a['name']}: {a['message'] or a['actual']}" for name, a in failures]
    return "\n".join(lines) + "\n"


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
            path = run_dir / f"{doc['scenario']}.json"
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
