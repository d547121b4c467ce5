"""Grafana-live checks: server and datasource health, dashboards saved and read back unchanged (or the
provisioned copy identical to the file), and every panel query run *through Grafana* (``/api/ds/query``:
Grafana expands its own macros and talks to Prometheus) classified like the direct checks.

Template variables resolve through Grafana's datasource proxy, so what is checked is what a user of that
Grafana sees. The browser checks are in :mod:`obs_tests.dashboards.browser`.

Example::

    grafana = GrafanaClient.from_env("http://localhost:3000")
    source = prometheus_datasource(grafana.datasources())
    report = run_dashboard_via_grafana(grafana, dashboard, source)
    findings = check_report(report, contract.dashboards.expected_empty)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from obs_tests.checks.panel_results import DashboardReport, QueryResult, classify_values
from obs_tests.checks.query_plan import plan_queries
from obs_tests.clients.grafana import GrafanaClient
from obs_tests.core.findings import Finding
from obs_tests.dashboards.dashboard_json import parse_dashboard
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.dashboards.templating import Expander, TimeRange, VariableValue, interval_to_ms
from obs_tests.dashboards.variables import resolve_variables
from obs_tests.errors import ApiError

__all__ = [
    "GrafanaDatasource",
    "bind_inputs",
    "check_datasource_health",
    "check_health",
    "classify_frames",
    "compare_dashboards",
    "dashboard_signature",
    "datasource_types",
    "expected_titles",
    "prometheus_datasource",
    "run_dashboard_via_grafana",
]


@dataclass(frozen=True)
class GrafanaDatasource:
    """A Prometheus datasource as Grafana has it configured."""

    uid: str
    name: str
    scrape_interval: float  # jsonData.timeInterval, seconds (Grafana's default: 15 s)

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> GrafanaDatasource:
        """From one ``/api/datasources`` entry."""
        interval = str((raw.get("jsonData") or {}).get("timeInterval") or "15s")
        try:
            seconds = interval_to_ms(interval) / 1000.0
        except ValueError:
            seconds = 15.0
        return cls(str(raw.get("uid", "")), str(raw.get("name", "")), seconds)


def prometheus_datasource(datasources: Sequence[Mapping[str, Any]], name: str | None = None) -> GrafanaDatasource:
    """The Prometheus datasource to check: ``name`` (name or uid), else the default one, else the first."""
    proms = [d for d in datasources if d.get("type") == "prometheus"]
    if name:
        chosen = [d for d in proms if name in (d.get("name"), d.get("uid"))]
        if not chosen:
            known = ", ".join(str(d.get("name")) for d in proms) or "none"
            raise ApiError(f"Grafana has no Prometheus datasource '{name}' — Prometheus datasources: {known}")
        return GrafanaDatasource.from_api(chosen[0])
    if not proms:
        raise ApiError("Grafana has no Prometheus datasource — provision one (grafana/provisioning/datasources)")
    default = [d for d in proms if d.get("isDefault")]
    return GrafanaDatasource.from_api((default or proms)[0])


def datasource_types(datasources: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Name and uid of every Grafana datasource -> its plugin type (what a panel naming one queries)."""
    known: dict[str, str] = {}
    for item in datasources:
        kind = str(item.get("type") or "")
        for key in (item.get("name"), item.get("uid")):
            if key and kind:
                known[str(key)] = kind
    return known


def bind_inputs(model: Mapping[str, Any], source: GrafanaDatasource) -> dict[str, Any]:
    """An export-for-sharing dashboard as Grafana's import dialog saves it when ``source`` is chosen for its
    Prometheus inputs: every ``${DS_X}`` of a Prometheus ``__inputs`` entry becomes ``source``'s uid (other
    plugins' inputs are left as written, they are not checked here) and ``__inputs`` is dropped. A dashboard
    without inputs is returned as is (a copy)."""
    inputs = [i for i in model.get("__inputs") or [] if isinstance(i, dict) and i.get("name")]
    names = [str(i["name"]) for i in inputs if i.get("type") == "datasource" and i.get("pluginId") == "prometheus"]
    if not inputs:
        return dict(model)

    def bind(value: Any) -> Any:
        if isinstance(value, str):
            for name in names:
                value = value.replace(f"${{{name}}}", source.uid)
            return value
        if isinstance(value, list):
            return [bind(v) for v in value]
        if isinstance(value, dict):
            return {k: bind(v) for k, v in value.items()}
        return value

    bound: dict[str, Any] = bind({k: v for k, v in model.items() if k != "__inputs"})
    return bound


def check_health(health: Mapping[str, Any]) -> list[Finding]:
    """``/api/health`` says the database is ok."""
    if health.get("database") != "ok":
        return [
            Finding(
                "grafana",
                "/api/health",
                f"database is {health.get('database')!r}, expected 'ok'",
                rule="grafana/health",
            )
        ]
    return []


def check_datasource_health(source: GrafanaDatasource, status: int, body: Mapping[str, Any]) -> list[Finding]:
    """The datasource's own health check (Grafana queries Prometheus) passed."""
    if status == 200 and str(body.get("status", "")).upper() == "OK":
        return []
    return [
        Finding(
            "grafana",
            f"datasource '{source.name}' ({source.uid})",
            f"health check failed (HTTP {status}): {body.get('message', body)} — check its URL in "
            "grafana/provisioning/datasources and that Grafana can reach Prometheus",
            rule="grafana/health",
        )
    ]


def dashboard_signature(model: Mapping[str, Any]) -> dict[str, Any]:
    """What must survive a save/load through Grafana: uid, title, variables, and per panel id its title,
    type and queries."""
    dashboard = parse_dashboard(dict(model), "grafana")
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "variables": [(v.name, v.type, v.query_text) for v in dashboard.variables],
        "panels": {(p.id, p.title): (p.type, [(t.ref_id, t.expr or "") for t in p.targets]) for p in dashboard.panels},
    }


