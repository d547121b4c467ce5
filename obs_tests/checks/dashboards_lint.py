"""Dashboard lint (no server): rules in the spirit of grafana/dashboard-linter. The JSON Schema check of a
file is :mod:`obs_tests.checks.dashboard_schema`, the metrics the panels read
:mod:`obs_tests.checks.dashboard_coverage`.

Rules (each finding names the dashboard, the panel title/id and the fix, and carries the stable rule id in
brackets, which the contract's ``policy.levels`` can lower or turn off):

=======================================  ==============================================================
``uid`` [dashboard/uid]                  every dashboard has a ``uid``, unique in the directory (links and
                                         provisioning rely on it)
``title`` [dashboard/title]              dashboard and data panels have titles
``template-datasource``                  a ``datasource`` variable (type datasource, Prometheus) exists and
[dashboard/datasource]                   every panel and query uses it (or an export's ``${DS_…}`` input)
                                         instead of a hard-coded datasource
``template-job`` [dashboard/job-         a job and an instance variable exist and every Prometheus selector
variable], ``template-instance``         filters on them. Which variable that is, is read from the queries:
[dashboard/instance-variable]            the one they filter the label on (``instance=~"$node"``,
                                         ``instance="$node:9100"``), whatever its name
``template-undefined``                   queries and variable queries only use variables the dashboard
[dashboard/undefined-variable]           defines (or an export's ``__inputs``)
``panel-units`` [dashboard/unit]         time series, stat, gauge, bar gauge and heatmap panels set a unit
``rate-interval``                        ``rate``/``irate``/``increase`` windows are ``$__rate_interval``
[dashboard/rate-interval]                (``increase`` over ``$__range`` is accepted: "total over the
                                         dashboard's time range")
``panel-ids`` [dashboard/panel-id]       no two panels share an id
``panel-targets`` [dashboard/no-query]   every data panel has at least one query
``promql`` [dashboard/promql]            every Prometheus query parses (variables replaced by placeholders)
``library-panel``                        library panels are reported: their queries live in Grafana, not in
[dashboard/library-panel]                the file
``schema-version``                       dashboards older than schemaVersion 27 are reported (Grafana
[dashboard/schema-version]               migrates on load)
=======================================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from obs_tests.checks.label_filters import FILTER_LABELS, LabelFilter, label_filters
from obs_tests.checks.query_placeholders import PLACEHOLDER, ParsedQuery, parse_target, uses_variable
from obs_tests.core.durations import format_duration
from obs_tests.core.findings import Finding
from obs_tests.dashboards.dashboard_model import Dashboard, Panel, Target
from obs_tests.dashboards.datasources import BUILTIN_DATASOURCES, datasource_type, prometheus_targets
from obs_tests.dashboards.templating import variable_names

__all__ = [
    "BUILTIN_VARIABLES",
    "LINT_RULES",
    "LINT_RULE_IDS",
    "RATE_FUNCTIONS",
    "UNIT_PANEL_TYPES",
    "lint_dashboard",
    "lint_dashboards",
]

LINT_RULES = (
    "uid",
    "title",
    "template-datasource",
    "template-job",
    "template-instance",
    "template-undefined",
    "panel-units",
    "rate-interval",
    "panel-ids",
    "panel-targets",
    "promql",
    "library-panel",
    "schema-version",
)
#: each lint rule's stable id (:data:`obs_tests.config.policy.RULE_IDS`), which the contract's policy sets a level for
LINT_RULE_IDS = {
    "uid": "dashboard/uid",
    "title": "dashboard/title",
    "template-datasource": "dashboard/datasource",
    "template-job": "dashboard/job-variable",
    "template-instance": "dashboard/instance-variable",
    "template-undefined": "dashboard/undefined-variable",
    "panel-units": "dashboard/unit",
    "rate-interval": "dashboard/rate-interval",
    "panel-ids": "dashboard/panel-id",
    "panel-targets": "dashboard/no-query",
    "promql": "dashboard/promql",
    "library-panel": "dashboard/library-panel",
    "schema-version": "dashboard/schema-version",
}
RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})
UNIT_PANEL_TYPES = frozenset({"timeseries", "graph", "stat", "singlestat", "gauge", "bargauge", "heatmap"})
#: panels whose value mappings turn the number into text (UP/DOWN): a unit means nothing there
_MAPPED_TYPES = frozenset({"stat", "singlestat", "gauge", "bargauge", "state-timeline", "status-history", "table"})
BUILTIN_VARIABLES = frozenset(
    {
        "__interval",
        "__interval_ms",
        "__rate_interval",
        "__rate_interval_ms",
        "__range",
        "__range_s",
        "__range_ms",
        "__from",
        "__to",
        "__dashboard",
        "__org",
        "__user",
        "__name",
        "__timeFilter",
    }
)
MODERN_SCHEMA = 27


def _finding(rule: str, dashboard: Dashboard, where: str, message: str, severity: str = "error") -> Finding:
    subject = f"dashboard {dashboard.label}" + (f" {where}" if where else "")
    return Finding(
        f"dashboard-lint:{rule}", subject, message, severity, rule=LINT_RULE_IDS[rule], file=dashboard.source
    )


def _prometheus_inputs(dashboard: Dashboard) -> list[str]:
    return sorted(f"${{{name}}}" for name, plugin in dashboard.inputs.items() if plugin == "prometheus")


def _lint_variables(dashboard: Dashboard, filters: Mapping[str, LabelFilter], prometheus: bool) -> list[Finding]:
    """``prometheus``: the dashboard has Prometheus queries (else it needs no Prometheus variables: a text
    or Loki-only dashboard)."""
    findings: list[Finding] = []
    if prometheus:
        findings += _lint_datasource_variable(dashboard)
        findings += _lint_filter_variables(dashboard, filters)
    return findings + _lint_variable_queries(dashboard)


def _lint_datasource_variable(dashboard: Dashboard) -> list[Finding]:
    """A dashboard with Prometheus queries has a Prometheus datasource variable."""
    datasource_vars = [v for v in dashboard.variables if v.type == "datasource"]
    if any(v.query_text in ("prometheus", "") for v in datasource_vars):
        return []
    inputs = _prometheus_inputs(dashboard)
    via = (
        f"its queries use the import input {', '.join(inputs)}, which Grafana binds to one datasource when the "
        "dashboard is imported; "
        if inputs
        else ""
    )
    return [
        _finding(
            "template-datasource",
            dashboard,
            "",
            f"no datasource variable — {via}add {{name: datasource, type: datasource, query: prometheus}} to "
            "templating.list and use ${datasource} in every panel and query",
        )
    ]


def _lint_filter_variables(dashboard: Dashboard, filters: Mapping[str, LabelFilter]) -> list[Finding]:
    """Some query filters ``job`` and ``instance`` on a variable (the selectors missing it: :func:`_lint_query`)."""
    findings: list[Finding] = []
    for label in FILTER_LABELS:
        found = filters[label]
        if found.names:
            continue
        if found.listing is not None:
            findings.append(
                _finding(
                    f"template-{label}",
                    dashboard,
                    "",
                    f"variable ${found.listing} is defined but no query filters {label} on it — add "
                    f"{found.suggestion} to every selector",
                )
            )
            continue
        findings.append(
            _finding(
                f"template-{label}",
                dashboard,
                "",
                f"no {label} variable: no query filters {label} on a variable — add a query variable "
                f'label_values({label}) (multi-value, include All) and filter every selector with {label}=~"${label}"',
            )
        )
    return findings


def _lint_variable_queries(dashboard: Dashboard) -> list[Finding]:
    """Variable queries use only variables the dashboard defines, and a query variable has a query."""
    findings: list[Finding] = []
    defined = {v.name for v in dashboard.variables} | set(dashboard.inputs)
    for var in dashboard.variables:
        for name in variable_names(var.query_text) + variable_names(var.regex):
            if name not in defined and name not in BUILTIN_VARIABLES and not name.startswith("__auto_interval_"):
                findings.append(
                    _finding(
                        "template-undefined",
                        dashboard,
                        f"variable ${var.name}",
                        f"its query uses ${name}, which the dashboard does not define — defined: "
                        f"{', '.join(sorted(defined)) or 'none'}",
                    )
                )
        if var.type == "query" and not var.query_text.strip():
            findings.append(
                _finding("template-undefined", dashboard, f"variable ${var.name}", "query variable with no query")
            )
    return findings


def _datasource_variable(dashboard: Dashboard) -> str:
    """How a panel should name its Prometheus: the dashboard's datasource variable, else its import input."""
    for var in dashboard.variables:
        if var.type == "datasource" and var.query_text in ("prometheus", ""):
            return f"${{{var.name}}}"
    inputs = _prometheus_inputs(dashboard)
    return inputs[0] if inputs else "${datasource}"


