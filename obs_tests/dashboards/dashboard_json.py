"""Grafana dashboard JSON, read into what obs-tests checks: panels (rows and collapsed rows flattened),
their queries and datasources, and the template variables.

It reads what Grafana reads — the saved model (``schemaVersion`` 1 to today), the old ``rows`` layout,
the export-for-sharing form (``__inputs``/``__requires``/``__elements``) and the API form
(``{"dashboard": {...}, "meta": {...}}``) — without changing the file. Datasources may be given as a
name, a ``{type, uid}`` object or an export's ``${DS_PROMETHEUS}`` input placeholder (in either form): a
placeholder stands for the datasource of the input's plugin (:func:`datasource_type`). A constant input's
``${VAR_X}`` is replaced by its value, as Grafana's import does.

Example::

    dashboard = load_dashboard(Path("grafana_dashboards/gateway.json"))
    for panel in dashboard.panels:
        for target in panel.targets:
            print(panel.title, target.ref_id, target.expr)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obs_tests.core.findings import display_path
from obs_tests.core.yamlfile import load_json
from obs_tests.errors import ConfigInvalid

__all__ = [
    "BUILTIN_DATASOURCES",
    "DATA_PANEL_TYPES",
    "Dashboard",
    "DatasourceRef",
    "Panel",
    "Target",
    "TemplateVariable",
    "dashboard_files",
    "datasource_type",
    "load_dashboard",
    "load_dashboards",
    "parse_dashboard",
    "read_dashboard_json",
]

#: panel types that show query results (a panel of another type needs no targets)
DATA_PANEL_TYPES = frozenset(
    {
        "graph",
        "timeseries",
        "stat",
        "singlestat",
        "gauge",
        "bargauge",
        "table",
        "table-old",
        "heatmap",
        "piechart",
        "barchart",
        "state-timeline",
        "status-history",
        "histogram",
        "trend",
        "xychart",
        "candlestick",
    }
)

#: datasource names/uids Grafana resolves itself: (kind, why a target on it is not a Prometheus query)
BUILTIN_DATASOURCES = {
    "-- Mixed --": "mixed",
    "-- Grafana --": "grafana",
    "-- Dashboard --": "dashboard",
    "grafana": "grafana",
    "__expr__": "__expr__",
    "-- Expression --": "__expr__",
}

#: words in a datasource name that say its plugin (see :func:`datasource_type`)
_PLUGIN_WORDS = {
    "loki": "loki",
    "elasticsearch": "elasticsearch",
    "opensearch": "grafana-opensearch-datasource",
    "influxdb": "influxdb",
    "graphite": "graphite",
    "tempo": "tempo",
    "jaeger": "jaeger",
    "zipkin": "zipkin",
    "mysql": "mysql",
    "postgres": "grafana-postgresql-datasource",
    "postgresql": "grafana-postgresql-datasource",
    "cloudwatch": "cloudwatch",
    "testdata": "grafana-testdata-datasource",
}

_VARIABLE_REF = re.compile(r"^\$\{?(\w+)(?::\w+)?\}?$|^\[\[(\w+)\]\]$")


@dataclass(frozen=True)
class DatasourceRef:
    """How a panel or target names its datasource: ``{"type", "uid"}`` (Grafana 8.3+) or a plain name."""

    type: str | None = None
    uid: str | None = None
    name: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> DatasourceRef | None:
        """From the JSON value (``null`` -> None, i.e. the default datasource)."""
        if raw is None or raw == "":
            return None
        if isinstance(raw, str):
            return cls(name=raw)
        if isinstance(raw, dict):
            kind = raw.get("type")
            uid = raw.get("uid")
            return cls(type=str(kind) if kind else None, uid=str(uid) if uid is not None else None)
        return None

    @property
    def key(self) -> str:
        """The uid or name (what a user wrote)."""
        return self.uid or self.name or ""

    @property
    def variable(self) -> str | None:
        """The template variable this reference goes through (``${datasource}`` -> ``datasource``)."""
        match = _VARIABLE_REF.match(self.key)
        if not match:
            return None
        return match.group(1) or match.group(2)

    def text(self) -> str:
        """For messages."""
        if self.type and self.uid:
            return f"{{type: {self.type}, uid: {self.uid}}}"
        return self.key or "(default)"


@dataclass(frozen=True)
class Target:
    """One query of a panel."""

    ref_id: str
    expr: str | None
    datasource: DatasourceRef | None
    hide: bool = False
    instant: bool = False
    range: bool = True
    interval: str = ""  # the query's "Min step"
    format: str = "time_series"
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Panel:
    """A panel, wherever it sits (top level, inside a row, inside a collapsed row, old ``rows``)."""

    id: int | None
    title: str
    type: str
    path: str  # JSON path, e.g. ``panels[3].panels[0]``
    datasource: DatasourceRef | None
    targets: tuple[Target, ...]
    row: str | None = None  # title of the row it is in
    collapsed: bool = False  # inside a collapsed row (not rendered until expanded)
    library_panel: tuple[str, str] | None = None  # (uid, name)
    repeat: str | None = None
    interval: str = ""  # panel "Min interval"
    max_data_points: int | None = None
    width: int = 12  # gridPos.w, of 24 columns
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def label(self) -> str:
        """``'Title' (id 3)`` for messages."""
        ident = f" (id {self.id})" if self.id is not None else ""
        return f"'{self.title or '(untitled)'}'{ident}"

    @property
    def is_row(self) -> bool:
        """A row header (it has no queries of its own)."""
        return self.type == "row"

    @property
    def shows_data(self) -> bool:
        """True for visualisations that show query results (time series, stat, table, …)."""
        return self.type in DATA_PANEL_TYPES

    @property
    def unit(self) -> str | None:
        """The unit set on the panel, wherever this panel type keeps it."""
        defaults = (self.raw.get("fieldConfig") or {}).get("defaults") or {}
        unit = defaults.get("unit")
        if unit:
            return str(unit)
        y_axis = ((self.raw.get("options") or {}).get("yAxis") or {}).get("unit")  # heatmap
        if y_axis:
            return str(y_axis)
        yaxes = self.raw.get("yaxes") or []  # old graph panel
        if yaxes and isinstance(yaxes[0], dict) and yaxes[0].get("format"):
            return str(yaxes[0]["format"])
        fmt = self.raw.get("format")  # old singlestat
        return str(fmt) if fmt else None


@dataclass(frozen=True)
class TemplateVariable:
    """A dashboard variable (``templating.list[]``)."""

    name: str
    type: str
    query: Any
    datasource: DatasourceRef | None = None
    regex: str = ""
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    current: tuple[str, ...] = ()
    current_text: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()  # saved (text, value) pairs
    sort: int = 0
    auto: bool = False
    auto_count: int = 30
    auto_min: str = "10s"
    index: int = 0

    @property
    def query_text(self) -> str:
        """The query as text (Grafana 10+ may store ``{"query": "...", "qryType": 1, ...}``)."""
        if isinstance(self.query, dict):
            return str(self.query.get("query", ""))
        return "" if self.query is None else str(self.query)

    @property
    def label(self) -> str:
        """``$name`` for messages."""
        return f"${self.name}"


@dataclass(frozen=True)
class Dashboard:
    """A parsed dashboard file."""

    source: str
    title: str
    uid: str | None
    schema_version: int | None
    panels: tuple[Panel, ...]
    variables: tuple[TemplateVariable, ...]
    time_from: str = "now-6h"
    time_to: str = "now"
    inputs: Mapping[str, str] = field(default_factory=dict)  # ${DS_X} input name -> plugin id
    constants: Mapping[str, str] = field(default_factory=dict)  # ${VAR_X} constant input name -> its value
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def label(self) -> str:
        """``'Title' (uid x, file.json)`` for messages."""
        return f"'{self.title}' ({self.uid or 'no uid'}, {Path(self.source).name})"

    @property
    def data_panels(self) -> list[Panel]:
        """Panels that are not rows."""
        return [p for p in self.panels if not p.is_row]

    def variable(self, name: str) -> TemplateVariable | None:
        """The variable called ``name``."""
        for var in self.variables:
            if var.name == name:
                return var
        return None

    def matches(self, key: str) -> bool:
        """True when ``key`` is this dashboard's uid, title or file name (with or without ``.json``)."""
        name = Path(self.source).name
        return key in (self.uid, self.title, name, name.removesuffix(".json"))


