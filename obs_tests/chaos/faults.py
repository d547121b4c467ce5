"""Faults: each a small class with ``apply()`` and a guaranteed ``revert()``.

A fault acts on a :class:`~obs_tests.stack.protocol.Stack` — the embedded stack's processes, a compose
project's containers; an external stack refuses with the reason — and, for service faults, on the
services' admin API. :func:`build_fault` turns a scenario's fault declaration into one, through the registry of
kinds (:data:`FAULT_KINDS`: kind → :class:`FaultKind`, its description, factory and fixed target)::

    fault = build_fault(FaultSpec("kill-gateway", "kill", "gateway"), backend)
    fault.apply(); ...; fault.revert()

Kinds (``FAULT_KINDS``): ``kill`` (SIGKILL, revert: start), ``stop`` (SIGTERM, revert: start), ``pause``
(SIGSTOP: scrapes time out; revert: SIGCONT), ``restart`` (revert: wait until healthy), ``failed_reload``
(a Prometheus replica refuses a broken configuration on reload; revert: the good one back), ``service``
(admin-endpoint faults: error rate, latency distribution, hang, dropped/failed/corrupted NATS publishes,
exposition corruptions; revert: the previous fault set), ``slow_metrics`` (``/metrics`` slower than the
scrape timeout), ``nats_down`` / ``nats_pause`` / ``redis_down`` (the infrastructure under the services),
``market`` (switch the exchange's market scenario; revert: the previous one), ``candles`` (switch the
exchange's candle feed, a trading bot's market, from its last price; revert: the previous feed at that
price), and the event chaos of a trading bot on the bus (:data:`EVENT_CHAOS`: ``delay_event``,
``drop_event``, ``modify_event``, ``inject_failure``, ``network_latency`` — a rule on the bot's
``/admin/events``, active in a window of the bot's cycles; revert: the rule removed, what it did kept in
:attr:`EventFault.stats`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.clients.services import ServiceClient
from obs_tests.errors import UsageError
from obs_tests.stack.protocol import Stack
from obs_tests.workloads import LoadRun, LoadSpec

__all__ = [
    "CANDLE_PARAMS",
    "CHAOS_COUNTERS",
    "EVENT_CHAOS",
    "FAULT_KINDS",
    "PROCESS_ACTIONS",
    "CandleFault",
    "EventFault",
    "Fault",
    "FaultKind",
    "FaultSpec",
    "LoadFault",
    "MarketFault",
    "ProcessFault",
    "ReloadFault",
    "ServiceFault",
    "build_fault",
]


@dataclass(frozen=True)
class FaultSpec:
    """A fault as a scenario declares it."""

    name: str
    kind: str
    target: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


class Fault:
    """Base class: subclasses implement ``_apply`` and ``_revert``; ``revert`` is idempotent."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self.applying_since: float | None = None
        self.applied_at: float | None = None
        self.reverted_at: float | None = None

    @property
    def name(self) -> str:
        """The fault's name in the scenario."""
        return self.spec.name

    @property
    def target(self) -> str:
        """The component it acts on."""
        return self.spec.target or ""

    @property
    def active(self) -> bool:
        """Applied and not yet reverted."""
        return self.applied_at is not None and self.reverted_at is None

    def describe(self) -> str:
        """One line for logs and reports."""
        return f"{self.spec.kind} {self.target}".strip()

    def apply(self) -> None:
        """Inject the fault (records when applying began and when it completed: a restart takes its
        component away at the start and is applied once it is back)."""
        self.applying_since = time.time()
        self._apply()
        self.applied_at = time.time()

    def revert(self) -> bool:
        """Undo the fault if it is active; True when something was undone."""
        if not self.active:
            return False
        self._revert()
        self.reverted_at = time.time()
        return True

    def _apply(self) -> None:
        raise NotImplementedError

    def _revert(self) -> None:
        raise NotImplementedError


class ProcessFault(Fault):
    """kill / stop / pause / restart of a component (:data:`PROCESS_ACTIONS`)."""

    def __init__(self, spec: FaultSpec, backend: Stack, action: str) -> None:
        super().__init__(spec)
        self.backend = backend
        self.action = action
        self._apply_action, self._revert_action = PROCESS_ACTIONS[action]

    def describe(self) -> str:
        """``pause nats``."""
        return f"{self.action} {self.target}"

    def _apply(self) -> None:
        self._apply_action(self.backend, self.target)

    def _revert(self) -> None:
        if self._revert_action is not None:
            self._revert_action(self.backend, self.target)