def _lint_datasource(
    dashboard: Dashboard, panel: Panel, target: Target | None, known: dict[str, str] | None
) -> Finding | None:
    """A Prometheus datasource named by a fixed uid or name (other plugins' panels are not this lint's
    business: the datasource variable is a Prometheus one)."""
    ref = target.datasource if target is not None else panel.datasource
    if ref is None or ref.variable or ref.key in BUILTIN_DATASOURCES or ref.type == "datasource":
        return None
    if target is not None and ref == panel.datasource:
        return None  # Grafana 8.3+ repeats the panel's datasource on every query: reported once, on the panel
    if datasource_type(ref, dashboard, known) != "prometheus":
        return None
    where = f"panel {panel.label}" + (f" query {target.ref_id}" if target is not None else "")
    return _finding(
        "template-datasource",
        dashboard,
        where,
        f"datasource is hard-coded ({ref.text()}) — use {_datasource_variable(dashboard)} so the dashboard works "
        "on every Grafana",
    )


def _lint_query(
    dashboard: Dashboard, parsed: ParsedQuery, defined: set[str], filters: Mapping[str, LabelFilter]
) -> list[Finding]:
    item = parsed.item
    expr = item.target.expr or ""
    findings: list[Finding] = []
    for name in variable_names(expr):
        if name not in defined and name not in BUILTIN_VARIABLES and not name.startswith("__auto_interval_"):
            findings.append(
                _finding(
                    "template-undefined",
                    dashboard,
                    item.where,
                    f"uses ${name}, which the dashboard does not define — Grafana sends it as written and "
                    "Prometheus rejects or misreads it",
                )
            )
    if parsed.error is not None:
        return [*findings, _finding("promql", dashboard, item.where, f"does not parse: {parsed.error} — query: {expr}")]
    windows = parsed.windows or {}
    for sel in parsed.selectors:
        if sel.function in RATE_FUNCTIONS and not sel.subquery:
            window = windows.get(sel.range_seconds or 0.0)
            ok = window is not None and (
                "__rate_interval" in window or (sel.function == "increase" and "__range" in window)
            )
            if not ok:
                written = window or (format_duration(sel.range_seconds) if sel.range_seconds else "?")
                findings.append(
                    _finding(
                        "rate-interval",
                        dashboard,
                        item.where,
                        f"{sel.function}({sel.metric or 'selector'}[{written}]) — use [$__rate_interval] so the "
                        "window follows the scrape interval and zoom level",
                    )
                )
        if sel.metric and sel.metric.startswith(PLACEHOLDER):
            continue
        for label in FILTER_LABELS:
            wanted = filters[label].wanted
            if not wanted or not _may_carry(sel.metric, label):
                continue
            if not any(m[0] == label and any(uses_variable(m[2], n) for n in wanted) for m in sel.matchers):
                findings.append(
                    _finding(
                        f"template-{label}",
                        dashboard,
                        item.where,
                        f"selector {sel.metric or '{…}'} does not filter on ${wanted[0]} — add "
                        f"{filters[label].suggestion}",
                    )
                )
    return findings


