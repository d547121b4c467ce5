"""What a health run fetches from Prometheus — read-only, a fixed number of aggregate requests.

:func:`fetch_prometheus` makes the same requests whatever the number of targets (one
``/api/v1/targets``, one ``/api/v1/rules``, a few status endpoints and a dozen aggregated PromQL
instant queries), concurrently.

Counter-based checks read Prometheus' own metrics *as it scraped them* (``increase(...[window])``), so
a drop or failure long ago does not keep a check red; they need Prometheus to scrape itself. For the
counters an incident makes grow (dropped notifications, failed sends, missed evaluations) a ``*_last``
query also says when each series last grew, so an incident that ended within the window is told apart
from one still going on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from obs_tests.clients.prometheus import PrometheusClient, Sample
from obs_tests.core.durations import parse_duration
from obs_tests.errors import DataMissing, ObsTestsError
from obs_tests.health.settings import HealthSettings
from obs_tests.health.status import Status

__all__ = [
    "TSDB_FAILURE_COUNTERS",
    "PrometheusState",
    "fetch_prometheus",
    "last_increase_step",
    "queries",
]

#: TSDB counters whose increase means trouble (most often a full or failing disk): status and meaning
TSDB_FAILURE_COUNTERS: dict[str, tuple[Status, str]] = {
    "prometheus_tsdb_wal_writes_failed_total": (Status.CRITICAL, "WAL writes failed — samples are being lost"),
    "prometheus_tsdb_compactions_failed_total": (Status.CRITICAL, "compactions failed — is the disk full?"),
    "prometheus_tsdb_head_truncations_failed_total": (
        Status.CRITICAL,
        "head truncations failed — memory will grow until it is fixed",
    ),
    "prometheus_tsdb_wal_truncations_failed_total": (Status.WARNING, "WAL truncations failed — the WAL keeps growing"),
    "prometheus_tsdb_checkpoint_creations_failed_total": (Status.WARNING, "WAL checkpoints failed"),
    "prometheus_tsdb_checkpoint_deletions_failed_total": (Status.WARNING, "old WAL checkpoints could not be deleted"),
    "prometheus_tsdb_reloads_failures_total": (Status.WARNING, "reloading blocks from disk failed"),
    "prometheus_tsdb_wal_corruptions_total": (Status.WARNING, "WAL corruptions were found"),
    "prometheus_tsdb_mmap_chunk_corruptions_total": (Status.WARNING, "memory-mapped chunk corruptions were found"),
}


def last_increase_step(window: str) -> float:
    """The resolution, in seconds, of the ``*_last`` queries over ``window``: 240 steps, at least 1 s."""
    return float(max(1, math.ceil(parse_duration(window) / 240)))


def _last_increase(counter: str, by: str, window: str) -> str:
    """When the ``sum by (by)`` of ``counter`` last grew within ``window`` (Prometheus' clock, to the
    resolution of :func:`last_increase_step`): the newest subquery step whose value exceeds the one a step
    before. A counter reset is a fall, not growth."""
    step = f"{last_increase_step(window):g}s"
    grew = f"sum by ({by}) ({counter}) > sum by ({by}) ({counter} offset {step})"
    return f"max_over_time(timestamp({grew})[{window}:{step}])"


def queries(window: str) -> dict[str, str]:
    """The aggregated PromQL queries of a health run, by name (``window`` e.g. ``10m``)."""
    out = {
        "time": "time()",
        "newest_up_age": "time() - max(timestamp(up))",
        "self_series": "count by (instance) (prometheus_tsdb_head_samples_appended_total)",
        "am_series": "count by (instance) (alertmanager_notifications_total)",
        "samples_appended": f"sum by (instance) (increase(prometheus_tsdb_head_samples_appended_total[{window}]))",
        "queue": "max by (instance) (prometheus_notifications_queue_length / prometheus_notifications_queue_capacity)",
        "dropped": f"sum by (instance) (increase(prometheus_notifications_dropped_total[{window}]))",
        "notify_errors": (
            f"sum by (instance, alertmanager) (increase(prometheus_notifications_errors_total[{window}])) > 0"
        ),
        "missed_iterations": (
            f"sum by (rule_group) (increase(prometheus_rule_group_iterations_missed_total[{window}])) > 0"
        ),
        "dropped_last": _last_increase("prometheus_notifications_dropped_total", "instance", window),
        "notify_errors_last": _last_increase("prometheus_notifications_errors_total", "instance, alertmanager", window),
        "missed_iterations_last": _last_increase("prometheus_rule_group_iterations_missed_total", "rule_group", window),
        "rule_failures": f"sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total[{window}])) > 0",
        "am_failed": f"sum by (instance, integration) (increase(alertmanager_notifications_failed_total[{window}]))",
        "am_total": f"sum by (instance, integration) (increase(alertmanager_notifications_total[{window}]))",
    }
    for counter in TSDB_FAILURE_COUNTERS:
        out[f"tsdb:{counter}"] = f"sum by (instance) (increase({counter}[{window}])) > 0"
    return out


@dataclass
class PrometheusState:
    """Everything fetched from one Prometheus in one run."""

    url: str
    buildinfo: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def need(self, key: str) -> Any:
        """The fetched value, or :class:`DataMissing` with the reason it could not be fetched."""
        if key in self.errors:
            raise DataMissing(self.errors[key])
        return self.data[key]

    def query(self, name: str) -> list[Sample]:
        """The result of the named query of :func:`queries`."""
        result: list[Sample] = self.need(f"q:{name}")
        return result

    def optional(self, name: str) -> list[Sample]:
        """The result of the named query, empty when it could not be fetched (for what only refines a check)."""
        result: list[Sample] = self.data.get(f"q:{name}") or []
        return result

    @property
    def now(self) -> float:
        """Prometheus' clock (ages are measured on it, immune to skew with this machine's clock)."""
        samples = self.data.get("q:time") or []
        return samples[0].value if samples else time.time()


def _ready(client: PrometheusClient) -> bool:
    return client.request("GET", "/-/ready", expect=(200, 503)).status_code == 200


def fetch_prometheus(client: PrometheusClient, settings: HealthSettings) -> PrometheusState:
    """Fetch the state the checks judge. ``/api/v1/status/buildinfo`` goes first: if it fails (not
    reachable, refused credentials, not Prometheus) the error propagates; later failures are recorded
    per item and make only the checks that need them UNKNOWN."""
    state = PrometheusState(client.base_url, client.buildinfo())
    calls: dict[str, Callable[[], Any]] = {
        "ready": lambda: _ready(client),
        "targets": client.targets,
        "rules": client.rules,
        "alertmanagers": client.alertmanagers,
        "alerts": client.alerts,
        "runtimeinfo": lambda: client.api("status/runtimeinfo"),
        "flags": client.flags,
    }
    for name, expr in queries(settings.window_text).items():
        calls[f"q:{name}"] = lambda expr=expr: client.query(expr)  # type: ignore[misc]

    def run(item: tuple[str, Callable[[], Any]]) -> tuple[str, Any, str | None]:
        key, call = item
        try:
            return key, call(), None
        except ObsTestsError as exc:
            return key, None, str(exc)

    with ThreadPoolExecutor(max_workers=settings.workers) as pool:
        for key, value, error in pool.map(run, calls.items()):
            if error is None:
                state.data[key] = value
            else:
                state.errors[key] = error
    return state
