"""Dashboards built for the checks' tests."""

from __future__ import annotations

from obs_tests.dashboards.dashboard_json import parse_dashboard
from obs_tests.dashboards.dashboard_model import Dashboard


def _lists(name: str) -> str:
    return "job" if name == "job" else "instance"


def with_queries(*exprs: str, variables: tuple[str, ...] = ("job", "node")) -> Dashboard:
    """A dashboard with a datasource variable, query variables ``variables`` and one stat panel per query."""
    return parse_dashboard(
        {
            "uid": "t",
            "title": "t",
            "templating": {
                "list": [
                    {"name": "datasource", "type": "datasource", "query": "prometheus"},
                    *(
                        {"name": n, "type": "query", "query": f"label_values(node_uname_info, {_lists(n)})"}
                        for n in variables
                    ),
                ]
            },
            "panels": [
                {
                    "id": i,
                    "type": "stat",
                    "title": f"p{i}",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "fieldConfig": {"defaults": {"unit": "short"}},
                    "targets": [{"refId": "A", "expr": expr}],
                }
                for i, expr in enumerate(exprs, start=1)
            ],
        },
        "t.json",
    )
