"""Static dashboard checks (no server): JSON Schema validation and lint rules in the spirit of
grafana/dashboard-linter, plus the metrics every panel reads (for the coverage report).

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

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from obs_tests.config.contract import ExpectedEmpty
from obs_tests.config.validation import Validator, describe_error, load_schema
from obs_tests.core.durations import format_duration
from obs_tests.core.findings import Finding, display_path
from obs_tests.core.yamlfile import LocatedDocument, load_located_text, read_text
from obs_tests.dashboards.dashboard_json import parse_dashboard, read_dashboard_json
from obs_tests.dashboards.dashboard_model import Dashboard, Panel, Target
from obs_tests.dashboards.datasources import BUILTIN_DATASOURCES, datasource_type
from obs_tests.dashboards.templating import VARIABLE_SYNTAX, variable_names
from obs_tests.dashboards.variables import parse_variable_query
from obs_tests.errors import ConfigInvalid, InputError, PromQLSyntaxError
from obs_tests.rules.promql import Selector, selectors

__all__ = [
    "BUILTIN_VARIABLES",
    "FILTER_LABELS",
    "LINT_RULES",
    "LINT_RULE_IDS",
    "NOT_PROMETHEUS",
    "RATE_FUNCTIONS",
    "UNIT_PANEL_TYPES",
    "PromTarget",
    "dashboard_metric_references",
    "filter_variables",
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
#: how the reason of a query skipped for its datasource ends (its data is drawn, but not checked here)
NOT_PROMETHEUS = ", not Prometheus"
#: the labels every selector should filter on a dashboard variable
FILTER_LABELS = ("job", "instance")
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
        return None, [_schema_finding(shown, where, message)]
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
        for error in errors:
            where, _, message = describe_error(error, doc).partition(": ")
            findings.append(_schema_finding(shown, where, message))
        findings = sorted(findings, key=lambda f: f.line or 0)[:20]  # in document order
    try:
        dashboard = parse_dashboard(data, shown)
    except ConfigInvalid as exc:
        return None, [*findings, _schema_finding(shown, shown, str(exc))]
    return dashboard, findings


def _schema_finding(shown: str, where: str, message: str) -> Finding:
    """A ``dashboard/schema`` finding at ``file:line[:column]`` (``where``)."""
    line = re.match(r".*?:(\d+)(?::\d+)?$", where.removeprefix(shown)) if where.startswith(shown) else None
    return Finding(
        "dashboard-schema",
        where,
        message,
        rule="dashboard/schema",
        file=shown,
        line=int(line.group(1)) if line else None,
    )


def prometheus_targets(
    dashboard: Dashboard, known: dict[str, str] | None = None
) -> tuple[list[PromTarget], list[tuple[Panel, Target | None, str]]]:
    """(queries that go to Prometheus, [(panel, target, why it is skipped)]).

    Skipped: hidden queries, queries without ``expr``, non-Prometheus datasources (Loki, TestData, …, also an
    export's ``${DS_LOKI}`` input), server-side expressions, library panels (their model is in Grafana) and
    panels inside rows only. A Prometheus datasource — by ``{type, uid}``, by name, or an export's
    ``${DS_PROMETHEUS}`` input — is the Prometheus obs-tests checks against.
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
                if ref is not None and ref.variable in dashboard.inputs:
                    where += " (an import input)"
                skipped.append((panel, target, f"{where} is of type '{kind}'{NOT_PROMETHEUS}"))
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
    return Finding(
        f"dashboard-lint:{rule}", subject, message, severity, rule=LINT_RULE_IDS[rule], file=dashboard.source
    )


def _uses_variable(value: str, name: str) -> bool:
    """``value`` (a matcher value with placeholders) uses ``$name`` — not a longer name starting with it."""
    return re.search(rf"{_PLACEHOLDER}{re.escape(name)}(?!\w)", value) is not None


@dataclass(frozen=True)
class _Parsed:
    item: PromTarget
    selectors: tuple[Selector, ...] = ()
    windows: Mapping[float, str] | None = None
    error: PromQLSyntaxError | None = None


def _parse_target(item: PromTarget) -> _Parsed:
    try:
        sels, windows = _parse(item.target.expr or "")
    except PromQLSyntaxError as exc:
        return _Parsed(item, error=exc)
    return _Parsed(item, tuple(sels), windows)


@dataclass(frozen=True)
class _Filter:
    """The variables the queries filter one label on (most used first) and how they write it."""

    label: str
    names: tuple[str, ...] = ()
    written: str = ""  # the most common matcher, e.g. instance="$node:9100"
    listing: str | None = None  # no query filters on a variable, but this one lists the label's values

    @property
    def wanted(self) -> tuple[str, ...]:
        return self.names or ((self.listing,) if self.listing else ())

    @property
    def suggestion(self) -> str:
        return self.written or f'{self.label}=~"${self.wanted[0]}"'


def _listing_variable(dashboard: Dashboard, label: str) -> str | None:
    """A variable named ``label``, else a query variable listing its values (``label_values(…, label)``)."""
    if dashboard.variable(label) is not None:
        return label
    for var in dashboard.variables:
        if var.type == "query":
            query = parse_variable_query(var.query_text)
            if query.kind == "label_values" and query.label == label:
                return var.name
    return None


def _filters(dashboard: Dashboard, sels: Iterable[Selector]) -> dict[str, _Filter]:
    names = [v.name for v in dashboard.variables]
    uses: dict[str, Counter[str]] = {label: Counter() for label in FILTER_LABELS}
    written: dict[str, Counter[tuple[str, str, str]]] = {label: Counter() for label in FILTER_LABELS}
    for sel in sels:
        if sel.metric and sel.metric.startswith(_PLACEHOLDER):
            continue
        for label, op, value in sel.matchers:
            if label not in uses:
                continue
            for name in names:
                if _uses_variable(value, name):
                    uses[label][name] += 1
                    written[label][(name, op, re.sub(rf"{_PLACEHOLDER}(\w+)", r"$\1", value))] += 1
    out = {}
    for label in FILTER_LABELS:
        counts = uses[label]
        # most used first; on a tie the variable named like the label, then by name
        ranked = tuple(sorted(counts, key=lambda n: (-counts[n], n != label, n)))
        if not ranked:
            out[label] = _Filter(label, listing=_listing_variable(dashboard, label))
            continue
        forms = [(count, form) for form, count in written[label].items() if form[0] == ranked[0]]
        _, (_name, op, value) = max(forms, key=lambda x: x[0])
        out[label] = _Filter(label, ranked, f'{label}{op}"{value}"')
    return out


def filter_variables(dashboard: Dashboard, known: dict[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """For ``job`` and ``instance``: the variables the dashboard's Prometheus queries filter that label on,
    most used first — whatever they are called (``instance="$node:9100"`` -> ``('node',)``).

    Example: a dashboard whose queries read ``node_load1{instance="$node:9100", job="$job"}`` gives
    ``{"job": ("job",), "instance": ("node",)}``.
    """
    queries, _ = prometheus_targets(dashboard, known)
    parsed = [_parse_target(item) for item in queries]
    found = _filters(dashboard, [sel for p in parsed for sel in p.selectors])
    return {label: found[label].names for label in FILTER_LABELS}


def _prometheus_inputs(dashboard: Dashboard) -> list[str]:
    return sorted(f"${{{name}}}" for name, plugin in dashboard.inputs.items() if plugin == "prometheus")


def _lint_variables(dashboard: Dashboard, filters: Mapping[str, _Filter], prometheus: bool) -> list[Finding]:
    """``prometheus``: the dashboard has Prometheus queries (else it needs no Prometheus variables: a text
    or Loki-only dashboard)."""
    findings: list[Finding] = []
    defined = {v.name for v in dashboard.variables} | set(dashboard.inputs)
    datasource_vars = [v for v in dashboard.variables if v.type == "datasource"]
    if prometheus and not any(v.query_text in ("prometheus", "") for v in datasource_vars):
        inputs = _prometheus_inputs(dashboard)
        via = (
            f"its queries use the import input {', '.join(inputs)}, which Grafana binds to one datasource when the "
            "dashboard is imported; "
            if inputs
            else ""
        )
        findings.append(
            _finding(
                "template-datasource",
                dashboard,
                "",
                f"no datasource variable — {via}add {{name: datasource, type: datasource, query: prometheus}} to "
                "templating.list and use ${datasource} in every panel and query",
            )
        )
    for label in FILTER_LABELS:
        found = filters[label]
        if found.names or not prometheus:
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
    dashboard: Dashboard, parsed: _Parsed, defined: set[str], filters: Mapping[str, _Filter]
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
        if sel.metric and sel.metric.startswith(_PLACEHOLDER):
            continue
        for label in FILTER_LABELS:
            wanted = filters[label].wanted
            if not wanted or not _may_carry(sel.metric, label):
                continue
            if not any(m[0] == label and any(_uses_variable(m[2], n) for n in wanted) for m in sel.matchers):
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
    parsed = [_parse_target(item) for item in queries]
    filters = _filters(dashboard, [sel for p in parsed for sel in p.selectors])
    findings += _lint_variables(dashboard, filters, prometheus=bool(queries))
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
        mapped = bool(((panel.raw.get("fieldConfig") or {}).get("defaults") or {}).get("mappings")) or bool(
            panel.raw.get("valueMaps")  # singlestat's value-to-text mappings
        )
        if panel.type in UNIT_PANEL_TYPES and not panel.unit and not (mapped and panel.type in _MAPPED_TYPES):
            where = {
                "graph": "yaxes[0].format (the old graph panel)",
                "singlestat": "format (the old singlestat panel)",
                "heatmap": "options.yAxis.unit (or fieldConfig.defaults.unit)",
            }.get(panel.type, "fieldConfig.defaults.unit")
            findings.append(
                _finding(
                    "panel-units",
                    dashboard,
                    f"panel {panel.label}",
                    f"no unit — set {where} (e.g. reqps, s, percentunit, bytes, short)",
                )
            )
        problem = _lint_datasource(dashboard, panel, None, known)
        if problem:
            findings.append(problem)
        for target in panel.targets:
            if target.datasource is not None and not target.hide:
                problem = _lint_datasource(dashboard, panel, target, known)
                if problem:
                    findings.append(problem)
    for one in parsed:
        findings += _lint_query(dashboard, one, defined, filters)
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
