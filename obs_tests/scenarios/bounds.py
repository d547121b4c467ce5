"""Theoretical bounds for an alert's reaction, computed from the *live* configs.

From the fault to firing: the next scrape (scrape interval) that fails or shows the fault (up to the
scrape timeout), one evaluation per rule level (a recording rule feeding the alert adds one), the
alert's ``for:`` and whatever the expression itself needs to become true (``detect``: e.g. its range
window for "no change in [1m]"). Firing → notification: Prometheus sends a newly firing alert at the
evaluation that fires it (``--rules.alert.resend-delay`` only paces the repeats of alerts already
sent), then Alertmanager flushes its group: ``group_wait`` after the group was created, or — when the
alert joins a group that already notified — at the group's next tick, up to ``group_interval`` later;
the bound is the larger of the two plus one evaluation. From the revert to resolved: the next scrape,
one evaluation per level, the longest range window of the expression (bad samples must leave it) and
``keep_firing_for``; resolved → notification: the route's ``group_interval`` plus one evaluation.

:class:`BoundsModel` reads everything from the live stack (``/api/v1/rules``, so a time-scaled stack
gives scaled bounds, the loaded Prometheus config and the Alertmanager config); :class:`FileTiming`
computes the same bounds from the files and the contract, before any stack runs (``scenario
validate``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from obs_tests.checks.routing_live import AlertmanagerSettings, settings_from_config
from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import parse_duration
from obs_tests.config.topology import Topology
from obs_tests.errors import ObsTestsError, PromQLSyntaxError
from obs_tests.rules.promql import selectors
from obs_tests.rules.rulefiles import Rule

__all__ = ["AlertBounds", "BoundsModel", "FileTiming"]


@dataclass(frozen=True)
class AlertBounds:
    """The parts of an alert's timing bound (seconds) and the totals."""

    alert: str
    scrape_interval: float
    scrape_timeout: float
    evaluation_interval: float
    levels: int  # 1 + the depth of recording rules under the alert
    for_seconds: float
    keep_firing_for: float
    window: float  # longest range window in the expression (through recording rules)
    group_wait: float
    group_interval: float
    #: an Alertmanager cluster's last peer's wait before it notifies what no peer before it has:
    #: (peers - 1) x peer timeout — the bound when the peers before it are down (0: one Alertmanager)
    peer_wait: float = 0.0

    def fire(self, detect: float = 0.0) -> float:
        """Fault → firing."""
        return (
            self.scrape_interval
            + self.scrape_timeout
            + self.evaluation_interval * self.levels
            + self.for_seconds
            + detect
        )

    def notify(self) -> float:
        """Firing → firing notification: a new group waits ``group_wait``, an existing one flushes at
        its next ``group_interval`` tick (in a cluster, + the peers' wait)."""
        return max(self.group_wait, self.group_interval) + self.evaluation_interval + self.peer_wait

    def resolve(self) -> float:
        """Revert → resolved."""
        return self.scrape_interval + self.evaluation_interval * self.levels + self.window + self.keep_firing_for

    def notify_resolved(self) -> float:
        """Resolved → resolved notification (in a cluster, + the peers' wait)."""
        return self.group_interval + self.evaluation_interval + self.peer_wait

    def to_json(self, detect: float = 0.0) -> dict[str, float]:
        """The parts and totals for reports."""
        return {
            "scrape_interval": self.scrape_interval,
            "scrape_timeout": self.scrape_timeout,
            "evaluation_interval": self.evaluation_interval,
            "levels": self.levels,
            "for": self.for_seconds,
            "keep_firing_for": self.keep_firing_for,
            "window": self.window,
            "peer_wait": self.peer_wait,
            "detect": detect,
            "fire": round(self.fire(detect), 3),
            "notify": round(self.notify(), 3),
            "resolve": round(self.resolve(), 3),
            "notify_resolved": round(self.notify_resolved(), 3),
        }


