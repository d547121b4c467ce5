"""Custom assertions shipped with obs-tests: for ``expect.custom`` (each gets the recorded timeline) and
for the ``custom`` of an ``assert`` on bus events (each gets the run's events, as dicts in arrival order).

A custom assertion is any callable ``f(timeline) -> bool | (bool, message)`` or
``f(events) -> bool | (bool, message)``; reference it by dotted path (``package.module:function``), which
:func:`import_callable` resolves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from obs_tests.config.topology import Topology
from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.settling import WATCHDOG
from obs_tests.scenarios.timeline import Event, Timeline

__all__ = [
    "duplicates_stop_after_heal",
    "equity_grew",
    "import_callable",
    "pipeline_resumed_after_restart",
    "recovered_after_failures",
]


def import_callable(path: str) -> Callable[..., Any]:
    """``package.module:function`` or ``package.module.function``."""
    module_name, _, attr = path.rpartition(":") if ":" in path else path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        func = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ScenarioInvalid(f"custom assertion '{path}': cannot import it ({exc})") from None
    if not callable(func):
        raise ScenarioInvalid(f"custom assertion '{path}' is not callable")
    result: Callable[..., Any] = func
    return result


def pipeline_resumed_after_restart(timeline: Timeline) -> tuple[bool, str]:
    """Prometheus went away (its API failed) after the restart fault, came back, and a Watchdog
    notification reached Alertmanager's receiver after it came back: the alerting pipeline resumed."""
    fault = timeline.first("fault", state="applied")
    if fault is None:
        return False, "no fault was applied"
    # The restart takes Prometheus away as soon as applying starts; "applied" is when it is back.
    down = timeline.first("prometheus", "api", "down", since=fault.detail.get("since") or fault.t)
    if down is None:
        return False, "Prometheus' API never went away after the restart (was it restarted?)"
    up = timeline.first("prometheus", "api", "up", since=down.t)
    if up is None:
        return False, f"Prometheus never came back (down since +{down.t - timeline.origin:.1f}s)"
    note = timeline.first("notification", "Watchdog", "firing", since=up.t)
    if note is None:
        return False, "no Watchdog notification after Prometheus came back: the pipeline did not resume"
    return True, (f"Prometheus down {up.t - down.t:.1f}s; Watchdog notified {note.t - up.t:.1f}s after it came back")


@dataclass(frozen=True)
class _Told:
    """What the partition's notifications told each receiver: repeats of what it had just been told
    (``duplicates``), stale "firing" right after a "resolved" (``flaps``), each with the one before it."""

    duplicates: list[tuple[Event, Event]]
    flaps: list[tuple[Event, Event]]


def _told(timeline: Timeline, flap_window: float) -> _Told:
    """Walk each alert's notifications to each receiver in order (the watchdog's repeats are not
    duplicates): a notification with the status of the one before it told the receiver nothing new — two
    peers notified the same — and a "firing" within ``flap_window`` after a "resolved" is a flap, from a
    peer whose flush began before it had the resolve. The "resolved" after a flap is news, not a duplicate."""
    last: dict[tuple[Any, ...], Event] = {}
    duplicates, flaps = [], []
    for note in timeline.find("notification"):
        if note.name == WATCHDOG:
            continue
        key = (note.name, note.detail.get("receiver"), tuple(sorted(note.labels.items())))
        before = last.get(key)
        if before is not None and before.state == note.state:
            duplicates.append((before, note))
        elif before is not None and note.state == "firing" and note.t - before.t <= flap_window:
            flaps.append((before, note))
        last[key] = note
    return _Told(duplicates, flaps)


