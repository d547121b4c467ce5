"""Assertions on a run's bus events: the ``assert`` step of the trading-bot language.

::

    - assert:
        event_count: {PositionPurchased: {min: 3, max: 10}, PositionSold: {max: 2}}   # or {exact: 4}
        event_sequence: [BotMonitoringCycleStarted, MarketPriceFetched, IndicatorsCalculated]
        no_panic_sell: {crash_start_cycle: 20, crash_end_cycle: 30}
        final_capital: {min: 9000.0, max: 12000.0}
        position_count: {min: 3, max: 10}
        custom: mypackage.checks:assert_profitable_trade      # f(events) -> (bool, message)

Each bound is one result, named as the seed framework names it (``event_count.PositionPurchased.min``,
``final_capital.max``, ``no_panic_sell``, ``custom.mypackage.checks:assert_profitable_trade``) with its
message ("Expected at least 3 PositionPurchased events, got 5"). They judge an
:class:`~obs_tests.scenarios.events.EventLog`, so a live run and a replay of its recording are judged alike.

``event_sequence`` holds when the names occur in that order among the events (others may come between);
``no_panic_sell`` fails for every ``PositionSold`` at a loss (``pnl`` < 0) in a cycle of the window;
``final_capital`` is the bot's equity in its last event; ``position_count`` counts the positions taken.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.custom import import_callable
from obs_tests.scenarios.events import EVENT_NAMES, EventLog
from obs_tests.scenarios.results import AssertionResult
from obs_tests.scenarios.step_types import StepArgs

__all__ = ["EVENT_ASSERTIONS", "AssertEvents", "Bounds", "judge_events", "parse_assert_events"]

#: the keys of an ``assert`` step that make it an assertion on events
EVENT_ASSERTIONS = ("event_count", "event_sequence", "no_panic_sell", "final_capital", "position_count", "custom")


@dataclass(frozen=True)
class Bounds:
    """``{min?, max?, exact?}`` (numbers)."""

    min: float | None = None
    max: float | None = None
    exact: float | None = None

    @classmethod
    def parse(cls, raw: object, where: str) -> Bounds:
        """From a scenario's mapping; :class:`ScenarioInvalid` when it is not one of bounds."""
        if not isinstance(raw, Mapping) or not raw:
            raise ScenarioInvalid(f"{where}: expected a mapping with min, max or exact, got {raw!r}")
        unknown = sorted(set(raw) - {"min", "max", "exact"})
        if unknown:
            raise ScenarioInvalid(f"{where}: unknown field '{unknown[0]}' — known: min, max, exact")
        for key, value in raw.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ScenarioInvalid(f"{where}.{key}: expected a number, got {value!r}")
        if "exact" in raw and len(raw) > 1:
            raise ScenarioInvalid(f"{where}: exact excludes min and max")
        if "min" in raw and "max" in raw and raw["min"] > raw["max"]:
            raise ScenarioInvalid(f"{where}: min {raw['min']} is above max {raw['max']}")
        return cls(raw.get("min"), raw.get("max"), raw.get("exact"))

    def items(self) -> list[tuple[str, float]]:
        """The given bounds as ``(min|max|exact, value)``."""
        return [(k, v) for k, v in (("min", self.min), ("max", self.max), ("exact", self.exact)) if v is not None]

    def to_json(self) -> dict[str, float]:
        """As written."""
        return dict(self.items())


@dataclass(frozen=True)
class AssertEvents(StepArgs):
    """The typed ``assert`` step on events (see the module docstring)."""

    kind: ClassVar[str] = "assert_events"
    event_count: Mapping[str, Bounds] = field(default_factory=dict)
    event_sequence: tuple[str, ...] = ()
    no_panic_sell: tuple[int, int] | None = None
    final_capital: Bounds | None = None
    position_count: Bounds | None = None
    custom: tuple[str, ...] = ()

    def written_fields(self) -> dict[str, object]:
        shown: dict[str, object] = {
            "event_count": {k: v.to_json() for k, v in self.event_count.items()} or None,
            "event_sequence": list(self.event_sequence) or None,
            "no_panic_sell": list(self.no_panic_sell) if self.no_panic_sell else None,
            "final_capital": self.final_capital.to_json() if self.final_capital else None,
            "position_count": self.position_count.to_json() if self.position_count else None,
            "custom": list(self.custom) or None,
        }
        return {k: v for k, v in shown.items() if v is not None}

    def describe(self) -> str:
        return ", ".join(self.written_fields())


def _names(raw: object, where: str) -> list[str]:
    if not isinstance(raw, list | tuple) or not raw or not all(isinstance(n, str) for n in raw):
        raise ScenarioInvalid(f"{where}: expected a list of event names, got {raw!r}")
    for name in raw:
        if name not in EVENT_NAMES:
            raise ScenarioInvalid(f"{where}: unknown event '{name}' — known: {', '.join(EVENT_NAMES)}")
    return list(raw)


def _window(raw: object, where: str) -> tuple[int, int]:
    if not isinstance(raw, Mapping) or set(raw) != {"crash_start_cycle", "crash_end_cycle"}:
        raise ScenarioInvalid(f"{where}: expected {{crash_start_cycle, crash_end_cycle}}, got {raw!r}")
    start, end = raw["crash_start_cycle"], raw["crash_end_cycle"]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (start, end)) or start > end:
        raise ScenarioInvalid(f"{where}: cycles must be integers, crash_start_cycle <= crash_end_cycle")
    return int(start), int(end)