def _windows(expr: str) -> tuple[float, set[str]]:
    try:
        found = selectors(expr)
    except PromQLSyntaxError:
        return 0.0, set()
    window = max((s.range_seconds or 0.0 for s in found), default=0.0)
    return window, {s.metric for s in found if s.metric}


class BoundsModel:
    """Reads the live configs once; :meth:`bounds` gives an alert's :class:`AlertBounds`."""

    def __init__(
        self,
        prom: PrometheusClient,
        alertmanager: AlertmanagerClient | None,
        *,
        receiver_of: Mapping[str, str] | None = None,
        topology: Topology | None = None,
    ) -> None:
        #: the stack's shape: how long duplicates from other Alertmanager peers may take (``dedup_bound``)
        self.topology = topology or Topology()
        config = yaml.safe_load(prom.config()) or {}
        glob = config.get("global") or {}
        self.scrape_interval = parse_duration(str(glob.get("scrape_interval", "1m")))
        self.scrape_timeout = parse_duration(str(glob.get("scrape_timeout", "10s")))
        self.groups = prom.rules()
        self.records: dict[str, dict[str, Any]] = {}
        self.alerts: dict[str, tuple[dict[str, Any], float]] = {}
        for group in self.groups:
            interval = float(group.get("interval") or self.scrape_interval)
            for rule in group.get("rules", []):
                if rule.get("type") == "recording":
                    self.records[str(rule["name"])] = {**rule, "_interval": interval}
                elif rule.get("type") == "alerting":
                    self.alerts.setdefault(str(rule["name"]), (rule, interval))
        self.settings = AlertmanagerSettings()
        if alertmanager is not None:
            with contextlib.suppress(ObsTestsError, KeyError, yaml.YAMLError):
                self.settings = settings_from_config(yaml.safe_load(alertmanager.status()["config"]["original"]))
        self.receiver_of = dict(receiver_of or {})

    @property
    def dedup_bound(self) -> float:
        """Seconds after a notification within which a duplicate from another Alertmanager peer would come."""
        return self.topology.dedup_bound

    def _depth(self, expr: str, seen: frozenset[str] = frozenset()) -> tuple[int, float]:
        window, names = _windows(expr)
        depth = 0
        for name in names & set(self.records) - seen:
            sub_depth, sub_window = self._depth(str(self.records[name]["query"]), seen | {name})
            depth = max(depth, sub_depth + 1)
            window = max(window, sub_window)
        return depth, window

    def bounds(self, alert: str) -> AlertBounds | None:
        """The bounds of ``alert`` (None when Prometheus has no such rule loaded)."""
        found = self.alerts.get(alert)
        if found is None:
            return None
        rule, interval = found
        depth, window = self._depth(str(rule.get("query", "")))
        receiver = self.receiver_of.get(alert, "")
        return AlertBounds(
            alert=alert,
            scrape_interval=self.scrape_interval,
            scrape_timeout=self.scrape_timeout,
            evaluation_interval=interval,
            levels=1 + depth,
            for_seconds=float(rule.get("duration") or 0.0),
            keep_firing_for=float(rule.get("keepFiringFor") or 0.0),
            window=window,
            group_wait=self.settings.group_wait.get(receiver, self.settings.root_wait),
            group_interval=self.settings.group_interval.get(receiver, self.settings.root_interval),
            peer_wait=(self.topology.alertmanager_peers - 1) * self.topology.peer_timeout,
        )

    def detect_seconds(self, alert: str, detect: str | None, time_scale: float) -> float:
        """The extra detection time a scenario declared: ``window`` or a duration at scale 1 (scaled)."""
        if not detect:
            return 0.0
        if detect == "window":
            found = self.alerts.get(alert)
            return self._depth(str(found[0].get("query", "")))[1] if found else 0.0
        return parse_duration(detect) * time_scale