def duplicates_stop_after_heal(timeline: Timeline) -> tuple[bool, str]:
    """A partition of the Alertmanager mesh (a ``pause`` fault on a peer, then its revert): count the
    duplicate notifications it caused, and pass when none came later than the dedup bound after it healed
    (the default HA topology's: (3 peers - 1) x 0.7 s peer timeout + 2 s) from a peer that had had a peer
    timeout to learn of the notification before it: the peers converged. A duplicate is a notification
    of an alert, status and receiver that repeats the one before it (every receiver's ``repeat_interval``
    must outlast the scenario: the demo's is 4 h).

    What the heal does not end is reported, not failed: the paused peer's groups flush out of phase with
    the others' until they go (its timers fired when it woke), so the incident's resolve can come from it
    first, and a peer whose flush began before the resolve then sends a stale "firing" (a flap) and a
    "resolved" after it; or two peers flush within a peer timeout of each other and both notify (a race)."""
    pause = next(
        (
            e
            for e in timeline.find("fault", state="applied")
            if str(e.detail.get("what", "")).startswith("pause alertmanager")
        ),
        None,
    )
    if pause is None:
        return False, "no Alertmanager peer was paused: no partition to judge"
    heal = timeline.first("revert", pause.name)
    if heal is None:
        return False, f"the partition ({pause.name}) never healed"
    topology = Topology.shaped("ha")
    told = _told(timeline, topology.dedup_bound)
    after = [(b, d) for b, d in told.duplicates if d.t > heal.t + topology.dedup_bound]
    late = [d for b, d in after if d.t - b.t > topology.peer_timeout]
    during = [d for _, d in told.duplicates if d.t <= heal.t]
    origin = timeline.origin

    def at(events: list[Event]) -> str:
        return ", ".join(f"{e.name} {e.state} +{e.t - origin:.1f}s" for e in events[:5]) or "none"

    measured = (
        f"partition {heal.t - pause.t:.1f}s (+{pause.t - origin:.1f}s to +{heal.t - origin:.1f}s): "
        f"{len(told.duplicates)} duplicate notification(s), {len(during)} during it ({at(during)}), "
        f"{len(told.duplicates) - len(during) - len(after)} within the {topology.dedup_bound:g}s dedup bound "
        f"after the heal"
    )
    if after:
        measured += (
            f", {len(after) - len(late)} later within a {topology.peer_timeout:g}s peer timeout of the one before"
        )
    if told.flaps:
        measured += f"; {len(told.flaps)} flap(s), a stale firing after the resolved ({at([f for _, f in told.flaps])})"
    if late:
        return False, (
            f"{measured}; {len(late)} later than the bound, more than a peer timeout after the one before: "
            f"{at(late)} — the peers did not converge"
        )
    return True, f"{measured}; none later"


def _equity(event: Mapping[str, Any]) -> float | None:
    value = (event.get("data") or {}).get("equity")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def equity_grew(events: Sequence[Mapping[str, Any]]) -> tuple[bool, str]:
    """The bot ended with more equity than it started with."""
    values = [v for v in (_equity(e) for e in events) if v is not None]
    if not values:
        return False, "no event carried the bot's equity"
    first, last = values[0], values[-1]
    return last > first, f"equity {first:.2f} → {last:.2f} ({(last - first) / first * 100:+.2f} %)"


def recovered_after_failures(events: Sequence[Mapping[str, Any]]) -> tuple[bool, str]:
    """After its last failed price fetch the bot fetched prices again and went on computing indicators."""
    names = [str(e.get("event")) for e in events]
    if "MarketPriceFetchFailed" not in names:
        return False, "no price fetch failed: nothing to recover from"
    last_failure = len(names) - 1 - names[::-1].index("MarketPriceFetchFailed")
    after = names[last_failure + 1 :]
    fetched, computed = after.count("MarketPriceFetched"), after.count("IndicatorsCalculated")
    failures = names.count("MarketPriceFetchFailed")
    if fetched and computed:
        return True, f"{failures} failures, then {fetched} prices fetched and {computed} indicator updates"
    return False, f"after the last of {failures} failures: {fetched} prices fetched, {computed} indicator updates"
