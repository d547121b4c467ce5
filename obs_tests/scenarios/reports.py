"""Scenario reports: JSON, self-contained HTML (timeline chart with bounds), JUnit XML, Markdown.

``write_reports(results, report_dir, formats)`` writes them under a timestamped run directory
``<report_dir>/scenarios/<YYYYmmdd-HHMMSS>/`` and returns the paths. The HTML has no external resource
(inline CSS and SVG): it opens offline, as a CI artifact.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from obs_tests.errors import UsageError
from obs_tests.scenarios.runner import ScenarioResult

__all__ = ["FORMATS", "render_html", "render_junit", "render_markdown", "render_timeline_svg", "write_reports"]

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
        bounds = alert.get("bounds") or {}
        fault_at = alert.get("fault_at")
        if fault_at is not None and bounds:
            parts.append(
                f'<rect x="{x(fault_at):.1f}" y="{y}" width="{bounds["fire"] * scale:.1f}" height="20" '
                'fill="#ffe0d6" opacity="0.8"><title>fire bound '
                f"{bounds['fire']:.2f}s</title></rect>"
            )
        reverted_at = alert.get("reverted_at")
        if reverted_at is not None and bounds:
            parts.append(
                f'<rect x="{x(reverted_at):.1f}" y="{y}" width="{bounds["resolve"] * scale:.1f}" height="20" '
                'fill="#d6e8ff" opacity="0.8"><title>resolve bound '
                f"{bounds['resolve']:.2f}s</title></rect>"
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
    return f'<p>{items} <span class="legend">shaded: fire bound (red), resolve bound (blue)</span></p>'


def render_html(docs: Sequence[dict[str, Any]]) -> str:
    """The self-contained HTML report of one or more scenario runs."""
    sections = []
    for doc in docs:
        status = str(doc["status"])
        rows = "".join(
            f'<tr class="{"ok" if a["passed"] else "bad"}"><td>{"✔" if a["passed"] else "✘"}</td>'
            f"<td>{html.escape(a['name'])}</td><td>{html.escape(a['expected'])}</td>"
            f"<td>{html.escape(a['actual'])}</td><td>{html.escape(a['message'])}</td></tr>"
            for a in doc["assertions"]["results"]
        )
        timings = "".join(
            f"<tr><td>{html.escape(t['alert'])}</td><td>{html.escape(t['fault'])}</td>"
            f"<td>{_num(t['fired_after'])}</td><td>{_num((t['bounds'] or {}).get('fire'))}</td>"
            f"<td>{_num(t['notified_after'])}</td><td>{_num(t['resolved_after'])}</td>"
            f"<td>{_num((t['bounds'] or {}).get('resolve'))}</td><td>{_num(t['detection_overhead'])}</td></tr>"
            for t in doc["alerts"]
        )
        chaos = doc.get("chaos") or {}
        faults = "".join(
            f"<li>{html.escape(f['name'])}: {html.escape(f['what'])} — applied +{_num(f['applied_at'])}, "
            f"reverted +{_num(f['reverted_at'])}</li>"
            for f in chaos.get("faults", [])
        )
        sections.append(
            f'<section><h2>{html.escape(doc["scenario"])} <span class="status {status}">{status}</span></h2>'
            f"<p>{html.escape(doc.get('description') or '')}</p>"
            f"<p>duration {doc['duration']:.1f}s · time scale {doc['time_scale']:g} · assertions "
            f"{doc['assertions']['passed']}/{doc['assertions']['total']} · faults applied "
            f"{chaos.get('applied', 0)}, reverted {chaos.get('reverted', 0)}</p>"
            + (f'<p class="bad">{html.escape(doc["error"])}</p>' if doc.get("error") else "")
            + _timeline_svg(doc)
            + _legend()
            + "<h3>Alerts: measured vs bound (seconds)</h3><table><tr><th>alert</th><th>fault</th><th>fired after</th>"
            "<th>fire bound</th><th>notified after firing</th><th>resolved after revert</th><th>resolve bound</th>"
            f"<th>detection overhead</th></tr>{timings}</table>"
            f"<h3>Assertions</h3><table><tr><th></th><th>name</th><th>expected</th><th>actual</th><th>message</th></tr>"
            f"{rows}</table><h3>Chaos</h3><ul>{faults}</ul></section>"
        )
    style = (
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}tr.bad{background:#fde2e1}"
        ".status{font-size:14px;padding:2px 8px;border-radius:4px;color:#fff}.passed{background:#2ca02c}"
        ".failed,.error{background:#d62728}.stopped{background:#999}p.bad{color:#d62728}"
        ".legend{margin-right:12px;font-size:12px}.dot{display:inline-block;width:10px;height:10px;"
        "border-radius:5px;margin-right:4px}"
    )
    passed = sum(1 for d in docs if d["status"] == "passed")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>obs-tests scenarios</title>'
        f"<style>{style}</style></head><body><h1>obs-tests scenarios: {passed}/{len(docs)} passed</h1>"
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
        "| scenario | alert | fired after | bound | resolved after | bound | overhead |",
        "|---|---|---|---|---|---|---|",
    ]
    for doc in docs:
        for t in doc["alerts"]:
            b = t["bounds"] or {}
            lines.append(
                f"| {doc['scenario']} | {t['alert']} | {_num(t['fired_after'])} | {_num(b.get('fire'))} | "
                f"{_num(t['resolved_after'])} | {_num(b.get('resolve'))} | {_num(t['detection_overhead'])} |"
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