def _may_carry(metric: str | None, label: str) -> bool:
    """Whether series of ``metric`` can carry ``label``. A recording rule named by the convention
    ``level:metric:operations`` keeps the labels of its level (``job:redis_commands:rate5m`` is summed by
    job: it has no instance label to filter on); every other series may carry any label."""
    if not metric or metric.count(":") < 2:
        return True
    return label in metric.split(":", 1)[0].split("_")


def lint_dashboard(dashboard: Dashboard, known: dict[str, str] | None = None) -> list[Finding]:
    """Every lint rule on one dashboard."""
    findings = _lint_header(dashboard)
    queries, _skipped = prometheus_targets(dashboard, known)
    parsed = [parse_target(item) for item in queries]
    filters = label_filters(dashboard, [sel for p in parsed for sel in p.selectors])
    findings += _lint_variables(dashboard, filters, prometheus=bool(queries))
    defined = {v.name for v in dashboard.variables} | set(dashboard.inputs)
    seen_ids: dict[int, Panel] = {}
    for panel in dashboard.panels:
        findings += _lint_panel_id(dashboard, panel, seen_ids)
        if not panel.is_row:
            findings += _lint_panel(dashboard, panel, known)
    for one in parsed:
        findings += _lint_query(dashboard, one, defined, filters)
    return findings