def parse_assert_events(raw: Mapping[str, Any], where: str) -> AssertEvents:
    """The typed step from an ``assert`` mapping that has event assertions (:class:`ScenarioInvalid`, located)."""
    unknown = sorted(set(raw) - set(EVENT_ASSERTIONS))
    if unknown:
        raise ScenarioInvalid(
            f"{where}: '{unknown[0]}' cannot be mixed with event assertions — known: {', '.join(EVENT_ASSERTIONS)}"
        )
    counts = raw.get("event_count") or {}
    if not isinstance(counts, Mapping):
        raise ScenarioInvalid(f"{where}.event_count: expected a mapping of event names to bounds, got {counts!r}")
    if counts:
        _names(list(counts), f"{where}.event_count")
    custom = raw.get("custom") or []
    custom_list = [custom] if isinstance(custom, str) else custom
    if not isinstance(custom_list, list) or not all(isinstance(c, str) and c for c in custom_list):
        raise ScenarioInvalid(f"{where}.custom: expected 'module:function' or a list of them, got {custom!r}")
    return AssertEvents(
        event_count={str(k): Bounds.parse(v, f"{where}.event_count.{k}") for k, v in counts.items()},
        event_sequence=tuple(_names(raw["event_sequence"], f"{where}.event_sequence"))
        if "event_sequence" in raw
        else (),
        no_panic_sell=_window(raw["no_panic_sell"], f"{where}.no_panic_sell") if "no_panic_sell" in raw else None,
        final_capital=Bounds.parse(raw["final_capital"], f"{where}.final_capital") if "final_capital" in raw else None,
        position_count=Bounds.parse(raw["position_count"], f"{where}.position_count")
        if "position_count" in raw
        else None,
        custom=tuple(custom_list),
    )


_WORDS = {"min": "at least", "max": "at most", "exact": "exactly"}
_OK: dict[str, Callable[[float, float], bool]] = {
    "min": lambda actual, bound: actual >= bound,
    "max": lambda actual, bound: actual <= bound,
    "exact": lambda actual, bound: actual == bound,
}
_SIGNS = {"min": ">=", "max": "<=", "exact": "=="}


def _bounded(name: str, bounds: Bounds, actual: float | None, what: str, fmt: str = "g") -> list[AssertionResult]:
    results = []
    for key, bound in bounds.items():
        shown = "none" if actual is None else format(actual, fmt)
        passed = actual is not None and _OK[key](actual, bound)
        message = f"Expected {_WORDS[key]} {format(bound, fmt)} {what}, got {shown}"
        results.append(AssertionResult(f"{name}.{key}", passed, f"{_SIGNS[key]} {format(bound, fmt)}", shown, message))
    return results


def _sequence(names: Sequence[str], log: EventLog) -> AssertionResult:
    position = 0
    for event in log.events:
        if position < len(names) and event.name == names[position]:
            position += 1
    wanted = " → ".join(names)
    found = " → ".join(names[:position]) or "none of it"
    if position == len(names):
        return AssertionResult("event_sequence", True, wanted, wanted, f"Found sequence {wanted}")
    message = f"Expected events in order {wanted}; found only {found} (next missing: {names[position]})"
    return AssertionResult("event_sequence", False, wanted, found, message)


def _no_panic_sell(window: tuple[int, int], log: EventLog) -> AssertionResult:
    start, end = window
    sales = [e for e in log.named("PositionSold") if start <= e.cycle <= end]
    losses = [e for e in sales if float(e.data.get("pnl") or 0.0) < 0]
    expected = f"no position sold at a loss in cycles {start}-{end}"
    if not losses:
        message = f"No panic sell during cycles {start}-{end} ({len(sales)} sale(s) in the window, none at a loss)"
        return AssertionResult("no_panic_sell", True, expected, f"{len(sales)} sale(s), 0 at a loss", message)
    first = losses[0]
    data = first.data
    message = (
        f"Panic sell during the crash: {len(losses)} position(s) sold at a loss in cycles {start}-{end}, first "
        f"pool {data.get('pool')} at {float(data.get('price') or 0.0):.2f} in cycle {first.cycle} "
        f"(pnl {float(data.get('pnl') or 0.0):.2f}, reason {data.get('reason', '?')})"
    )
    return AssertionResult("no_panic_sell", False, expected, f"{len(losses)} sale(s) at a loss", message)


def _custom(path: str, log: EventLog) -> AssertionResult:
    name = f"custom.{path}"
    try:
        outcome = import_callable(path)([e.to_json() for e in log.events])
    except ScenarioInvalid as exc:
        return AssertionResult(name, False, "passes", "not importable", str(exc))
    except Exception as exc:  # noqa: BLE001 - a user's check may raise anything: report it as its failure
        return AssertionResult(name, False, "passes", "raised", f"{path} raised {type(exc).__name__}: {exc}")
    passed, message = outcome if isinstance(outcome, tuple) else (bool(outcome), "")
    return AssertionResult(name, bool(passed), "passes", "passed" if passed else "failed", str(message))


def judge_events(step: AssertEvents, log: EventLog) -> list[AssertionResult]:
    """Every result of ``step`` on ``log``, in the order the step lists them."""
    results: list[AssertionResult] = []
    for event, bounds in step.event_count.items():
        results += _bounded(f"event_count.{event}", bounds, log.count(event), f"{event} events")
    if step.event_sequence:
        results.append(_sequence(step.event_sequence, log))
    if step.no_panic_sell is not None:
        results.append(_no_panic_sell(step.no_panic_sell, log))
    if step.final_capital is not None:
        results += _bounded("final_capital", step.final_capital, log.final_capital(), "final capital", ".2f")
    if step.position_count is not None:
        results += _bounded("position_count", step.position_count, log.positions_opened(), "positions")
    results += [_custom(path, log) for path in step.custom]
    return results