def _start(backend: Stack, name: str) -> None:
    backend.start(name, wait=True)


#: each process action: what applies it, and what reverts it (None: a restart comes back by itself)
PROCESS_ACTIONS: dict[str, tuple[Callable[[Stack, str], None], Callable[[Stack, str], None] | None]] = {
    "kill": (lambda backend, name: backend.kill(name), _start),
    "stop": (lambda backend, name: backend.stop(name), _start),
    "pause": (lambda backend, name: backend.pause(name), lambda backend, name: backend.resume(name)),
    "restart": (lambda backend, name: backend.restart(name, wait=False), None),
}


class ServiceFault(Fault):
    """Faults through a mock service's admin endpoint; the previous fault set is restored."""

    def __init__(self, spec: FaultSpec, backend: Stack, faults: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.client = ServiceClient(backend.url(self.target), timeout=5.0)
        self.faults = dict(faults)
        self._previous: dict[str, Any] | None = None

    def describe(self) -> str:
        """``service gateway {"error_rate": 0.5}``."""
        inner = ", ".join(f"{k}={v}" for k, v in self.faults.items())
        return f"{self.spec.kind} {self.target} ({inner})"

    def _apply(self) -> None:
        self._previous = self.client.faults()
        self.client.patch_faults(self.faults)

    def _revert(self) -> None:
        self.client.set_faults(self._previous or {})


class MarketFault(Fault):
    """Switch the exchange's market scenario; the previous one comes back on revert."""

    def __init__(self, spec: FaultSpec, backend: Stack, scenario: str, seed: int | None) -> None:
        super().__init__(spec)
        self.client = ServiceClient(backend.url(self.target), timeout=5.0)
        self.scenario = scenario
        self.seed = seed
        self._previous: str | None = None

    def describe(self) -> str:
        """``market flash_crash``."""
        return f"market {self.scenario}"

    def _apply(self) -> None:
        self._previous = str(self.client.scenario().get("scenario") or "sideways")
        self.client.set_scenario(self.scenario, self.seed)

    def _revert(self) -> None:
        self.client.set_scenario(self._previous or "sideways")


#: what a ``candles`` fault's params may set (fields of the exchange's ``PUT /admin/candles``)
CANDLE_PARAMS = ("scenario", "seed", "initial_price", "volatility_multiplier", "spread_bps", "warmup_candles")
_CANDLE_CONFIG = (*CANDLE_PARAMS, "pair")


class CandleFault(Fault):
    """Switch the exchange's candle feed — the market a trading bot reads, one candle per fetch — to another
    scenario (default ``flash_crash``), played from the feed's last price without warm-up candles, so the
    bot's next fetch is the scenario's first candle. Revert: the feed it had, restarted at the price the
    fault started from (the market back where it was)."""

    def __init__(self, spec: FaultSpec, backend: Stack) -> None:
        super().__init__(spec)
        unknown = sorted(set(spec.params) - set(CANDLE_PARAMS))
        if unknown:
            raise UsageError(
                f"fault {spec.name}: params: unknown {', '.join(map(str, unknown))} — known: {', '.join(CANDLE_PARAMS)}"
            )
        self.client = ServiceClient(backend.url(self.target), timeout=5.0)
        self.params: dict[str, Any] = {"scenario": "flash_crash", "warmup_candles": 0, **spec.params}
        self._previous: dict[str, Any] | None = None

    def describe(self) -> str:
        """``candles flash_crash``."""
        return f"candles {self.params['scenario']}"

    def _apply(self) -> None:
        state = self.client.candles()
        previous = {key: state[key] for key in _CANDLE_CONFIG if state.get(key) is not None}
        price = state.get("last_price") or previous.get("initial_price")
        if price is not None:
            previous["initial_price"] = price
        self._previous = previous
        self.client.set_candles({**previous, **self.params})

    def _revert(self) -> None:
        self.client.set_candles(self._previous)


class LoadFault(Fault):
    """A Locust load started on apply and stopped on revert (bad traffic is a fault too)."""

    def __init__(self, spec: FaultSpec, backend: Stack) -> None:
        super().__init__(spec)
        fields = dict(spec.params)
        fields.setdefault("duration", 3600.0)
        fields.setdefault("stop_timeout", 10.0)
        if "tags" in fields:
            fields["tags"] = tuple(fields["tags"])
        try:
            self.load = LoadSpec(**fields)
        except TypeError as exc:
            raise UsageError(f"fault {spec.name}: params: {exc}") from None
        self.load.validate()
        self.backend = backend
        self.run: LoadRun | None = None

    def describe(self) -> str:
        """``load 10 users, 50 % malformed``."""
        return f"load {self.load.users} users, {self.load.malformed_ratio:.0%} malformed"

    def _apply(self) -> None:
        self.run = LoadRun(self.load, self.backend.url(self.target), targets_file=self.backend.load_targets)
        self.run.start()
        try:  # applied once bad traffic flows: the alert's bound counts from there
            self.run.wait_sending()
        except BaseException:
            self.run.stop()
            raise

    def _revert(self) -> None:
        if self.run is not None:
            self.run.stop()


#: the event-chaos kinds and what each does to the named events between publisher and subscribers
EVENT_CHAOS = {
    "delay_event": "publish the event delay_ms later",
    "drop_event": "do not publish the event (with probability, default 1)",
    "modify_event": "change one data field of the event (its checksum no longer matches)",
    "inject_failure": "replace the price fetch by a failure event with error_message",
    "network_latency": "delay every event uniformly in [min_delay_ms, max_delay_ms]",
}
#: what event chaos counts (a scenario result's ``chaos`` block)
CHAOS_COUNTERS = ("events_delayed", "events_dropped", "failures_injected", "events_modified", "total_delay_ms")
_DELAYS = ("delay_ms", "min_delay_ms", "max_delay_ms")


class EventFault(Fault):
    """An event-chaos rule on a bot's ``/admin/events`` (its delays scaled by the stack's time scale, as the
    bot's poll interval is); revert removes the rule and keeps what it did in :attr:`stats`."""

    def __init__(self, spec: FaultSpec, backend: Stack) -> None:
        super().__init__(spec)
        self.client = ServiceClient(backend.url(self.target), timeout=5.0)
        rule: dict[str, Any] = {"type": spec.kind, **spec.params}
        for key in _DELAYS:
            if key in rule:
                rule[key] = round(float(rule[key]) * backend.time_scale, 3)
        self.rule = rule
        self.stats: dict[str, float] = dict.fromkeys(CHAOS_COUNTERS, 0)

    def describe(self) -> str:
        """``drop_event BuyConditionMet (probability=0.3)``."""
        inner = ", ".join(f"{k}={v}" for k, v in self.rule.items() if k not in ("type", "event"))
        event = self.rule.get("event")
        return f"{self.spec.kind}{' ' + str(event) if event else ''}{f' ({inner})' if inner else ''}"

    def read_stats(self) -> dict[str, float]:
        """What the rule did so far (the bot's counters for it); the last known when the bot does not answer."""
        by_rule = (self.client.event_rules().get("stats") or {}).get("by_rule") or {}
        mine = by_rule.get(self.name) or {}
        self.stats = {key: mine.get(key, 0) for key in CHAOS_COUNTERS}
        return self.stats

    def _apply(self) -> None:
        self.client.patch_event_rules({self.name: self.rule})

    def _revert(self) -> None:
        try:
            self.read_stats()
        finally:
            self.client.patch_event_rules({self.name: None})


#: appended to a replica's configuration by :class:`ReloadFault`: YAML that does not parse
BROKEN_CONFIG = "\nscrape_configs: [unclosed  # obs-tests failed_reload fault\n"


class ReloadFault(Fault):
    """A configuration Prometheus replica ``target`` refuses, and a reload: ``/-/reload`` answers 500, the
    replica goes on with its last good configuration and ``prometheus_config_last_reload_successful`` is 0
    — the state a fleet is in when one replica's reload failed. Revert: the configuration back, reloaded."""

    def __init__(self, spec: FaultSpec, backend: Stack) -> None:
        super().__init__(spec)
        self.backend = backend
        self._good: str | None = None

    def describe(self) -> str:
        """``failed_reload prometheus-2``."""
        return f"failed_reload {self.target}"

    def _apply(self) -> None:
        path = self.backend.config_file(self.target)
        self._good = path.read_text(encoding="utf-8")
        path.write_text(self._good + BROKEN_CONFIG, encoding="utf-8")
        client = PrometheusClient(self.backend.url(self.target))
        answer = client.request("POST", "/-/reload", expect=(200, 500), timeout=30.0)
        if answer.status_code == 200:
            raise UsageError(f"{self.target} accepted a configuration that does not parse: is it a Prometheus?")

    def _revert(self) -> None:
        if self._good is None:
            return
        self.backend.config_file(self.target).write_text(self._good, encoding="utf-8")
        self._good = None
        PrometheusClient(self.backend.url(self.target)).reload()


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault a scenario may declare: what it does, how to build it from its declaration,
    and the component it always acts on (None: the scenario names the target)."""

    description: str
    build: Callable[[FaultSpec, Stack], Fault]
    target: str | None = None


def _process(action: str) -> Callable[[FaultSpec, Stack], Fault]:
    def build(spec: FaultSpec, backend: Stack) -> Fault:
        return ProcessFault(spec, backend, action)

    return build


def _service(spec: FaultSpec, backend: Stack) -> Fault:
    return ServiceFault(spec, backend, spec.params)


def _slow_metrics(spec: FaultSpec, backend: Stack) -> Fault:
    return ServiceFault(spec, backend, {"metrics_delay_ms": int(spec.params.get("delay_ms", 3000))})


def _market(spec: FaultSpec, backend: Stack) -> Fault:
    return MarketFault(spec, backend, str(spec.params.get("scenario", "flash_crash")), spec.params.get("seed"))


#: every fault kind, by the name a scenario's ``chaos[].kind`` gives
FAULT_KINDS: dict[str, FaultKind] = {
    "kill": FaultKind("SIGKILL a component (revert: start it again)", _process("kill")),
    "stop": FaultKind("stop a component cleanly (revert: start it again)", _process("stop")),
    "pause": FaultKind("SIGSTOP a component, so its scrapes time out (revert: SIGCONT)", _process("pause")),
    "restart": FaultKind("restart a component (revert: nothing to undo)", _process("restart")),
    "failed_reload": FaultKind(
        "a configuration a Prometheus replica refuses, and a reload: it runs on its last good one (revert: the "
        "configuration back, reloaded)",
        ReloadFault,
    ),
    "service": FaultKind("faults through a mock service's /admin/faults (revert: the previous fault set)", _service),
    "slow_metrics": FaultKind("make a mock service's /metrics slower than the scrape timeout", _slow_metrics),
    "nats_down": FaultKind("kill nats-server (publishes fail; revert: start it)", _process("kill"), "nats"),
    "nats_pause": FaultKind("SIGSTOP nats-server (publishes time out; revert: SIGCONT)", _process("pause"), "nats"),
    "redis_down": FaultKind("kill redis-server (revert: start it)", _process("kill"), "redis"),
    "market": FaultKind(
        "switch the exchange's market scenario, e.g. flash_crash (revert: the previous scenario)", _market, "exchange"
    ),
    "candles": FaultKind(
        "switch the exchange's candle feed (a trading bot's market), e.g. flash_crash, from its last price "
        "(revert: the previous feed, back at that price)",
        CandleFault,
        "exchange",
    ),
    "load": FaultKind(
        "extra Locust load against the gateway, e.g. broken senders (params: LoadSpec fields; revert: stop)",
        LoadFault,
        "gateway",
    ),
    **{
        kind: FaultKind(f"bot events: {what} (revert: the rule removed)", EventFault, "bot")
        for kind, what in EVENT_CHAOS.items()
    },
}


def build_fault(spec: FaultSpec, backend: Stack) -> Fault:
    """The :class:`Fault` for ``spec``, built by its kind's entry in :data:`FAULT_KINDS` (unknown kinds and
    targets were refused when the scenario loaded)."""
    kind = FAULT_KINDS.get(spec.kind)
    if kind is None:
        raise UsageError(f"fault {spec.name}: unknown kind '{spec.kind}' — known: {', '.join(FAULT_KINDS)}")
    if kind.target is not None and spec.target in (None, kind.target):
        spec = replace(spec, target=kind.target)
    if not spec.target:
        raise UsageError(f"fault {spec.name}: '{spec.kind}' needs a target component")
    return kind.build(spec, backend)