def compare_dashboards(label: str, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[Finding]:
    """Differences between the file's dashboard and Grafana's copy (after an import or provisioning)."""
    want, have = dashboard_signature(expected), dashboard_signature(actual)
    findings = []
    for key in ("title", "variables"):
        if want[key] != have[key]:
            findings.append(
                Finding(
                    "grafana",
                    label,
                    f"{key} differs: file {want[key]!r}, Grafana {have[key]!r}",
                    rule="grafana/dashboard-copy",
                )
            )
    missing = [f"{title!r} (id {ident})" for ident, title in want["panels"] if (ident, title) not in have["panels"]]
    if missing:
        findings.append(
            Finding(
                "grafana",
                label,
                f"panels missing in Grafana's copy: {', '.join(missing)}",
                rule="grafana/dashboard-copy",
            )
        )
    for key, (kind, targets) in want["panels"].items():
        theirs = have["panels"].get(key)
        if theirs is not None and theirs != (kind, targets):
            findings.append(
                Finding(
                    "grafana",
                    label,
                    f"panel {key[1]!r} (id {key[0]}) differs: file {kind} {targets}, Grafana {theirs[0]} {theirs[1]}",
                    rule="grafana/dashboard-copy",
                )
            )
    return findings


def classify_frames(result: Mapping[str, Any]) -> tuple[str, int, str]:
    """(status, series, message) of one ``/api/ds/query`` result."""
    if result.get("error"):
        return "error", 0, f"Grafana: {result['error']}"
    series = 0
    values: list[float] = []
    for frame in result.get("frames") or []:
        fields = ((frame.get("schema") or {}).get("fields")) or []
        columns = ((frame.get("data") or {}).get("values")) or []
        for spec, column in zip(fields, columns, strict=False):
            if spec.get("type") != "number":
                continue
            series += 1
            values.extend(float(v) for v in column if isinstance(v, int | float) and not isinstance(v, bool))
    status = classify_values(values)
    message = ""
    if status == "constant_zero":
        message = f"all {series} series are 0 over the whole range"
    elif status == "empty" and series:
        message = f"{series} series, but no finite value (NaN or null everywhere)"
    elif status == "empty":
        message = "Grafana returned no series"
    return status, series, message


def _queries_body(job: Any, source: GrafanaDatasource, time_range: TimeRange, max_points: int) -> dict[str, Any]:
    target = job.item.target
    return {
        "refId": target.ref_id,
        "datasource": {"type": "prometheus", "uid": source.uid},
        "expr": job.expr,
        "range": not job.instant,
        "instant": job.instant,
        "interval": target.interval,
        "intervalMs": int(job.step * 1000),
        "maxDataPoints": max_points,
        "format": target.format,
        "legendFormat": str(target.raw.get("legendFormat", "")),
        "utcOffsetSec": 0,
    }


def run_dashboard_via_grafana(
    grafana: GrafanaClient,
    dashboard: Dashboard,
    source: GrafanaDatasource,
    *,
    time_range: TimeRange | None = None,
    workers: int = 4,
) -> DashboardReport:
    """Resolve the variables through Grafana's datasource proxy and run every panel query through
    ``/api/ds/query`` with Grafana's macros left for Grafana to expand."""
    started = time.perf_counter()
    span = time_range or TimeRange.parse(dashboard.time_from, dashboard.time_to)
    proxy = grafana.prometheus_via(source.uid)
    try:  # a panel naming another datasource (Loki, by name) is skipped, not sent to Prometheus
        names = datasource_types(grafana.datasources())
    except ApiError:
        names = {}
    names.update({source.name: "prometheus", source.uid: "prometheus"})
    variables = resolve_variables(dashboard, proxy, span, datasources=names)
    jobs, not_run = plan_queries(
        dashboard, variables, span, scrape_interval=source.scrape_interval, datasources=names, keep_macros=True
    )
    start_ms, end_ms = int(span.start * 1000), int(span.end * 1000)

    def run(job: Any) -> QueryResult:
        panel = job.item.panel
        body = _queries_body(job, source, span, panel.max_data_points or 1000)
        base = QueryResult(dashboard.label, panel, job.item.target, "error", expr=job.expr, repeat=job.repeat)
        try:
            results = grafana.ds_query([body], start_ms, end_ms)
        except ApiError as exc:
            return replace(base, message=str(exc))
        status, series, message = classify_frames(results.get(job.item.target.ref_id) or {})
        return replace(base, status=status, series=series, message=message)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs) or 1))) as pool:
        results = list(pool.map(run, jobs))
    report = DashboardReport(dashboard, span, variables, [*results, *not_run])
    report.seconds = time.perf_counter() - started
    return report


def expected_titles(report: DashboardReport) -> list[str]:
    """Titles the browser must show: every rendered panel (not in collapsed rows), repeated panels once per
    value, variables in titles expanded the way Grafana displays them."""
    values = {n: r.value for n, r in report.variables.items() if r.skipped is None}
    titles: list[str] = []
    for panel in report.dashboard.data_panels:
        if panel.collapsed:
            continue
        copies: Iterable[dict[str, VariableValue]] = [values]
        if panel.repeat and panel.repeat in values:
            current = values[panel.repeat]
            copies = [
                {**values, panel.repeat: VariableValue(panel.repeat, (v,), (t,))}
                for v, t in zip(current.values, current.text_values, strict=False)
            ]
        for scoped in copies:
            titles.append(Expander(scoped, time_range=report.time_range, default_format="text").expand(panel.title))
    return titles
