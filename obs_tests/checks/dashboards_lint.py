"""Static dashboard checks (no server): JSON Schema validation and lint rules in the spirit of
grafana/dashboard-linter, plus the metrics every panel reads (for the coverage report).

Rules (each finding names the dashboard, the panel title/id and the fix):

==========================  ===========================================================================
``uid``                     every dashboard has a ``uid``, unique in the directory (links and provisioning
                            rely on it)
``title``                   dashboard and data panels have titles
``template-datasource``     a ``datasource`` variable (type datasource, Prometheus) exists and every panel
                            and query uses it instead of a hard-coded datasource
``template-job``            ``job`` and ``instance`` variables exist, and every Prometheus selector filters
``template-instance``       on them (``job=~"$job"``, ``instance=~"$instance"``)
``template-undefined``      queries and variable queries only use variables the dashboard defines
``panel-units``             time series, stat, gauge, bar gauge and heatmap panels set a unit
``rate-interval``           ``rate``/``irate``/``increase`` windows are ``$__rate_interval`` (``increase``
                            over ``$__range`` is accepted: "total over the dashboard's time range")
``panel-ids``               no two panels share an id
``panel-targets``           every data panel has at least one query
``promql``                  every Prometheus query parses (variables replaced by placeholders)
``library-panel``           library panels are reported: their queries live in Grafana, not in the file
``schema-version``          dashboards older than schemaVersion 27 are reported (Grafana migrates on load)
==========================  ===========================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from obs_tests.contract import ExpectedEmpty
from obs_tests.dashboards import Dashboard, Panel, Target, datasource_type, parse_dashboard, read_dashboard_json
from obs_tests.errors import ConfigInvalid, InputError
from obs_tests.findings import Finding, display_path
from obs_tests.promql import PromQLSyntaxError, Selector, selectors
from obs_tests.stack.render import format_duration
from obs_tests.templating import VARIABLE_SYNTAX, variable_names
from obs_tests.validation import Validator, describe_error, load_schema
from obs_tests.yamlfile import LocatedDocument, load_located_text, read_text

__all__ = [
    "BUILTIN_VARIABLES",
    "LINT_RULES",
    "RATE_FUNCTIONS",
    "UNIT_PANEL_TYPES",
    "PromTarget",
    "dashboard_metric_references",
    "lint_dashboard",
    "lint_dashboards",
    "placeholder_expr",
    "prometheus_targets",
    "validate_dashboard_file",
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
RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})
UNIT_PANEL_TYPES = frozenset({"timeseries", "graph", "stat", "singlestat", "gauge", "bargauge", "heatmap"})
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
_PLACEHOLDER = "obs_var_"
_SENTINEL = 1_000_003  # seconds; a window no dashboard writes by hand


@dataclass(frozen=True)
class PromTarget:
    """A query that goes to Prometheus, with where it sits."""

    panel: Panel
    target: Target

    @property
    def where(self) -> str:
        """``panel 'X' (id 3) query A`` for messages."""
        return f"panel {self.panel.label} query {self.target.ref_id}"


def _json_located(text: str, source: str) -> LocatedDocument | None:
    """JSON is (nearly always) YAML: reuse the YAML locator for line numbers in schema messages."""
    try:
        return load_located_text(text.replace("\t", " "), source, error=InputError)
    except InputError:
        return None


def validate_dashboard_file(path: Path) -> tuple[Dashboard | None, list[Finding]]:
    """Parse ``path`` and validate it against ``dashboard.schema.json``.

    Returns the dashboard (None when it cannot be used at all) and the findings, each with file:line. The
    API form (``{"dashboard": {...}, "meta": {...}}``) is validated on its ``dashboard``.
    """
    shown = display_path(path)
    try:
        data = read_dashboard_json(path)
    except ConfigInvalid as exc:
        where, _, message = str(exc).partition(": ")
        return None, [Finding("dashboard-schema", where, message)]
    prefix: tuple[str, ...] = ()
    model = data
    if isinstance(data, dict) and isinstance(data.get("dashboard"), dict) and "panels" not in data:
        prefix, model = ("dashboard",), data["dashboard"]
    validator = Validator(load_schema("dashboard"))
    errors = list(validator.iter_errors(model))
    findings: list[Finding] = []
    if errors:
        located = _json_located(read_text(path, error=ConfigInvalid), shown)
        lines = {
            k[len(prefix) :]: v for k, v in (located.lines if located else {}).items() if k[: len(prefix)] == prefix
        }
        doc = LocatedDocument(shown, model, lines)
        for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])[:20]:
            where, _, message = describe_error(error, doc).partition(": ")
            findings.append(Finding("dashboard-schema", where, message))
    try:
        dashboard = parse_dashboard(data, shown)
    except ConfigInvalid as exc:
        return None, [*findings, Finding("dashboard-schema", shown, str(exc))]
    return dashboard, findings


def prometheus_targets(
    dashboard: Dashboard, known: dict[str, str] | None = None
) -> tuple[list[PromTarget], list[tuple[Panel, Target | None, str]]]:
    """(queries that go to Prometheus, [(panel, target, why it is skipped)]).

    Skipped: hidden queries, queries without ``expr``, non-Prometheus datasources (Loki, TestData, …),
    server-side expressions, library panels (their model is in Grafana) and panels inside rows only.
    """
    queries: list[PromTarget] = []
    skipped: list[tuple[Panel, Target | None, str]] = []
    for panel in dashboard.panels:
        if panel.is_row:
            continue
        if panel.library_panel is not None:
            uid, name = panel.library_panel
            skipped.append(
                (panel, None, f"library panel '{name}' (uid {uid}): its queries live in Grafana's panel library")
            )
            continue
        panel_type = datasource_type(panel.datasource, dashboard, known)
        for target in panel.targets:
            if target.hide:
                skipped.append((panel, target, "hidden query (hide: true)"))
                continue
            ref = target.datasource if target.datasource is not None else panel.datasource
            kind = datasource_type(ref, dashboard, known)
            if kind == "mixed":
                kind = "prometheus" if target.datasource is None else kind
            if kind == "__expr__":
                skipped.append((panel, target, "server-side expression (math/reduce on other queries)"))
                continue
            if kind != "prometheus":
                where = f"datasource {ref.text() if ref else '(default)'}"
                skipped.append((panel, target, f"{where} is of type '{kind}', not Prometheus"))
                continue
            if not target.expr or not target.expr.strip():
                skipped.append((panel, target, f"no PromQL expression (panel datasource type '{panel_type}')"))
                continue
            queries.append(PromTarget(panel, target))
    return queries, skipped


def placeholder_expr(expr: str) -> tuple[str, dict[float, str]]:
    """``expr`` made parseable without a server: each variable in a range/offset position becomes a distinct
    sentinel duration (returned: seconds -> the variable as written), elsewhere ``obs_var_<name>``."""
    windows: dict[float, str] = {}
    tokens: dict[str, int] = {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4) or ""
        before = expr[: match.start()].rstrip()
        after = expr[match.end() :].lstrip()[:1]
        if (before[-1:] in ("[", ":") and after in ("]", ":")) or before.endswith("offset"):
            token = match.group(0)
            seconds = tokens.setdefault(token, _SENTINEL + len(tokens))
            windows[float(seconds)] = token
            return f"{seconds}s"
        if name.endswith(("_ms", "_s")) and name.startswith("__"):
            return "60"
        return f"{_PLACEHOLDER}{name}"

    return VARIABLE_SYNTAX.sub(replace, expr), windows


def _parse(expr: str) -> tuple[list[Selector], dict[float, str]]:
    text, windows = placeholder_expr(expr)
    return selectors(text), windows


def _finding(rule: str, dashboard: Dashboard, where: str, message: str, severity: str = "error") -> Finding:
    subject = f"dashboard {dashboard.label}" + (f" {where}" if where else "")
    return Finding(f"dashboard-lint:{rule}", subject, message, severity)


def _uses_variable(value: str, name: str) -> bool:
    return f"{_PLACEHOLDER}{name}" in value


def _lint_variables(dashboard: Dashboard, exprs: Sequence[PromTarget]) -> list[Finding]:
    findings: list[Finding] = []
    defined = {v.name for v in dashboard.variables} | set(dashboard.inputs)
    datasource_vars = [v for v in dashboard.variables if v.type == "datasource"]
    if not any(v.query_text in ("prometheus", "") for v in datasource_vars):
        findings.append(
            _finding(
                "template-datasource",
                dashboard,
                "",
                "no datasource variable — add {name: datasource, type: datasource, query: prometheus} to "
                "templating.list and use ${datasource} in every panel and query",
            )
        )
    used = {name for t in exprs for name in variable_names(t.target.expr or "")}
    for name in ("job", "instance"):
        var = dashboard.variable(name)
        if var is None:
            findings.append(
                _finding(
                    f"template-{name}",
                    dashboard,
                    "",
                    f"no '{name}' variable — add a query variable label_values({name}) (multi-value, include All) "
                    f'and filter every selector with {name}=~"${name}"',
                )
            )
        elif name not in used:
            findings.append(
                _finding(f"template-{name}", dashboard, "", f"variable ${name} is defined but no query uses it")
            )
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


def _lint_datasource(dashboard: Dashboard, panel: Panel, target: Target | None) -> Finding | None:
    ref = target.datasource if target is not None else panel.datasource
    if ref is None or ref.variable or ref.key in ("-- Mixed --", "-- Dashboard --", "-- Grafana --", "__expr__"):
        return None
    if ref.type == "datasource":
        return None
    where = f"panel {panel.label}" + (f" query {target.ref_id}" if target is not None else "")
    return _finding(
        "template-datasource",
        dashboard,
        where,
        f"datasource is hard-coded ({ref.text()}) — use the ${{datasource}} variable so the dashboard works on "
        "every Grafana",
    )


def _lint_query(dashboard: Dashboard, item: PromTarget, defined: set[str]) -> list[Finding]:
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
    try:
        sels, windows = _parse(expr)
    except PromQLSyntaxError as exc:
        return [*findings, _finding("promql", dashboard, item.where, f"does not parse: {exc} — query: {expr}")]
    for sel in sels:
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
        if sel.metric and sel.metric.startswith(_PLACEHOLDER):
            continue
        for label in ("job", "instance"):
            var = dashboard.variable(label)
            if var is None:
                continue
            if not any(m[0] == label and _uses_variable(m[2], label) for m in sel.matchers):
                findings.append(
                    _finding(
                        f"template-{label}",
                        dashboard,
                        item.where,
                        f'selector {sel.metric or "{…}"} does not filter on ${label} — add {label}=~"${label}"',
                    )
                )
    return findings


def lint_dashboard(dashboard: Dashboard, known: dict[str, str] | None = None) -> list[Finding]:
    """Every lint rule on one dashboard."""
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
    queries, _skipped = prometheus_targets(dashboard, known)
    findings += _lint_variables(dashboard, queries)
    defined = {v.name for v in dashboard.variables} | set(dashboard.inputs)
    seen_ids: dict[int, Panel] = {}
    for panel in dashboard.panels:
        if panel.id is not None:
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
        if panel.is_row:
            continue
        if panel.library_panel is not None:
            findings.append(
                _finding(
                    "library-panel",
                    dashboard,
                    f"panel {panel.label}",
                    f"library panel '{panel.library_panel[1]}': its queries are not in this file and are not checked "
                    "here (the grafana checks see them)",
                    "warning",
                )
            )
            continue
        if panel.shows_data and not panel.title.strip():
            findings.append(_finding("title", dashboard, f"panel at {panel.path}", "data panel without a title"))
        if panel.shows_data and not panel.targets:
            findings.append(
                _finding("panel-targets", dashboard, f"panel {panel.label}", "shows data but has no query — add one")
            )
        if panel.type in UNIT_PANEL_TYPES and not panel.unit:
            findings.append(
                _finding(
                    "panel-units",
                    dashboard,
                    f"panel {panel.label}",
                    "no unit — set fieldConfig.defaults.unit (e.g. reqps, s, percentunit, bytes, short)",
                )
            )
        problem = _lint_datasource(dashboard, panel, None)
        if problem:
            findings.append(problem)
        for target in panel.targets:
            if target.datasource is not None and not target.hide:
                problem = _lint_datasource(dashboard, panel, target)
                if problem:
                    findings.append(problem)
    for item in queries:
        findings += _lint_query(dashboard, item, defined)
    return findings


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


def _declared_empty(dashboard: Dashboard, item: PromTarget, expected: Sequence[ExpectedEmpty]) -> bool:
    name = Path(dashboard.source).name
    keys = tuple(k for k in (dashboard.uid, dashboard.title, name, name.removesuffix(".json")) if k)
    return any(e.matches(keys, item.panel.title, item.panel.id, item.target.ref_id) for e in expected)


def dashboard_metric_references(
    dashboards: Iterable[Dashboard], expected_empty: Sequence[ExpectedEmpty] = ()
) -> tuple[dict[str, list[str]], list[str]]:
    """(metric name -> panels reading it, problems) — variables replaced by placeholders, no server needed.

    Queries the contract declares as expected to be empty (``dashboards.expected_empty``) are left out: the
    metrics they read may legitimately not exist (e.g. the load generator's, between load runs).
    """
    refs: dict[str, list[str]] = {}
    problems: list[str] = []
    for dashboard in dashboards:
        name = Path(dashboard.source).name
        queries, _ = prometheus_targets(dashboard)
        for item in queries:
            if _declared_empty(dashboard, item, expected_empty):
                continue
            try:
                sels, _windows = _parse(item.target.expr or "")
            except PromQLSyntaxError as exc:
                problems.append(f"{name}: panel '{item.panel.title}': {exc}")
                continue
            where = f"panel '{item.panel.title}' ({name})"
            for sel in sels:
                if sel.metric and not sel.metric.startswith(_PLACEHOLDER):
                    refs.setdefault(sel.metric, [])
                    if where not in refs[sel.metric]:
                        refs[sel.metric].append(where)
    return refs, problems
