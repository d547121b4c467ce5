"""Which plugin serves a panel or a query: a datasource reference (a name, a ``{type, uid}`` object, a
``${var}`` datasource variable or an export's ``${DS_X}`` input) resolved to its plugin type, as Grafana
would resolve it — or, without a Grafana to ask, as the dashboard and the datasource's name say; and so
which of a dashboard's queries go to Prometheus, and why the others do not.

Example::

    kind = datasource_type(panel.datasource, dashboard)  # "prometheus", "loki", "mixed", "__expr__", …
    queries, skipped = prometheus_targets(dashboard)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from obs_tests.dashboards.dashboard_model import Dashboard, DatasourceRef, Panel, Target

__all__ = [
    "BUILTIN_DATASOURCES",
    "NOT_PROMETHEUS",
    "PromTarget",
    "datasource_type",
    "prometheus_targets",
]

#: datasource names/uids Grafana resolves itself: (kind, why a target on it is not a Prometheus query)
BUILTIN_DATASOURCES = {
    "-- Mixed --": "mixed",
    "-- Grafana --": "grafana",
    "-- Dashboard --": "dashboard",
    "grafana": "grafana",
    "__expr__": "__expr__",
    "-- Expression --": "__expr__",
}

#: how the reason of a query skipped for its datasource ends (its data is drawn, but not checked here)
NOT_PROMETHEUS = ", not Prometheus"

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


@dataclass(frozen=True)
class PromTarget:
    """A query that goes to Prometheus, with where it sits."""

    panel: Panel
    target: Target

    @property
    def where(self) -> str:
        """``panel 'X' (id 3) query A`` for messages."""
        return f"panel {self.panel.label} query {self.target.ref_id}"


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
