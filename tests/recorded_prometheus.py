"""A Prometheus that answers from recorded data (tests/fixtures/api/*.json): the metric names an exporter
exports and the label values Grafana's variables ask for. A query has data when every selector in it names
an exported metric and its job/instance/device matchers accept a recorded value — enough to judge dashboard
panels without a server (the same checks on a real Prometheus: tests/integration/test_dashboards.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.rules.promql import Selector, selectors

API = Path(__file__).parent / "fixtures" / "api"


class RecordedPrometheus(PrometheusClient):
    """Answers ``/api/v1/{query,query_range,series,label/*/values}`` from a recording."""

    def __init__(self, recording: str = "node_exporter_default_collectors.json") -> None:
        super().__init__("http://recorded:9090")
        data = json.loads((API / recording).read_text())
        self.names: list[str] = data["metric_names"]
        self.labels: dict[str, list[str]] = data["label_values"]
        self.queries: list[str] = []  # every panel query sent, as sent

    def _accepts(self, sel: Selector) -> bool:
        if sel.metric and sel.metric not in self.names:
            return False
        for label, op, value in sel.matchers:
            known = self.labels.get(label)
            if known is None:
                continue
            if op == "=" and value not in known:
                return False
            if op == "=~" and not any(re.fullmatch(value, v) for v in known):
                return False
        return True

    def _matches(self, text: str) -> bool:
        return all(self._accepts(sel) for sel in selectors(text))

    def api(self, path: str, params: Any = None, *, timeout: float | None = None, post: bool = False) -> Any:
        pairs = list(params.items()) if isinstance(params, dict) else list(params or [])
        match = [v for k, v in pairs if k == "match[]"]
        if path == "label/__name__/values":
            return list(self.names)
        if path.startswith("label/"):
            label = path.split("/")[1]
            return list(self.labels.get(label, [])) if all(self._matches(m) for m in match) else []
        if path == "series":
            return [{"__name__": s.metric or ""} for m in match for s in selectors(m) if self._matches(m)]
        raise AssertionError(f"not recorded: {path} {params}")

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return SimpleNamespace(path=path, form=kwargs.get("data") or kwargs.get("params"))

    def decode(self, resp: Any, path: str) -> Any:
        expr = resp.form["query"]
        self.queries.append(expr)
        if not self._matches(expr):
            return {"status": "success", "data": {"resultType": "matrix", "result": []}}
        if path.endswith("/query"):
            value = [float(resp.form["time"]), "1"]
            return {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": value}]}}
        values = [[float(resp.form["start"]), "1"], [float(resp.form["end"]), "1"]]
        return {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}}
