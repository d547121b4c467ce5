"""Event chaos, pure: named rules that act on the bot's events between its publisher and its subscribers
(``/admin/events``), what each did (its stats), and the validation of a rule with clear messages.

A rule (all but ``type`` optional; delays in milliseconds as given)::

    {"type": "delay_event", "event": "IndicatorsCalculated", "delay_ms": 5000, "at_cycle": 25}
    {"type": "drop_event", "event": "BuyConditionMet", "probability": 0.3}
    {"type": "modify_event", "event": "MarketPriceFetched", "field": "price", "multiplier": 1.5}
    {"type": "inject_failure", "event": "MarketPriceFetchFailed", "at_cycle": 30, "error_message": "timeout"}
    {"type": "network_latency", "min_delay_ms": 100, "max_delay_ms": 1000, "at_cycle": 20, "duration_cycles": 10}

- ``delay_event`` publishes ``event`` ``delay_ms`` later; ``drop_event`` does not publish it;
  ``modify_event`` sets ``data[field] = value`` or multiplies it by ``multiplier`` (the checksum stays
  as it was, so subscribers reject it); ``inject_failure`` replaces the cycle's price fetch by a failure
  (``MarketPriceFetchFailed`` with ``injected: true``); ``network_latency`` delays every event (or only
  ``event``) by a uniform draw in ``[min_delay_ms, max_delay_ms]``.
- ``probability`` (default 1) is drawn per event from an RNG seeded by ``(seed, rule name)``, so runs
  repeat.
- The window is in the event's cycle: from ``at_cycle`` for ``duration_cycles`` cycles. Without
  ``duration_cycles``, ``delay_event`` and ``inject_failure`` at a cycle last that one cycle, the others
  until removed. Without ``at_cycle`` a rule acts at once (with ``duration_cycles``: the next N cycles).

>>> chaos = EventChaos(seed=1)
>>> rules = parse_rules({"slow": {"type": "delay_event", "event": "BuyConditionMet", "delay_ms": 50}})
>>> chaos.replace(rules, cycle=0)
>>> chaos.on_publish("BuyConditionMet", 3, {"price": 1.0, "reason": "trend_up"}).delay_ms
50.0
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from obs_tests.demo.bot_events import EVENT_FIELDS, EVENT_NAMES, NUMERIC_FIELDS
from obs_tests.errors import AdminRequestInvalid

__all__ = ["CHAOS_TYPES", "ChaosRule", "ChaosStats", "EventChaos", "Verdict", "parse_rule", "parse_rules"]

CHAOS_TYPES: Final = ("delay_event", "drop_event", "modify_event", "inject_failure", "network_latency")
_COMMON: Final = ("type", "event", "at_cycle", "duration_cycles", "probability")
_KEYS: Final = {
    "delay_event": (*_COMMON, "delay_ms"),
    "drop_event": _COMMON,
    "modify_event": (*_COMMON, "field", "value", "multiplier"),
    "inject_failure": (*_COMMON, "error_message"),
    "network_latency": (*_COMMON, "min_delay_ms", "max_delay_ms"),
}
_MAX_DELAY_MS: Final = 3_600_000.0
_FAILURE_EVENT: Final = "MarketPriceFetchFailed"


@dataclass(frozen=True)
class ChaosRule:
    """One validated rule (see the module doc; ``target`` is its ``field``, ``given`` the rule as written)."""

    name: str
    type: str
    event: str | None = None
    at_cycle: int | None = None
    duration_cycles: int | None = None
    probability: float = 1.0
    delay_ms: float = 0.0
    min_delay_ms: float = 0.0
    max_delay_ms: float = 0.0
    target: str | None = None
    value: Any = None
    multiplier: float | None = None
    error_message: str = "injected failure"
    given: Mapping[str, Any] = field(default_factory=dict)

    def window(self, anchor: int) -> tuple[int, int | None]:
        """``(first cycle, first cycle after it)`` (None: until removed); ``anchor`` when no ``at_cycle``."""
        start = self.at_cycle if self.at_cycle is not None else anchor
        duration = self.duration_cycles
        if duration is None and self.at_cycle is not None and self.type in ("delay_event", "inject_failure"):
            duration = 1
        return start, None if duration is None else start + duration

    def applies_to(self, name: str) -> bool:
        """Whether this rule acts on events called ``name`` when published."""
        if self.type == "inject_failure":
            return False
        return self.event is None or self.event == name


def _fail(name: str, message: str) -> AdminRequestInvalid:
    return AdminRequestInvalid(f"rule {name!r}: {message}")


def _number(name: str, doc: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(name, f"{key} must be a number, got {value!r}")
    if not low <= value <= high:
        raise _fail(name, f"{key} must be in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _count(name: str, doc: Mapping[str, Any], key: str, low: int) -> int | None:
    if key not in doc:
        return None
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(name, f"{key} must be an integer >= {low}, got {value!r}")
    return value


def _event(name: str, doc: Mapping[str, Any], kind: str) -> str | None:
    event = doc.get("event")
    if event is None:
        if kind in ("delay_event", "drop_event", "modify_event"):
            raise _fail(name, f"{kind} needs an event; known: {', '.join(EVENT_NAMES)}")
        return _FAILURE_EVENT if kind == "inject_failure" else None
    if event not in EVENT_NAMES:
        raise _fail(name, f"unknown event {event!r}; known: {', '.join(EVENT_NAMES)}")
    if kind == "inject_failure" and event != _FAILURE_EVENT:
        raise _fail(name, f"inject_failure injects {_FAILURE_EVENT}, not {event}")
    return str(event)


def _modification(name: str, doc: Mapping[str, Any], event: str) -> tuple[str, Any, float | None]:
    known = EVENT_FIELDS[event]
    target = doc.get("field")
    if target not in known:
        raise _fail(name, f"unknown field {target!r} of {event}; known: {', '.join(known)}")
    if ("value" in doc) == ("multiplier" in doc):
        raise _fail(name, "modify_event takes either value (set the field) or multiplier (scale it)")
    if "multiplier" not in doc:
        return str(target), doc["value"], None
    if target not in NUMERIC_FIELDS:
        raise _fail(name, f"field {target!r} of {event} is not a number: use value instead of multiplier")
    return str(target), None, _number(name, doc, "multiplier", -1e12, 1e12)


def _delays(name: str, doc: Mapping[str, Any], kind: str) -> dict[str, float]:
    if kind == "delay_event":
        if "delay_ms" not in doc:
            raise _fail(name, "delay_event needs delay_ms")
        return {"delay_ms": _number(name, doc, "delay_ms", 0.0, _MAX_DELAY_MS)}
    if kind != "network_latency":
        return {}
    if "max_delay_ms" not in doc:
        raise _fail(name, "network_latency needs max_delay_ms (and min_delay_ms, default 0)")
    low = _number(name, doc, "min_delay_ms", 0.0, _MAX_DELAY_MS) if "min_delay_ms" in doc else 0.0
    high = _number(name, doc, "max_delay_ms", 0.0, _MAX_DELAY_MS)
    if low > high:
        raise _fail(name, f"min_delay_ms ({low:g}) must not exceed max_delay_ms ({high:g})")
    return {"min_delay_ms": low, "max_delay_ms": high}


def parse_rule(name: object, doc: object) -> ChaosRule:
    """Validate one rule; :class:`AdminRequestInvalid` names the rule, the key and what it may be."""
    if not isinstance(name, str) or not 0 < len(name) <= 64 or not name.isprintable():
        raise AdminRequestInvalid(f"rule name {name!r}: must be a printable string of 1-64 characters")
    if not isinstance(doc, dict):
        raise _fail(name, f"must be an object like {{'type': 'drop_event', 'event': ...}}, got {doc!r}")
    kind = doc.get("type")
    if kind not in CHAOS_TYPES:
        raise _fail(name, f"unknown type {kind!r}; known: {', '.join(CHAOS_TYPES)}")
    unknown = sorted(set(doc) - set(_KEYS[kind]))
    if unknown:
        raise _fail(name, f"unknown key(s) {', '.join(unknown)} for {kind}; known: {', '.join(_KEYS[kind])}")
    event = _event(name, doc, kind)
    rule: dict[str, Any] = {"event": event, **_delays(name, doc, kind)}
    if kind == "modify_event" and event is not None:
        rule["target"], rule["value"], rule["multiplier"] = _modification(name, doc, event)
    if "probability" in doc:
        rule["probability"] = _number(name, doc, "probability", 0.0, 1.0)
    if "error_message" in doc:
        message = doc["error_message"]
        if not isinstance(message, str) or len(message) > 500:
            raise _fail(name, f"error_message must be a string of at most 500 characters, got {message!r}")
        rule["error_message"] = message
    return ChaosRule(
        name,
        kind,
        at_cycle=_count(name, doc, "at_cycle", 0),
        duration_cycles=_count(name, doc, "duration_cycles", 1),
        given=dict(doc),
        **rule,
    )


def parse_rules(doc: object) -> dict[str, ChaosRule | None]:
    """The rules of a ``/admin/events`` body — ``{name: rule}``, ``{"rules": {name: rule}}`` or a list
    (named ``1-<type>``, ``2-<type>``, …); a ``null`` rule (for ``PATCH``) removes that name."""
    if isinstance(doc, list):
        doc = {f"{i}-{rule.get('type') if isinstance(rule, dict) else 'rule'}": rule for i, rule in enumerate(doc, 1)}
    if not isinstance(doc, dict):
        raise AdminRequestInvalid("expected {name: rule, ...}, {'rules': {name: rule}} or a list of rules")
    wrapped = doc.get("rules")
    if set(doc) == {"rules"} and isinstance(wrapped, dict) and "type" not in wrapped:
        doc = wrapped
    return {name: None if rule is None else parse_rule(name, rule) for name, rule in doc.items()}


@dataclass
class ChaosStats:
    """What event chaos did (all rules, or one)."""

    events_delayed: int = 0
    events_dropped: int = 0
    failures_injected: int = 0
    events_modified: int = 0
    total_delay_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The stats as JSON."""
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """What chaos does to one event: drop it, or publish ``data`` after ``delay_ms``; ``actions`` lists
    ``dropped``/``modified``/``delayed`` once each."""

    drop: bool = False
    delay_ms: float = 0.0
    data: dict[str, Any] | None = None
    actions: tuple[str, ...] = ()