def _lint_header(dashboard: Dashboard) -> list[Finding]:
    """The dashboard's uid, title and schemaVersion."""
    findings: list[Finding] = []
    if not dashboard.uid:
        findings.append(
            _finding("uid", dashboard, "", 'no uid — set a stable "uid" (links, provisioning and obs-tests use it)')
        )
    if not dashboard.title.strip():
        findings.append(_finding("title", dashboard, "", "the dashboard has no title"))
    if dashboard.schema_version is not None and dashboard.schema_version < MODERN_SCHEMA:
        findings.append(
            _finding(
                "schema-version",
                dashboard,
                "",
                f"schemaVersion {dashboard.schema_version}: Grafana migrates it on every load — open and save "
                "(or re-export) it in a current Grafana",
                "warning",
            )
        )
    return findings


def _lint_panel_id(dashboard: Dashboard, panel: Panel, seen_ids: dict[int, Panel]) -> list[Finding]:
    """``panel``'s id is not one an earlier panel has (``seen_ids``, updated)."""
    if panel.id is None:
        return []
    findings = []
    if panel.id in seen_ids:
        findings.append(
            _finding(
                "panel-ids",
                dashboard,
                f"panel {panel.label}",
                f"id {panel.id} is also used by panel {seen_ids[panel.id].label} — give every panel its own id",
            )
        )
    seen_ids.setdefault(panel.id, panel)
    return findings


def _lint_panel(dashboard: Dashboard, panel: Panel, known: dict[str, str] | None) -> list[Finding]:
    """One panel that is not a row: a library panel is reported, any other is checked for its title, its
    queries, its unit and its datasources."""
    if panel.library_panel is not None:
        return [
            _finding(
                "library-panel",
                dashboard,
                f"panel {panel.label}",
                f"library panel '{panel.library_panel[1]}': its queries are not in this file and are not checked "
                "here (the grafana checks see them)",
                "warning",
            )
        ]
    findings: list[Finding] = []
    if panel.shows_data and not panel.title.strip():
        findings.append(_finding("title", dashboard, f"panel at {panel.path}", "data panel without a title"))
    if panel.shows_data and not panel.targets:
        findings.append(
            _finding("panel-targets", dashboard, f"panel {panel.label}", "shows data but has no query — add one")
        )
    findings += _lint_unit(dashboard, panel)
    problem = _lint_datasource(dashboard, panel, None, known)
    if problem:
        findings.append(problem)
    for target in panel.targets:
        if target.datasource is not None and not target.hide:
            problem = _lint_datasource(dashboard, panel, target, known)
            if problem:
                findings.append(problem)
    return findings


def _lint_unit(dashboard: Dashboard, panel: Panel) -> list[Finding]:
    """A panel drawing numbers sets a unit (unless its value mappings turn the numbers into text)."""
    mapped = bool(((panel.raw.get("fieldConfig") or {}).get("defaults") or {}).get("mappings")) or bool(
        panel.raw.get("valueMaps")  # singlestat's value-to-text mappings
    )
    if panel.type not in UNIT_PANEL_TYPES or panel.unit or (mapped and panel.type in _MAPPED_TYPES):
        return []
    where = {
        "graph": "yaxes[0].format (the old graph panel)",
        "singlestat": "format (the old singlestat panel)",
        "heatmap": "options.yAxis.unit (or fieldConfig.defaults.unit)",
    }.get(panel.type, "fieldConfig.defaults.unit")
    return [
        _finding(
            "panel-units",
            dashboard,
            f"panel {panel.label}",
            f"no unit — set {where} (e.g. reqps, s, percentunit, bytes, short)",
        )
    ]


def lint_dashboards(dashboards: Iterable[Dashboard], known: dict[str, str] | None = None) -> list[Finding]:
    """Every rule on every dashboard, plus uid uniqueness across them."""
    findings: list[Finding] = []
    by_uid: dict[str, Dashboard] = {}
    for dashboard in dashboards:
        findings += lint_dashboard(dashboard, known)
        if dashboard.uid:
            if dashboard.uid in by_uid:
                findings.append(
                    _finding(
                        "uid",
                        dashboard,
                        "",
                        f"uid '{dashboard.uid}' is also used by {by_uid[dashboard.uid].label} — uids must be unique",
                    )
                )
            by_uid.setdefault(dashboard.uid, dashboard)
    return findings
