"""Which plugin serves a panel or a query: a datasource reference (a name, a ``{type, uid}`` object, a
``${var}`` datasource variable or an export's ``${DS_X}`` input) resolved to its plugin type, as Grafana
would resolve it — or, without a Grafana to ask, as the dashboard and the datasource's name say.

Example::

    kind = datasource_type(panel.datasource, dashboard)  # "prometheus", "loki", "mixed", "__expr__", …
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from obs_tests.dashboards.dashboard_model import Dashboard, DatasourceRef

__all__ = [
    "BUILTIN_DATASOURCES",
    "datasource_type",
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