@dataclass
class _Active:
    rule: ChaosRule
    anchor: int
    rng: random.Random
    stats: ChaosStats

    def live(self, cycle: int) -> bool:
        start, end = self.rule.window(self.anchor)
        return cycle >= start and (end is None or cycle < end)

    def fires(self) -> bool:
        probability = self.rule.probability
        return probability >= 1.0 or self.rng.random() < probability


class EventChaos:
    """The live rules of one bot, their RNGs, windows and stats."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._rules: dict[str, _Active] = {}
        self.stats = ChaosStats()
        #: the stats of every rule since the bot's reset (a removed rule's stay until then)
        self.by_rule: dict[str, ChaosStats] = {}

    def _activate(self, rule: ChaosRule, cycle: int) -> _Active:
        anchor = cycle + 1 if rule.duration_cycles is not None else 0
        stats = self.by_rule.setdefault(rule.name, ChaosStats())
        return _Active(rule, anchor, random.Random(f"{self.seed}:{rule.name}"), stats)

    def replace(self, rules: Mapping[str, ChaosRule | None], cycle: int) -> None:
        """``PUT``: these rules only (``cycle``: the bot's current cycle, for rules without ``at_cycle``)."""
        self._rules = {name: self._activate(rule, cycle) for name, rule in rules.items() if rule is not None}

    def merge(self, rules: Mapping[str, ChaosRule | None], cycle: int) -> None:
        """``PATCH``: add or replace these rules; a ``None`` rule removes its name."""
        for name, rule in rules.items():
            if rule is None:
                self._rules.pop(name, None)
            else:
                self._rules[name] = self._activate(rule, cycle)

    def clear(self) -> None:
        """``DELETE``: no rule (the stats stay until the bot is reset)."""
        self._rules.clear()

    def reset(self) -> None:
        """A new bot run: stats to zero, RNGs reseeded, rules without ``at_cycle`` re-anchored at its start."""
        self.stats = ChaosStats()
        self.by_rule = {}
        self._rules = {name: self._activate(active.rule, 0) for name, active in self._rules.items()}

    def on_publish(self, name: str, cycle: int, data: dict[str, Any]) -> Verdict:
        """What the rules do to event ``name`` of ``cycle`` (counted in the stats)."""
        delay, modified, actions = 0.0, data, []
        for active in self._rules.values():
            rule = active.rule
            if not rule.applies_to(name) or not active.live(cycle) or not active.fires():
                continue
            if rule.type == "drop_event":
                active.stats.events_dropped += 1
                self.stats.events_dropped += 1
                return Verdict(drop=True, actions=("dropped",))
            if rule.type == "modify_event":
                modified = _modified(modified, rule)
                active.stats.events_modified += 1
                actions.append("modified")
                continue
            extra = rule.delay_ms if rule.type == "delay_event" else active.rng.uniform(*_bounds(rule))
            if extra > 0.0:
                active.stats.events_delayed += 1
                active.stats.total_delay_ms += extra
                delay += extra
        if actions:
            self.stats.events_modified += 1
        if delay > 0.0:
            actions.append("delayed")
            self.stats.events_delayed += 1
            self.stats.total_delay_ms += delay
        return Verdict(delay_ms=delay, data=modified, actions=tuple(dict.fromkeys(actions)))

    def injected_failure(self, cycle: int) -> ChaosRule | None:
        """The ``inject_failure`` rule replacing the price fetch of ``cycle``, if any (counted)."""
        for active in self._rules.values():
            if active.rule.type == "inject_failure" and active.live(cycle) and active.fires():
                active.stats.failures_injected += 1
                self.stats.failures_injected += 1
                return active.rule
        return None

    def to_json(self) -> dict[str, Any]:
        """What ``GET /admin/events`` answers: the rules as given (with their window) and the stats."""
        rules = {}
        for name, active in self._rules.items():
            start, end = active.rule.window(active.anchor)
            rules[name] = {**active.rule.given, "window": {"from_cycle": start, "until_cycle": end}}
        by_rule = {name: stats.to_json() for name, stats in self.by_rule.items()}
        return {"rules": rules, "stats": {**self.stats.to_json(), "by_rule": by_rule}}


def _bounds(rule: ChaosRule) -> tuple[float, float]:
    return rule.min_delay_ms, rule.max_delay_ms


def _modified(data: dict[str, Any], rule: ChaosRule) -> dict[str, Any]:
    changed = dict(data)
    target = rule.target or ""
    if rule.multiplier is None:
        changed[target] = rule.value
    else:
        current = changed.get(target)
        if isinstance(current, int | float) and not isinstance(current, bool):
            changed[target] = current * rule.multiplier
    return changed
