"""The report of one ``obs-tests check`` run: a JSON document (schema ``obs_tests/schemas/report.schema.json``),
a self-contained HTML page and a Markdown summary for a CI job summary — next to JUnit XML.

One section per check family (targets, metrics, rules, alerting, chaos, dashboards, grafana, load, health),
the scenario lanes (which stack ran which chaos scenario, from when to when) and a coverage summary: alerts
exercised (fired and cleared by a chaos scenario) / alert rules, dashboard panels with data / panels,
metrics declared / exported / referenced.

Example::

    document = build_report(summary, scenarios=load_scenario_results(report_dir, since=start), alerts=names)
    write_reports(document, Path("reports"))   # report.json, report.html, summary.md
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obs_tests.config.contract import Contract
from obs_tests.errors import PromQLSyntaxError
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


def _chaos(scenarios: Sequence[Mapping[str, Any]], started_at: float | None) -> dict[str, Any]:
    spans = [_span(doc) for doc in scenarios]
    origin = started_at or min((span[0] for span in spans if span), default=0.0)
    rows = []
    for doc, span in zip(scenarios, spans, strict=True):
        rows.append(
            {
                "scenario": str(doc.get("scenario", "")),
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
    failed = counts["failed"] or counts["error"]
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.fromtimestamp(generated_at or time.time(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "contract": str(summary.get("contract", "")),
        "stack": str(summary.get("stack", "")),
        "status": "failed" if failed else "passed",
        "counts": counts,
        "duration_seconds": round(float(summary.get("duration_seconds") or 0.0), 3),
        "families": _families(tests),
        "chaos": _chaos(scenarios, started_at),
        "health": health,
        "coverage": {
            "alerts": _alert_coverage(
                sorted(set(alerts)), scenarios, sorted(set(always_firing)), sections.get("scenario_coverage")
            ),
            "panels": _panel_coverage(sections.get("dashboards_coverage")),
            "metrics": _metric_coverage(sections.get("metrics_coverage")),
        },
        "sections": sections,
    }


# -- Markdown --------------------------------------------------------------------------------------

_MARK = {"passed": "✅", "failed": "❌", "error": "❌", "skipped": "⏭️", "not run": "—"}


def _ratio(part: int, whole: int) -> str:
    return f"{part}/{whole}" + (f" ({part / whole:.0%})" if whole else "")


def _coverage_lines(coverage: Mapping[str, Any]) -> list[str]:
    alerts = coverage["alerts"]
    lines = [f"alerts exercised (fired and cleared): {_ratio(alerts['exercised'], alerts['total'])}"]
    if alerts.get("not_applicable"):
        lines[0] = f"alerts exercised (fired and cleared): not applicable — {alerts['not_applicable']}"
    elif alerts["always_firing"]:
        lines[0] += f" (always firing, not counted: {', '.join(alerts['always_firing'])})"
    panels = coverage.get("panels")
    lines.append(
        f"dashboard panels with data: {_ratio(panels['with_data'], panels['total'])}"
        + (f", {panels['declared_empty']} declared empty" if panels["declared_empty"] else "")
        if panels
        else "dashboard panels with data: not measured"
    )
    metrics = coverage.get("metrics")
    lines.append(
        f"metrics: {metrics['declared']} declared, {metrics['exported']} exported, {metrics['referenced']} referenced"
        + (
            f" — missing: {', '.join(metrics['declared_missing'] + metrics['referenced_missing'])}"
            if metrics["declared_missing"] or metrics["referenced_missing"]
            else ""
        )
        if metrics
        else "metrics: not measured"
    )
    return lines


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(document: Mapping[str, Any], failures_shown: int = 20) -> str:
    """A Markdown summary for a CI job summary (``$GITHUB_STEP_SUMMARY``)."""
    counts = document["counts"]
    status = "✅ passed" if document["status"] == "passed" else "❌ failed"
    lines = [
        f"## obs-tests check — {status}",
        "",
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['error']} errors, {counts['skipped']} skipped "
        f"in {document['duration_seconds']:.1f}s · {_md(document['stack'])} · contract `{document['contract']}`",
        "",
        "| family | result | passed | failed | skipped |",
        "|---|---|---:|---:|---:|",
    ]
    for name, family in document["families"].items():
        c = family["counts"]
        lines.append(
            f"| {name} | {_MARK[family['status']]} {family['status']} | {c['passed']} | {c['failed'] + c['error']} "
            f"| {c['skipped']} |"
        )
    lines += ["", "**Coverage**", ""]
    lines += [f"- {line}" for line in _coverage_lines(document["coverage"])]
    health = document.get("health")
    if health:
        lines += ["", f"**Health**: `{_md(str(health.get('summary', '')).split(' | ')[0])}`"]
    failures = [
        (name, t) for name, f in document["families"].items() for t in f["tests"] if t["outcome"] in ("failed", "error")
    ]
    if failures:
        lines += ["", f"**Failures** ({len(failures)})", ""]
        for name, test in failures[:failures_shown]:
            message = test["message"].splitlines()[0] if test["message"] else ""
            lines.append(f"- `{name}: {test['name']}` — {_md(message)[:300]}")
        if len(failures) > failures_shown:
            lines.append(f"- … and {len(failures) - failures_shown} more (see report.html)")
    warnings = [(name, t, w) for name, f in document["families"].items() for t in f["tests"] for w in t["warnings"]]
    if warnings:
        lines += ["", f"**Warnings** ({len(warnings)}: the contract's policy reports them without failing)", ""]
        for name, test, warning in warnings[:failures_shown]:
            lines.append(f"- `{name}: {test['name']}` — {_md(warning)[:300]}")
        if len(warnings) > failures_shown:
            lines.append(f"- … and {len(warnings) - failures_shown} more (see report.json)")
    return "\n".join(lines) + "\n"


# -- HTML ------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{padding:18px 28px;color:#fff}header.passed{background:#1f7a4d}header.failed{background:#b3261e}
header h1{margin:0 0 4px;font-size:20px}main{padding:8px 28px 28px}
section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;margin:14px 0;padding:12px 16px}
h2{font-size:16px;margin:4px 0 10px}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{font-weight:600;color:#5a6272}.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff}
.passed .badge,.b-passed,.b-OK{background:#1f7a4d}.b-failed,.b-error,.b-CRITICAL{background:#b3261e}
.b-skipped,.b-SKIP,.b-not-run{background:#8a93a3}.b-WARNING{background:#b26a00}.b-UNKNOWN{background:#6b4fa3}
.bar{background:#eef0f3;border-radius:4px;height:10px;width:220px;display:inline-block;vertical-align:middle}
.bar span{display:block;height:10px;border-radius:4px;background:#1f7a4d}
.msg{font-family:ui-monospace,Menlo,monospace;font-size:12px;white-space:pre-wrap;color:#8b1a13}
.muted{color:#5a6272}.nw{white-space:nowrap}
.cards{display:flex;gap:14px;flex-wrap:wrap}.card{flex:1 1 220px}.card .big{font-size:24px;font-weight:650}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _badge(label: str) -> str:
    return f'<span class="badge b-{_e(label.replace(" ", "-"))}">{_e(label)}</span>'


def _bar(part: int, whole: int) -> str:
    width = 0 if not whole else round(100 * part / whole)
    return f'<span class="bar"><span style="width:{width}%"></span></span>'


def _card(
    title: str, part: int | None, whole: int | None, note: str = "", absent: str = "not measured in this run"
) -> str:
    if part is None or whole is None:
        body = f'<div class="big muted">—</div><div class="muted">{_e(absent)}</div>'
    else:
        body = f'<div class="big">{part}/{whole}</div>{_bar(part, whole)} <span class="muted">{_e(note)}</span>'
    return f'<section class="card"><h2>{_e(title)}</h2>{body}</section>'


def _seconds(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}s"


_LANE_FILL = {"passed": "#1f7a4d", "failed": "#b3261e", "error": "#b3261e"}


def _lanes_svg(scenarios: Sequence[Mapping[str, Any]]) -> str:
    """Which stack (lane) ran which scenario, from when to when: one row per lane, a bar per scenario
    (red: failed or error; its tooltip gives the name, result and times), seconds from the run's start."""
    timed = [r for r in scenarios if r.get("started_offset_seconds") is not None]
    if not timed:
        return ""
    lanes: list[str] = []
    for row in sorted(timed, key=lambda r: float(r["started_offset_seconds"])):
        if (row.get("lane") or "stack") not in lanes:
            lanes.append(row.get("lane") or "stack")
    span = max([float(r["ended_offset_seconds"]) for r in timed] + [1.0])
    width, left, lane_height = 900, 140, 26
    height = 34 + lane_height * len(lanes)
    scale = (width - left - 20) / span
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'style="max-width:100%;height:auto" role="img" aria-label="scenario lanes">',
        f'<line x1="{left}" y1="22" x2="{width - 20}" y2="22" stroke="#8a93a3"/>',
    ]
    step = max(1, math.ceil(span / 10))
    for tick in range(0, int(span) + 1, step):
        parts.append(f'<text x="{left + tick * scale:.1f}" y="16" font-size="10" text-anchor="middle">{tick}s</text>')
    for index, lane in enumerate(lanes):
        y = 28 + index * lane_height
        parts.append(f'<text x="4" y="{y + 14}" font-size="12">{_e(lane)}</text>')
        for row in timed:
            if (row.get("lane") or "stack") != lane:
                continue
            start, end = float(row["started_offset_seconds"]), float(row["ended_offset_seconds"])
            x, bar = left + start * scale, max((end - start) * scale, 2.0)
            fill = _LANE_FILL.get(str(row["status"]), "#8a93a3")
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{bar:.1f}" height="18" rx="3" fill="{fill}" stroke="#fff">'
                f"<title>{_e(row['scenario'])} — {_e(row['status'])} on {_e(lane)}, "
                f"+{start:.1f}s to +{end:.1f}s ({end - start:.1f}s)</title></rect>"
            )
            name = str(row["scenario"])
            if bar >= 7 * len(name) + 6:
                parts.append(
                    f'<text x="{x + 4:.1f}" y="{y + 13}" font-size="11" fill="#fff" pointer-events="none">'
                    f"{_e(name)}</text>"
                )
    parts.append("</svg>")
    return "".join(parts)


