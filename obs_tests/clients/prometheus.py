"""Prometheus HTTP API client (``/api/v1/...``).

Example::

    prom = PrometheusClient("http://127.0.0.1:9090")
    for sample in prom.query('up{job="gateway"}'):
        print(sample.labels["instance"], sample.value)
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from obs_tests.clients.base import HttpApi
from obs_tests.config.contract import parse_duration
from obs_tests.errors import ApiError, PrometheusUnreachable

__all__ = ["PrometheusClient", "RangeSeries", "Sample", "Target"]


@dataclass(frozen=True)
class Sample:
    """One instant-vector element."""

    labels: dict[str, str]
    value: float
    timestamp: float

    @property
    def name(self) -> str:
        """The metric name (``__name__``), empty for expressions that drop it."""
        return self.labels.get("__name__", "")

    def format_labels(self) -> str:
        """``name{a="1", b="2"}`` for messages."""
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()) if k != "__name__")
        return f"{self.name}{{{inner}}}"


@dataclass(frozen=True)
class RangeSeries:
    """One range-vector element: labels and (timestamp, value) points."""

    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Target:
    """An active scrape target as ``/api/v1/targets`` reports it."""

    job: str
    instance: str
    health: str
    labels: dict[str, str]
    scrape_url: str
    last_error: str
    last_scrape: float | None
    last_scrape_duration: float
    scrape_interval: float | None
    scrape_timeout: float | None

    @property
    def up(self) -> bool:
        """True when the last scrape succeeded."""
        return self.health == "up"


def _float(text: str) -> float:
    if text in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    return float(text)


def _rfc3339(text: str) -> float | None:
    if not text or text.startswith("0001-01-01"):
        return None

    # Prometheus emits nanosecond precision; Python parses up to microseconds.
    head, _, tail = text.partition(".")
    if tail:
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _duration(text: str | None) -> float | None:
    if not text:
        return None

    try:
        return parse_duration(text)
    except ValueError:
        return None


class PrometheusClient(HttpApi):
    """The parts of the Prometheus HTTP API obs-tests uses."""

    server = "Prometheus"
    unreachable = PrometheusUnreachable

    def api(self, path: str, params: Any = None, *, timeout: float | None = None, post: bool = False) -> Any:
        """Call ``/api/v1/<path>`` and return its ``data`` (errors raise :class:`ApiError`)."""
        full = f"/api/v1/{path}"
        if post:
            resp = self.request("POST", full, data=params, timeout=timeout, expect=(200, 400, 422, 503))
        else:
            resp = self.request("GET", full, params=params, timeout=timeout, expect=(200, 400, 422, 503))
        body = self.decode(resp, full)
        if not isinstance(body, dict) or "status" not in body:
            raise ApiError(f"Prometheus at {self.base_url}: {full} did not answer in the Prometheus API format")
        if body["status"] != "success":
            raise ApiError(
                f"Prometheus rejected {full}: {body.get('errorType', 'error')}: {body.get('error', '(no message)')}"
            )
        return body.get("data")

    # -- queries ---------------------------------------------------------------------------------
    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Instant query; scalars/strings come back as one sample with no labels."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", params, post=len(expr) > 1500)
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            return [Sample(r["metric"], _float(r["value"][1]), float(r["value"][0])) for r in result]
        if kind in ("scalar", "string"):
            return [Sample({}, _float(result[1]) if kind == "scalar" else math.nan, float(result[0]))]
        if kind == "matrix":
            raise ApiError(f"query {expr!r} returned a range vector; use query_range or an instant expression")
        raise ApiError(f"query {expr!r}: unexpected result type {kind!r}")

    def query_raw(self, selector: str, at: float | None = None) -> list[RangeSeries]:
        """Raw samples of a range selector (``metric{...}[5m]``), evaluated as an instant query."""
        params: dict[str, Any] = {"query": selector}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", params)
        if data["resultType"] != "matrix":
            raise ApiError(f"query {selector!r} is not a range selector (got {data['resultType']})")
        return [RangeSeries(r["metric"], tuple((float(t), _float(v)) for t, v in r["values"])) for r in data["result"]]

    def query_value(self, expr: str, default: float | None = None) -> float | None:
        """The single value of an expression expected to return at most one sample."""
        samples = self.query(expr)
        if not samples:
            return default
        if len(samples) > 1:
            raise ApiError(f"query {expr!r} returned {len(samples)} series, expected at most 1")
        return samples[0].value

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[RangeSeries]:
        """Range query."""
        data = self.api(
            "query_range", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        )
        return [RangeSeries(r["metric"], tuple((float(t), _float(v)) for t, v in r["values"])) for r in data["result"]]

    def query_many(self, exprs: Sequence[str], workers: int = 16) -> list[list[Sample]]:
        """Run instant queries concurrently; results in the order of ``exprs``."""
        if not exprs:
            return []
        with ThreadPoolExecutor(max_workers=min(workers, len(exprs))) as pool:
            return list(pool.map(self.query, exprs))

    def series(
        self, matchers: Iterable[str], start: float | None = None, end: float | None = None
    ) -> list[dict[str, str]]:
        """``/api/v1/series`` for the given selectors."""
        params: list[tuple[str, str]] = [("match[]", m) for m in matchers]
        if start is not None:
            params.append(("start", f"{start:.3f}"))
        if end is not None:
            params.append(("end", f"{end:.3f}"))
        result: list[dict[str, str]] = self.api("series", params)
        return result

    def label_values(self, label: str, matchers: Iterable[str] = ()) -> list[str]:
        """Values of ``label`` (optionally restricted by selectors)."""
        params = [("match[]", m) for m in matchers]
        result: list[str] = self.api(f"label/{label}/values", params)
        return result

    def metric_names(self) -> list[str]:
        """Every metric name Prometheus has."""
        return self.label_values("__name__")

    def metadata(self, metric: str | None = None) -> dict[str, list[dict[str, str]]]:
        """``/api/v1/metadata`` (type/help/unit per metric as scraped)."""
        result: dict[str, list[dict[str, str]]] = self.api("metadata", {"metric": metric} if metric else None)
        return result

    def format_query(self, expr: str) -> str:
        """Prometheus' canonical formatting of ``expr`` (raises :class:`ApiError` on a syntax error)."""
        result: str = self.api("format_query", {"query": expr})
        return result

    # -- state -----------------------------------------------------------------------------------
    def targets(self, state: str = "active") -> list[Target]:
        """Scrape targets (active by default)."""
        data = self.api("targets", {"state": state})
        out = []
        for t in data.get("activeTargets", []):
            labels = t.get("labels", {})
            out.append(
                Target(
                    job=labels.get("job", t.get("scrapePool", "")),
                    instance=labels.get("instance", ""),
                    health=t.get("health", "unknown"),
                    labels=labels,
                    scrape_url=t.get("scrapeUrl", ""),
                    last_error=t.get("lastError", ""),
                    last_scrape=_rfc3339(t.get("lastScrape", "")),
                    last_scrape_duration=float(t.get("lastScrapeDuration", 0.0)),
                    scrape_interval=_duration(t.get("scrapeInterval")),
                    scrape_timeout=_duration(t.get("scrapeTimeout")),
                )
            )
        return out

    def rules(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Rule groups from ``/api/v1/rules`` (``kind`` = ``alert`` or ``record``)."""
        data = self.api("rules", {"type": kind} if kind else None)
        groups: list[dict[str, Any]] = data.get("groups", [])
        return groups

    def alerts(self) -> list[dict[str, Any]]:
        """Active (pending + firing) alerts."""
        alerts: list[dict[str, Any]] = self.api("alerts").get("alerts", [])
        return alerts

    def alertmanagers(self) -> dict[str, Any]:
        """``/api/v1/alertmanagers``: active and dropped Alertmanagers."""
        result: dict[str, Any] = self.api("alertmanagers")
        return result

    def tsdb_status(self) -> dict[str, Any]:
        """``/api/v1/status/tsdb`` (head stats, top series counts by metric and label)."""
        result: dict[str, Any] = self.api("status/tsdb")
        return result

    def buildinfo(self) -> dict[str, Any]:
        """``/api/v1/status/buildinfo``."""
        result: dict[str, Any] = self.api("status/buildinfo")
        return result

    def runtime_info(self) -> dict[str, Any]:
        """``/api/v1/status/runtimeinfo`` (``reloadConfigSuccess``, ``lastConfigTime``, …)."""
        result: dict[str, Any] = self.api("status/runtimeinfo")
        return result

    def config(self) -> str:
        """The loaded configuration (YAML text)."""
        return str(self.api("status/config")["yaml"])

    def flags(self) -> dict[str, str]:
        """Command-line flags of the server."""
        result: dict[str, str] = self.api("status/flags")
        return result

    def ready(self) -> bool:
        """True when ``/-/ready`` answers 200."""
        try:
            resp = self.request("GET", "/-/ready", timeout=2.0, expect=(200, 503))
        except PrometheusUnreachable:
            return False
        return resp.status_code == 200

    def reload(self) -> None:
        """Ask Prometheus to reload its config (needs ``--web.enable-lifecycle``)."""
        self.request("POST", "/-/reload", timeout=30.0)

    def now(self) -> float:
        """Prometheus' evaluation time of an instant query (its clock)."""
        samples = self.query("time()")
        return samples[0].value if samples else time.time()
