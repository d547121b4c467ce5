"""The dashboard model obs-tests checks: a dashboard's panels (rows and collapsed rows flattened), their
queries and datasource references, and its template variables — frozen dataclasses, as
:mod:`obs_tests.dashboards.dashboard_json` reads them from the JSON.

Example::

    panel = dashboard.panels[0]
    print(panel.label, panel.unit, [t.ref_id for t in panel.targets])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_PANEL_TYPES",
    "Dashboard",
    "DatasourceRef",
    "Panel",
    "Target",
    "TemplateVariable",
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