def _limit_cell(alert: Mapping[str, Any], phase: str) -> str:
    limit = (alert.get("limits") or {}).get(phase)
    if limit is None:
        return "—"
    source = str((alert.get("bound_source") or {}).get(phase, "computed"))
    words = {"within": "set in the scenario", "computed": "bound + tolerance", "default": "default"}.get(source, source)
    return f"{_seconds(limit)} <span class=muted>{_e(words)}</span>"


def render_html(document: Mapping[str, Any]) -> str:
    """One self-contained HTML page (no external assets, every value escaped)."""
    counts = document["counts"]
    coverage = document["coverage"]
    alerts, panels, metrics = coverage["alerts"], coverage.get("panels"), coverage.get("metrics")
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>obs-tests check — {_e(document['status'])}</title><style>{_CSS}</style></head><body>",
        f'<header class="{_e(document["status"])}"><h1>obs-tests check — {_e(document["status"])}</h1>',
        f"<div>{counts['passed']} passed · {counts['failed']} failed · {counts['error']} errors · "
        f"{counts['skipped']} skipped · {document['duration_seconds']:.1f}s · {_e(document['stack'])} · "
        f"contract {_e(document['contract'])} · {_e(document['generated_at'])}</div></header><main>",
        '<div class="cards">',
        _card(
            "Alerts exercised",
            None if alerts.get("not_applicable") else alerts["exercised"],
            alerts["total"],
            "fired and cleared by a scenario",
            f"not applicable — {alerts.get('not_applicable')}",
        ),
        _card("Panels with data", panels["with_data"] if panels else None, panels["total"] if panels else None),
        _card(
            "Metrics declared / exported / referenced",
            None if metrics is None else metrics["declared"] - len(metrics["declared_missing"]),
            None if metrics is None else metrics["declared"],
            "" if metrics is None else f"{metrics['exported']} exported, {metrics['referenced']} referenced",
        ),
        "</div>",
    ]
    parts.append(
        "<section><h2>Check families</h2><table><tr><th>family</th><th>result</th>"
        "<th class=num>passed</th><th class=num>failed</th><th class=num>skipped</th></tr>"
    )
    for name, family in document["families"].items():
        c = family["counts"]
        parts.append(
            f'<tr><td><a href="#f-{_e(name)}">{_e(name)}</a></td><td>{_badge(family["status"])}</td>'
            f"<td class=num>{c['passed']}</td><td class=num>{c['failed'] + c['error']}</td>"
            f"<td class=num>{c['skipped']}</td></tr>"
        )
    parts.append("</table></section>")
    if not alerts.get("not_applicable") and (alerts["not_exercised"] or alerts["fired_not_cleared"]):
        parts.append("<section><h2>Alerts not exercised</h2>")
        if alerts["not_exercised"]:
            parts.append(f"<p>never fired by a scenario: {_e(', '.join(alerts['not_exercised']))}</p>")
        if alerts["fired_not_cleared"]:
            parts.append(f"<p>fired but never cleared: {_e(', '.join(alerts['fired_not_cleared']))}</p>")
        parts.append("</section>")
    scenarios = document["chaos"]["scenarios"]
    lanes = _lanes_svg(scenarios)
    if lanes:
        parts.append(
            "<section><h2>Scenario lanes</h2><p class=muted>Which stack ran which scenario, from when to when "
            f"(seconds from the start of the run; red: failed).</p>{lanes}</section>"
        )
    if scenarios:
        parts.append(
            "<section><h2>Chaos timings</h2><table><tr><th>scenario</th><th>result</th><th>alert</th><th>fault</th>"
            "<th class=num>fired after</th><th class=num>fire limit</th><th class=num>notified after</th>"
            "<th class=num>cleared after</th><th class=num>detection overhead</th></tr>"
        )
        for doc in scenarios:
            rows = doc["alerts"] or [{}]
            for index, a in enumerate(rows):
                lane = f"<div class=muted>{_e(doc['lane'])}</div>" if doc.get("lane") else ""
                head = (
                    f"<td>{_e(doc['scenario'])}{lane}</td><td class=nw>{_badge(doc['status'])} "
                    f"{_seconds(doc['duration_seconds'])}</td>"
                    if index == 0
                    else "<td></td><td></td>"
                )
                parts.append(
                    f"<tr>{head}<td>{_e(a.get('alert', '—'))}</td><td>{_e(a.get('fault', ''))}</td>"
                    f"<td class=num>{_seconds(a.get('fired_after'))}</td>"
                    f"<td class=num>{_limit_cell(a, 'fire')}</td>"
                    f"<td class=num>{_seconds(a.get('notified_after'))}</td>"
                    f"<td class=num>{_seconds(a.get('resolved_after'))}</td>"
                    f"<td class=num>{_seconds(a.get('detection_overhead'))}</td></tr>"
                )
        parts.append("</table></section>")
    health = document.get("health")
    if health:
        summary = str(health.get("summary", "")).split(" | ")[0]
        parts.append(f"<section><h2>Health</h2><p>{_badge(str(health.get('status')))} {_e(summary)}</p><table>")
        for check in health.get("checks") or []:
            label = "SKIP" if check.get("skipped") else str(check.get("status"))
            parts.append(
                f"<tr><td>{_badge(label)}</td><td>{_e(check.get('name'))}</td><td>{_e(check.get('summary'))}</td></tr>"
            )
        parts.append("</table></section>")
    for name, family in document["families"].items():
        if not family["tests"]:
            continue
        parts.append(f'<section id="f-{_e(name)}"><h2>{_e(name)} {_badge(family["status"])}</h2><table>')
        for test in family["tests"]:
            message = f'<div class="msg">{_e(test["message"])}</div>' if test["message"] else ""
            message += "".join(f'<div class="muted">warning: {_e(w)}</div>' for w in test["warnings"])
            parts.append(
                f"<tr><td>{_badge(test['outcome'])}</td><td>{_e(test['name'])}<div class=muted>"
                f"{_e(test['summary'])}</div>{message}</td><td class=num>{_seconds(test['duration_seconds'])}</td></tr>"
            )
        parts.append("</table></section>")
    parts.append("</main></body></html>\n")
    return "".join(parts)


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