@dataclass(frozen=True)
class FileTiming:
    """Bounds from the files, before any stack runs: the contract's scrape and evaluation intervals
    (the embedded stack's scrape timeout is the scrape interval), the rules' ``for:`` and windows at
    ``time_scale`` (windows never below ``min_range``, as the stack loads them) and the Alertmanager
    config's route timings for the alert's receiver (from the routing tests; unknown receivers get the
    largest timings of the whole route tree, an upper bound).

    Example::

        timing = FileTiming.from_files(rules, settings, scrape_interval=1, evaluation_interval=1, time_scale=0.01)
        timing.bounds("GatewayDown").notify()   # -> 3.0
    """

    alerts: Mapping[str, Rule]
    records: Mapping[str, Rule]
    scrape_interval: float
    evaluation_interval: float
    time_scale: float
    alertmanager: AlertmanagerSettings
    receiver_of: Mapping[str, str]
    min_range: float

    @classmethod
    def from_files(
        cls,
        rules: Sequence[Rule],
        alertmanager: AlertmanagerSettings | None,
        *,
        scrape_interval: float,
        evaluation_interval: float,
        time_scale: float,
        receiver_of: Mapping[str, str] | None = None,
    ) -> FileTiming:
        """From parsed rules (alerts and recording rules) and Alertmanager settings (None: no
        Alertmanager config, its defaults 30s/5m apply)."""
        return cls(
            alerts={r.name: r for r in rules if r.kind == "alert"},
            records={r.name: r for r in rules if r.kind == "record"},
            scrape_interval=scrape_interval,
            evaluation_interval=evaluation_interval,
            time_scale=time_scale,
            alertmanager=alertmanager or AlertmanagerSettings(),
            receiver_of=dict(receiver_of or {}),
            min_range=4 * scrape_interval,
        )

    def _window(self, expr: str) -> float:
        window, _ = _windows(expr)
        return max(window * self.time_scale, self.min_range) if window else 0.0

    def _depth(self, expr: str, seen: frozenset[str] = frozenset()) -> tuple[int, float]:
        window = self._window(expr)
        _, names = _windows(expr)
        depth = 0
        for name in names & set(self.records) - seen:
            sub_depth, sub_window = self._depth(self.records[name].expr, seen | {name})
            depth = max(depth, sub_depth + 1)
            window = max(window, sub_window)
        return depth, window

    def _route_timing(self, alert: str) -> tuple[float, float]:
        settings = self.alertmanager
        receiver = self.receiver_of.get(alert)
        if receiver is not None and receiver in settings.group_wait:
            return settings.group_wait[receiver], settings.group_interval[receiver]
        waits = [settings.root_wait, *settings.group_wait.values()]
        intervals = [settings.root_interval, *settings.group_interval.values()]
        return max(waits), max(intervals)

    def bounds(self, alert: str) -> AlertBounds | None:
        """The bounds of ``alert`` (None when no rule file defines it)."""
        rule = self.alerts.get(alert)
        if rule is None:
            return None
        depth, window = self._depth(rule.expr)
        group_wait, group_interval = self._route_timing(alert)
        return AlertBounds(
            alert=alert,
            scrape_interval=self.scrape_interval,
            scrape_timeout=self.scrape_interval,
            evaluation_interval=rule.group_interval or self.evaluation_interval,
            levels=1 + depth,
            for_seconds=(rule.for_seconds or 0.0) * self.time_scale,
            keep_firing_for=(rule.keep_firing_for_seconds or 0.0) * self.time_scale,
            window=window,
            group_wait=group_wait,
            group_interval=group_interval,
        )

    def detect_seconds(self, alert: str, detect: str | None) -> float:
        """A scenario's declared extra detection time: ``window`` or a duration at scale 1 (scaled)."""
        if not detect:
            return 0.0
        if detect == "window":
            rule = self.alerts.get(alert)
            return self._depth(rule.expr)[1] if rule else 0.0
        return parse_duration(detect) * self.time_scale
