"""Dashboard template variables resolved the way Grafana resolves them, against a live Prometheus.

Query variables run the Prometheus datasource's variable queries (``label_names()``, ``label_values(label)``,
``label_values(selector, label)``, ``metrics(regex)``, ``query_result(expr)``, or a series selector) over
the dashboard's time range, then Grafana's ``regex`` (capture group, named groups ``text``/``value``) and
``sort``; custom, constant, textbox, interval (with ``auto``) and datasource variables get their options
from the dashboard itself. The current value is the saved one when it is still an option, else the first
option (``All`` when the variable includes it) — what a user sees when opening the dashboard.

Example::

    resolved = resolve_variables(dashboard, prom, TimeRange.parse("now-15m", "now"))
    resolved["instance"].value.values      # ('127.0.0.1:40791', ...)
    [r for r in resolved.values() if r.empty]  # variables that resolved to nothing
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.dashboards.dashboard_model import Dashboard, TemplateVariable
from obs_tests.dashboards.datasources import datasource_type
from obs_tests.dashboards.templating import (
    ALL,
    Expander,
    QueryInterval,
    TimeRange,
    VariableValue,
    calculate_interval_ms,
    format_interval,
    interval_to_ms,
    variable_names,
)
from obs_tests.errors import ApiError

__all__ = [
    "ResolvedVariable",
    "VariableQuery",
    "apply_regex",
    "auto_intervals",
    "custom_options",
    "js_regex",
    "parse_variable_query",
    "resolve_variables",
    "run_variable_query",
    "select_current",
    "sort_options",
]

Option = tuple[str, str]  # (text, value)

_LABEL_NAMES = re.compile(r"^label_names\(\s*\)\s*$")
_LABEL_NAMES_MATCH = re.compile(r"^label_names\((.+)\)\s*$", re.DOTALL)
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?([a-zA-Z_$][a-zA-Z0-9_]*)\)\s*$", re.DOTALL)
_METRICS = re.compile(r"^metrics\((.+)\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^query_result\((.+)\)\s*$", re.DOTALL)
_JS_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")
_NO_QUERY_TYPES = frozenset({"adhoc", "groupby", "system", "switch", "snapshot"})


@dataclass(frozen=True)
class VariableQuery:
    """A parsed Prometheus variable query."""

    kind: str  # label_names | label_values | metrics | query_result | series
    label: str = ""
    match: str = ""  # selector / regex / expression argument


def parse_variable_query(text: str) -> VariableQuery:
    """Which Prometheus variable query ``text`` is (the datasource's own patterns).

    >>> parse_variable_query('label_values(up{job="a"}, instance)')
    VariableQuery(kind='label_values', label='instance', match='up{job="a"}')
    """
    query = text.strip()
    if _LABEL_NAMES.match(query):
        return VariableQuery("label_names")
    match = _LABEL_NAMES_MATCH.match(query)
    if match:
        return VariableQuery("label_names", match=match.group(1).strip())
    match = _LABEL_VALUES.match(query)
    if match:
        return VariableQuery("label_values", label=match.group(2), match=(match.group(1) or "").strip())
    match = _METRICS.match(query)
    if match:
        return VariableQuery("metrics", match=match.group(1).strip())
    match = _QUERY_RESULT.match(query)
    if match:
        return VariableQuery("query_result", match=match.group(1).strip())
    return VariableQuery("series", match=query)


def js_regex(text: str) -> re.Pattern[str]:
    """A Grafana (JavaScript) regex, ``/pattern/flags`` or bare, as a Python pattern (raises ``re.error``)."""
    pattern, flags = text, ""
    match = re.fullmatch(r"/(.*)/([gimsuy]*)", text, re.DOTALL)
    if match:
        pattern, flags = match.group(1), match.group(2)
    value = 0
    value |= re.IGNORECASE if "i" in flags else 0
    value |= re.MULTILINE if "m" in flags else 0
    value |= re.DOTALL if "s" in flags else 0
    return re.compile(_JS_NAMED_GROUP.sub("(?P<", pattern), value)


def _is_global(text: str) -> bool:
    match = re.fullmatch(r"/(.*)/([gimsuy]*)", text, re.DOTALL)
    return bool(match and "g" in match.group(2))


def apply_regex(items: Sequence[Option], regex: str) -> list[Option]:
    """Grafana's variable regex: keep matching items; a capture group (or named ``text``/``value``) becomes
    the option; with the ``g`` flag every match of an item is an option. Duplicates (by value) removed."""
    options: list[Option] = []
    pattern = js_regex(regex) if regex else None
    for text, value in items:
        if pattern is None:
            options.append((text, value))
            continue
        matches = list(pattern.finditer(value)) if _is_global(regex) else [m for m in [pattern.search(value)] if m]
        if not matches:
            continue
        named = [m.groupdict() for m in matches if m.groupdict()]
        value_group = next((g["value"] for g in named if g.get("value")), None)
        text_group = next((g["text"] for g in named if g.get("text")), None)
        with_groups = [m for m in matches if m.re.groups >= 1]
        if value_group or text_group:
            options.append((text_group or value_group or "", value_group or text_group or ""))
        elif len(matches) > 1 and with_groups:
            options.extend((m.group(1) or "", m.group(1) or "") for m in matches)
        elif with_groups:
            first = with_groups[0].group(1) or ""
            options.append((first, first))
        else:
            options.append((text, value))
    seen: set[str] = set()
    unique = []
    for option in options:
        if option[1] not in seen:
            seen.add(option[1])
            unique.append(option)
    return unique


def _natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _number_key(text: str) -> int:
    match = re.match(r".*?(\d+).*", text)
    return int(match.group(1)) if match else -1


def sort_options(options: Sequence[Option], sort: int) -> list[Option]:
    """Grafana's variable sort: 0 off, 1/2 alphabetical, 3/4 numerical, 5/6 case-insensitive, 7/8 natural
    (even numbers descending)."""
    if sort <= 0:
        return list(options)
    kind = (sort + 1) // 2
    keys: dict[int, Any] = {
        1: lambda o: o[0],
        2: lambda o: _number_key(o[0]),
        3: lambda o: o[0].lower(),
        4: lambda o: _natural_key(o[0]),
    }
    ordered = sorted(options, key=keys.get(kind, keys[1]))
    return ordered[::-1] if sort % 2 == 0 else ordered


def custom_options(query: str) -> list[Option]:
    """A custom variable's ``a,b,c`` / ``text : value`` list (``\\,`` is a literal comma)."""
    options = []
    for part in re.findall(r"(?:\\,|[^,])+", query):
        item = part.replace("\\,", ",")
        pair = re.match(r"^\s*(.+)\s:\s(.+)$", item)
        if pair:
            options.append((pair.group(1).strip(), pair.group(2).strip()))
        elif item.strip():
            options.append((item.strip(), item.strip()))
    return options


def select_current(var: TemplateVariable, options: Sequence[Option]) -> VariableValue:
    """The value Grafana shows when the dashboard opens: the saved selection if still valid, else the first
    option (``All`` first when included)."""
    values = [v for _, v in options]
    texts = {v: t for t, v in options}
    saved = [v for v in var.current if v]
    all_selected = var.include_all and (ALL in saved or (not saved and var.current_text[:1] == ("All",)))

    def make(chosen: Sequence[str], is_all: bool = False) -> VariableValue:
        return VariableValue(
            var.name,
            tuple(values if is_all else chosen),
            tuple(texts.get(v, v) for v in (values if is_all else chosen)),
            multi=var.multi,
            include_all=var.include_all,
            is_all=is_all,
            all_value=var.all_value,
        )

    if all_selected:
        return make((), is_all=True)
    kept = [v for v in saved if v in values]
    if kept and (var.multi or len(kept) == 1):
        return make(kept if var.multi else kept[:1])
    if var.include_all:
        return make((), is_all=True)
    return make(values[:1])


@dataclass(frozen=True)
class ResolvedVariable:
    """A variable, its options and current value — or why it could not be resolved."""

    variable: TemplateVariable
    options: tuple[Option, ...]
    value: VariableValue
    query: str = ""  # the expanded query that produced the options
    error: str | None = None
    skipped: str | None = None

    @property
    def empty(self) -> bool:
        """True when the variable has no option although it should have one."""
        return self.skipped is None and self.error is None and not self.options


def _series_text(labels: Mapping[str, str], tail: str = "") -> str:
    name = labels.get("__name__", "")
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    return f"{name}{{{inner}}}{tail}"


def _range_params(time_range: TimeRange) -> list[tuple[str, str]]:
    return [("start", f"{time_range.start:.3f}"), ("end", f"{time_range.end:.3f}")]


def run_variable_query(prom: PrometheusClient, query: str, time_range: TimeRange) -> list[Option]:
    """Run a Prometheus variable query and return its raw items (raises :class:`ApiError`)."""
    parsed = parse_variable_query(query)
    span = _range_params(time_range)
    items: list[str]
    if parsed.kind == "label_names":
        params = span + ([("match[]", parsed.match)] if parsed.match else [])
        items = list(prom.api("labels", params))
    elif parsed.kind == "label_values":
        params = span + ([("match[]", parsed.match)] if parsed.match else [])
        items = list(prom.api(f"label/{parsed.label}/values", params))
    elif parsed.kind == "metrics":
        pattern = js_regex(parsed.match)
        items = [n for n in prom.api("label/__name__/values", span) if pattern.search(n)]
    elif parsed.kind == "query_result":
        samples = prom.query(parsed.match, at=time_range.end)
        items = [_series_text(s.labels, f" {s.value:g} {int(s.timestamp * 1000)}") for s in samples]
    else:
        items = [_series_text(labels) for labels in prom.series([parsed.match], time_range.start, time_range.end)]
    return [(str(i), str(i)) for i in items]


def _interval_options(var: TemplateVariable, time_range: TimeRange) -> tuple[list[Option], dict[str, str]]:
    options = custom_options(var.query_text)
    extra: dict[str, str] = {}
    if var.auto:
        low = interval_to_ms(var.auto_min) if var.auto_min else 1.0
        auto = format_interval(calculate_interval_ms(time_range, var.auto_count, low))
        extra[f"__auto_interval_{var.name}"] = auto
        options.insert(0, ("auto", f"$__auto_interval_{var.name}"))
    return options, extra


class _Resolver:
    def __init__(
        self,
        dashboard: Dashboard,
        prom: PrometheusClient | None,
        time_range: TimeRange,
        datasources: Mapping[str, str] | None,
    ) -> None:
        self.dashboard = dashboard
        self.prom = prom
        self.time_range = time_range
        self.datasources = datasources
        self.done: dict[str, ResolvedVariable] = {}
        self.extra: dict[str, str] = {}
        self.active: set[str] = set()

    def expander(self) -> Expander:
        values = {name: r.value for name, r in self.done.items()}
        return Expander(
            values,
            interval=QueryInterval(60000, 60000),
            time_range=self.time_range,
            dashboard_title=self.dashboard.title,
            extra=self.extra,
        )

    def resolve(self, var: TemplateVariable) -> ResolvedVariable:
        if var.name in self.done:
            return self.done[var.name]
        self.active.add(var.name)
        for name in variable_names(var.query_text) + variable_names(var.regex):
            dep = self.dashboard.variable(name)
            if dep is not None and dep.name not in self.done and dep.name not in self.active:
                self.resolve(dep)
        result = self._resolve(var)
        self.active.discard(var.name)
        self.done[var.name] = result
        return result

    def _finish(self, var: TemplateVariable, options: Sequence[Option], **kw: Any) -> ResolvedVariable:
        chosen = apply_regex(options, self.expander().expand(var.regex)) if var.regex else list(options)
        chosen = sort_options(chosen, var.sort)
        return ResolvedVariable(var, tuple(chosen), select_current(var, chosen), **kw)

    def _resolve(self, var: TemplateVariable) -> ResolvedVariable:
        kind = var.type
        if kind in ("constant", "textbox"):
            value = var.current[0] if kind == "textbox" and var.current else var.query_text
            return self._finish(var, [(value, value)])
        if kind == "custom":
            return self._finish(var, custom_options(self.expander().expand(var.query_text)))
        if kind == "interval":
            options, extra = _interval_options(var, self.time_range)
            self.extra.update(extra)
            resolved = self._finish(var, options)
            if resolved.value.values[:1] and resolved.value.values[0].startswith("$__auto_interval_"):
                auto = extra.get(resolved.value.values[0][1:], "")
                resolved = ResolvedVariable(var, resolved.options, VariableValue(var.name, (auto,), ("auto",)))
            return resolved
        if kind == "datasource":
            plugin = var.query_text or "prometheus"
            if self.datasources is None:
                value = var.current[0] if var.current else "default"
                return ResolvedVariable(var, ((value, value),), VariableValue(var.name, (value,)))
            names = [(n, n) for n, t in self.datasources.items() if t == plugin]
            return self._finish(var, names)
        if kind != "query":
            reason = "ad hoc filters apply to every query" if kind == "adhoc" else f"variable type '{kind}'"
            return ResolvedVariable(var, (), VariableValue(var.name, ()), skipped=f"{reason}: not resolved")
        plugin = datasource_type(var.datasource, self.dashboard, self.datasources)
        if plugin != "prometheus":
            return ResolvedVariable(
                var, (), VariableValue(var.name, ()), skipped=f"datasource type '{plugin}' is not Prometheus"
            )
        query = self.expander().expand(var.query_text)
        if not query.strip():
            return ResolvedVariable(var, (), VariableValue(var.name, ()), error="the query is empty")
        if self.prom is None:
            return ResolvedVariable(var, (), VariableValue(var.name, ()), query=query, skipped="no Prometheus given")
        try:
            items = run_variable_query(self.prom, query, self.time_range)
            resolved = self._finish(var, items, query=query)
        except ApiError as exc:
            return ResolvedVariable(var, (), VariableValue(var.name, ()), query=query, error=str(exc))
        except re.error as exc:
            return ResolvedVariable(
                var, (), VariableValue(var.name, ()), query=query, error=f"regex {var.regex!r} is not valid: {exc}"
            )
        return resolved


def resolve_variables(
    dashboard: Dashboard,
    prom: PrometheusClient | None,
    time_range: TimeRange,
    *,
    datasources: Mapping[str, str] | None = None,
) -> dict[str, ResolvedVariable]:
    """Resolve every variable of ``dashboard`` (dependencies first); ``prom=None`` resolves only what needs
    no server. ``datasources`` (name -> plugin type, from Grafana) gives datasource variables their options.
    """
    resolver = _Resolver(dashboard, prom, time_range, datasources)
    for var in dashboard.variables:
        resolver.resolve(var)
    return {v.name: resolver.done[v.name] for v in dashboard.variables}


def auto_intervals(dashboard: Dashboard, time_range: TimeRange) -> dict[str, str]:
    """``$__auto_interval_<name>`` of every auto interval variable (extra values for an
    :class:`~obs_tests.dashboards.templating.Expander`)."""
    extra: dict[str, str] = {}
    for var in dashboard.variables:
        if var.type == "interval" and var.auto:
            extra.update(_interval_options(var, time_range)[1])
    return extra