def _str(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _bool(value: Any) -> bool:
    return bool(value) if not isinstance(value, str) else value.lower() == "true"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _targets(raw: Any) -> tuple[Target, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        expr = item.get("expr")
        instant = _bool(item.get("instant", False))
        ranged = item.get("range")
        out.append(
            Target(
                ref_id=_str(item.get("refId"), chr(ord("A") + index % 26)),
                expr=expr if isinstance(expr, str) else None,
                datasource=DatasourceRef.parse(item.get("datasource")),
                hide=_bool(item.get("hide", False)),
                instant=instant,
                # Grafana runs a range query unless only `instant` is set (both: two queries; range wins here)
                range=_bool(ranged) if ranged is not None else not instant,
                interval=_str(item.get("interval")),
                format=_str(item.get("format"), "time_series"),
                raw=item,
            )
        )
    return tuple(out)


def _panel(raw: dict[str, Any], path: str, row: str | None, collapsed: bool) -> Panel:
    library = raw.get("libraryPanel")
    library_ref = None
    if isinstance(library, dict):
        library_ref = (_str(library.get("uid")), _str(library.get("name")))
    grid = _mapping(raw.get("gridPos"))
    width = _int(grid.get("w"))
    if width is None:
        span = _int(raw.get("span"))  # old rows layout: 12 columns
        width = span * 2 if span else 12
    return Panel(
        id=_int(raw.get("id")),
        title=_str(raw.get("title")),
        type=_str(raw.get("type"), "unknown"),
        path=path,
        datasource=DatasourceRef.parse(raw.get("datasource")),
        targets=_targets(raw.get("targets")),
        row=row,
        collapsed=collapsed,
        library_panel=library_ref,
        repeat=_str(raw.get("repeat")) or None,
        interval=_str(raw.get("interval")),
        max_data_points=_int(raw.get("maxDataPoints")),
        width=max(1, min(24, width)),
        raw=raw,
    )


def _walk_panels(items: Any, path: str, row: str | None, collapsed: bool) -> Iterator[Panel]:
    if not isinstance(items, list):
        return
    top_level = row is None
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            continue
        here = f"{path}[{index}]"
        panel = _panel(raw, here, row, collapsed)
        yield panel
        nested = raw.get("panels")
        if panel.is_row and top_level:
            # A row groups the panels after it (expanded) or holds them in its own `panels` (collapsed).
            yield from _walk_panels(nested, f"{here}.panels", panel.title, _bool(raw.get("collapsed", False)))
            row, collapsed = panel.title, False
        elif isinstance(nested, list):
            yield from _walk_panels(nested, f"{here}.panels", panel.title or row, collapsed)


def _old_rows(rows: Any) -> Iterator[Panel]:
    """schemaVersion < 16: ``rows: [{title, collapse, panels: [...]}]``."""
    if not isinstance(rows, list):
        return
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        title = _str(row.get("title")) or f"row {index + 1}"
        yield from _walk_panels(row.get("panels"), f"rows[{index}].panels", title, _bool(row.get("collapse", False)))


def _current(raw: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(raw, dict):
        return (), ()
    value, text = raw.get("value"), raw.get("text")
    values = tuple(str(v) for v in value) if isinstance(value, list) else (() if value is None else (str(value),))
    texts = tuple(str(t) for t in text) if isinstance(text, list) else (() if text is None else (str(text),))
    return values, texts


def _variables(raw: Any) -> tuple[TemplateVariable, ...]:
    items = (raw or {}).get("list") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        return ()
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("name"):
            continue
        values, texts = _current(item.get("current"))
        options = tuple(
            (_str(o.get("text")), _str(o.get("value")))
            for o in item.get("options") or []
            if isinstance(o, dict) and not isinstance(o.get("value"), list)
        )
        all_value = item.get("allValue")
        out.append(
            TemplateVariable(
                name=str(item["name"]),
                type=_str(item.get("type"), "query"),
                query=item.get("query") if item.get("query") is not None else item.get("definition"),
                datasource=DatasourceRef.parse(item.get("datasource")),
                regex=_str(item.get("regex")),
                multi=_bool(item.get("multi", False)),
                include_all=_bool(item.get("includeAll", False)),
                all_value=str(all_value) if all_value not in (None, "") else None,
                current=values,
                current_text=texts,
                options=options,
                sort=_int(item.get("sort")) or 0,
                auto=_bool(item.get("auto", False)),
                auto_count=_int(item.get("auto_count")) or 30,
                auto_min=_str(item.get("auto_min"), "10s"),
                index=index,
            )
        )
    return tuple(out)


def datasource_type(
    ref: DatasourceRef | None,
    dashboard: Dashboard,
    known: Mapping[str, str] | None = None,
    default: str = "prometheus",
) -> str:
    """The plugin type behind a datasource reference: ``prometheus``, ``loki``, ``mixed``, ``__expr__``, …

    ``None`` (Grafana's default datasource) is ``default``; a ``${var}`` reference is the datasource variable's
    plugin (or the ``__inputs`` entry of an exported dashboard); a bare name is looked up in ``known``
    (name or uid -> type, e.g. from Grafana's ``/api/datasources``), else the plugin its name plainly says
    (``Loki``, ``influxdb-prod``), else assumed to be ``default``.
    """
    if ref is None:
        return default
    if ref.key in BUILTIN_DATASOURCES:
        return BUILTIN_DATASOURCES[ref.key]
    if ref.type and ref.type != "datasource":
        return ref.type
    if ref.type == "datasource":  # {"type": "datasource", "uid": "-- Mixed --" | "grafana" | ...}
        return BUILTIN_DATASOURCES.get(ref.key, ref.key or default)
    name = ref.variable
    if name:
        if name in dashboard.inputs:
            return dashboard.inputs[name] or default
        var = dashboard.variable(name)
        if var is not None and var.type == "datasource" and var.query_text:
            return var.query_text
        return default
    if known and ref.key in known:
        return known[ref.key]
    return _named_plugin(ref.key) or default


def _named_plugin(name: str) -> str | None:
    """The plugin a datasource *name* plainly says (``Loki``, ``loki-prod``, ``InfluxDB``), when Grafana is
    not there to ask: old dashboards name their datasources, and Grafana names a new one after its plugin."""
    words = set(re.findall(r"[a-z]+", name.lower()))
    if "prometheus" in words:
        return None
    found = {plugin for word, plugin in _PLUGIN_WORDS.items() if word in words}
    return found.pop() if len(found) == 1 else None


def _bind_constants(value: Any, constants: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for name, text in constants.items():
            value = value.replace(f"${{{name}}}", text)
        return value
    if isinstance(value, list):
        return [_bind_constants(v, constants) for v in value]
    if isinstance(value, dict):
        return {k: v if k == "__inputs" else _bind_constants(v, constants) for k, v in value.items()}
    return value


def parse_dashboard(data: Any, source: str) -> Dashboard:
    """Build a :class:`Dashboard` from decoded JSON (raises :class:`ConfigInvalid` if it is not one)."""
    if isinstance(data, dict) and isinstance(data.get("dashboard"), dict) and "panels" not in data:
        data = data["dashboard"]  # the API form: {"dashboard": {...}, "meta": {...}}
    if not isinstance(data, dict):
        raise ConfigInvalid(f"{source}: a dashboard is a JSON object, got {type(data).__name__} — export it again")
    declared = [i for i in data.get("__inputs") or [] if isinstance(i, dict) and i.get("name")]
    inputs = {str(i["name"]): _str(i.get("pluginId")) for i in declared}
    constants = {str(i["name"]): _str(i.get("value")) for i in declared if i.get("type") == "constant"}
    if constants:  # Grafana's import writes a constant input's value wherever ${VAR_X} stands
        data = _bind_constants(data, constants)
    panels = [*_walk_panels(data.get("panels"), "panels", None, False), *_old_rows(data.get("rows"))]
    time = _mapping(data.get("time"))
    return Dashboard(
        source=source,
        title=_str(data.get("title")),
        uid=_str(data.get("uid")) or None,
        schema_version=_int(data.get("schemaVersion")),
        panels=tuple(panels),
        variables=_variables(data.get("templating")),
        time_from=_str(time.get("from"), "now-6h"),
        time_to=_str(time.get("to"), "now"),
        inputs=inputs,
        constants=constants,
        raw=data,
    )


def read_dashboard_json(path: Path) -> Any:
    """Decode a dashboard file; unreadable files and bad JSON raise :class:`ConfigInvalid` with line:column."""
    return load_json(path, error=ConfigInvalid, shown_as=display_path(path))


def load_dashboard(path: Path) -> Dashboard:
    """Read and parse one dashboard file (raises :class:`ConfigInvalid`)."""
    return parse_dashboard(read_dashboard_json(path), display_path(path))


def dashboard_files(directory: Path) -> list[Path]:
    """Every ``*.json`` under ``directory`` (recursively, sorted); a single file is returned as is."""
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*.json") if p.is_file())


def load_dashboards(paths: Sequence[Path]) -> list[Dashboard]:
    """Parse every file (the first unusable one raises :class:`ConfigInvalid`)."""
    return [load_dashboard(p) for p in paths]
