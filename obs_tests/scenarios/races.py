"""Races written into a scenario: a fault reverted before what the scenario asserts can have happened.

A scenario holds each fault until what it asserts about it can have been observed. When a step
reverts the fault first, the verdict depends on how fast the machine is: an alert that resolves the
moment its fault is gone may never have notified (Alertmanager waits ``group_wait`` before a new
group's first notification), so the run passes on a slow machine and fails on a fast one.

:func:`find_races` reads the steps the way the runner executes them and reports, with the step, the
alert, the bound and the fix:

- ``revert-before-firing``: a ``revert`` step (or the fault's ``duration``) can come before a
  ``must_fire`` alert fired — nothing before it waits for the alert to fire.
- ``revert-before-notification``: the alert must notify (``must_fire`` with ``notify``, the default;
  a firing notification in ``expect.notifications`` or ``expect.sequence``) but the fault can be
  reverted before the notification can have gone out — add a ``wait_for_notification`` first.
- ``revert-before-inhibition-window``: ``expect.notifications: absent_while`` proves an inhibition, but
  the fault is reverted before the inhibited alert's notification would have gone out had the
  inhibition failed — hold it for the notification bound after the alert fires.
- ``deadline-below-bound``: a ``wait_for_alert``/``wait_for_notification`` step whose ``within`` is
  shorter than the theoretical bound of what it waits for.

The only time a step is sure to spend is its ``wait_for_time`` (and ``wait_for_cycles`` evaluation
cycles); waits on conditions may end at once. Faults that the runner reverts itself after the last
step are held by the runner until the alerts fired and notified, so they need no step.

Example::

    for race in find_races(scenario, timing):
        print(race)   # scenarios/x.yaml:31: steps[3] (revert: hang): ... — add ...
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from obs_tests.scenarios.step_types import (
    Revert,
    WaitForAlert,
    WaitForCycles,
    WaitForFault,
    WaitForNotification,
    WaitForTime,
)

if TYPE_CHECKING:  # model.py runs this check while loading a scenario: types only, no import cycle
    from obs_tests.scenarios.bounds import AlertBounds, FileTiming
    from obs_tests.scenarios.model import ChaosEntry, MustFire, Scenario, Step

__all__ = ["Race", "find_races"]


@dataclass(frozen=True)
class Race:
    """One race: its rule id, where (``file:line``), the step or chaos entry, the alert and the message."""

    rule: str
    where: str
    subject: str
    alert: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.subject}: {self.message} [{self.rule}]"


@dataclass
class _Held:
    """What the steps before a revert are sure of, for one alert."""

    since_fault: float | None = None  # seconds sure to have passed since the fault was applied
    firing: bool = False
    since_firing: float = 0.0
    notified: bool = False


def _seconds(value: float) -> str:
    return f"{value:.1f}s"


def _notify_parts(b: AlertBounds) -> str:
    return (
        f"up to {_seconds(b.notify())} after firing: max(group_wait {b.group_wait:g}s, group_interval "
        f"{b.group_interval:g}s) + evaluation {b.evaluation_interval:g}s"
    )


def _fire_parts(b: AlertBounds, detect: float) -> str:
    parts = [
        f"scrape {b.scrape_interval:g}s",
        f"scrape timeout {b.scrape_timeout:g}s",
        f"{b.levels} evaluation(s) of {b.evaluation_interval:g}s",
        f"for {b.for_seconds:g}s",
    ]
    if detect:
        parts.append(f"detection {detect:g}s")
    return " + ".join(parts)


def _fault_of(scenario: Scenario, must: MustFire) -> ChaosEntry | None:
    name = must.after or (scenario.chaos[0].spec.name if scenario.chaos else None)
    return next((c for c in scenario.chaos if c.spec.name == name), None)


def _labels_fit(step_labels: Mapping[str, str] | None, must: Mapping[str, str]) -> bool:
    """A step watching ``step_labels`` sees the must_fire alert's series (no label contradicts it)."""
    if step_labels is None:
        return True
    return all(must.get(k, v) == v for k, v in step_labels.items())


def _walk(steps: Sequence[Step], fault: str, alert: str, labels: Mapping[str, str], evaluation: float) -> _Held:
    """What is sure at the end of ``steps`` about ``alert`` and ``fault``."""
    held = _Held()
    for step in steps:
        args = step.args
        passed = 0.0
        if isinstance(args, WaitForTime):
            passed = float(args.seconds)
        elif isinstance(args, WaitForCycles):
            passed = max(args.cycles - 1, 0) * evaluation
        if isinstance(args, WaitForFault) and args.fault == fault:
            held.since_fault = 0.0
        elif held.since_fault is not None:
            held.since_fault += passed
        if held.firing:
            held.since_firing += passed
        if (
            isinstance(args, WaitForAlert)
            and args.name == alert
            and args.state == "firing"
            and _labels_fit(args.labels, labels)
            and not held.firing
        ):
            held.firing, held.since_firing = True, 0.0
        if isinstance(args, WaitForNotification) and args.alert == alert and args.status == "firing":
            held.notified = True
            if not held.firing:
                held.firing, held.since_firing = True, 0.0
    return held


def _revert_index(scenario: Scenario, fault: str) -> int | None:
    return next(
        (i for i, s in enumerate(scenario.steps) if isinstance(s.args, Revert) and s.args.fault == fault),
        None,
    )


def _step_subject(index: int, step: Step) -> str:
    return f"steps[{index}] ({step.kind}: {step.args.subject()})"


def _where(scenario: Scenario, line: int | None) -> str:
    return f"{scenario.path}:{line}" if line else str(scenario.path)


@dataclass(frozen=True)
class _Need:
    """An alert the scenario asserts about one fault: must it fire, notify, or prove an inhibition."""

    alert: str
    fault: ChaosEntry
    labels: Mapping[str, str]
    fire: bool
    notify: bool
    within: float | None = None
    detect: str | None = None
    inhibited_by: str | None = None
    origin: str = ""


def _needs(scenario: Scenario) -> list[_Need]:
    needs: list[_Need] = []
    firing_notes = {
        str(n["alert"])
        for n in scenario.expect.notifications
        if "absent_while" not in n and n.get("status", "firing") == "firing"
    }
    for index, must in enumerate(scenario.expect.must_fire):
        fault = _fault_of(scenario, must)
        if fault is None:
            continue
        needs.append(
            _Need(
                must.alert,
                fault,
                must.labels,
                fire=True,
                notify=must.notify or must.alert in firing_notes,
                within=must.within,
                detect=must.detect,
                origin=f"expect.must_fire[{index}]",
            )
        )
    order = list(scenario.expect.sequence)
    for position, entry in enumerate(order):
        if "notification" not in entry or entry.get("status", "firing") != "firing":
            continue
        later_reverts = [str(e["revert"]) for e in order[position + 1 :] if "revert" in e]
        for name in later_reverts:
            fault = next((c for c in scenario.chaos if c.spec.name == name), None)
            if fault is not None:
                needs.append(
                    _Need(str(entry["notification"]), fault, {}, True, True, origin=f"expect.sequence[{position}]")
                )
    by_alert = {m.alert: _fault_of(scenario, m) for m in scenario.expect.must_fire}
    for index, note in enumerate(scenario.expect.notifications):
        if "absent_while" not in note:
            continue
        fault = by_alert.get(str(note["absent_while"]))
        if fault is not None:
            needs.append(
                _Need(
                    str(note["alert"]),
                    fault,
                    {},
                    fire=True,
                    notify=False,
                    inhibited_by=str(note["absent_while"]),
                    origin=f"expect.notifications[{index}]",
                )
            )
    return needs


def _fire_need(need: _Need, b: AlertBounds, timing: FileTiming, tolerance: float) -> float:
    if need.within is not None:
        return float(need.within)
    return b.fire(timing.detect_seconds(need.alert, need.detect)) + tolerance


def _duration_race(scenario: Scenario, need: _Need, b: AlertBounds, timing: FileTiming) -> Race | None:
    """A fault reverted by its own ``duration``: it must last until the alert fired (and notified)."""
    entry = need.fault
    duration = entry.duration
    if duration is None or need.inhibited_by is not None:
        return None
    fire = _fire_need(need, b, timing, scenario.tolerance)
    required = fire + (b.notify() + scenario.tolerance if need.notify else 0.0)
    if duration >= required:
        return None
    what = "fired and notified" if need.notify else "fired"
    index = scenario.chaos.index(entry)
    observe = (
        f"'wait_for_notification: {{alert: {need.alert}}}'"
        if need.notify
        else f"'wait_for_alert: {{name: {need.alert}, state: firing}}'"
    )
    return Race(
        "revert-before-notification" if need.notify else "revert-before-firing",
        _where(scenario, entry.line),
        f"chaos[{index}] ({entry.spec.name}, duration {duration:g}s)",
        need.alert,
        f"the fault is reverted {duration:g}s after it is applied, before {need.alert} can have {what} "
        f"({need.origin}): it fires up to {_seconds(fire)} after the fault "
        f"({_fire_parts(b, timing.detect_seconds(need.alert, need.detect))}, + tolerance)"
        + (f", and notifies {_notify_parts(b)}" if need.notify else "")
        + f" — hold it at least {math.ceil(required)}s, or drop 'duration' and revert it with a step after {observe}",
    )


def _step_race(scenario: Scenario, need: _Need, b: AlertBounds, timing: FileTiming, index: int) -> Race | None:
    """A ``revert`` step at ``index``: the steps before it must observe what is asserted."""
    step = scenario.steps[index]
    held = _walk(scenario.steps[:index], need.fault.spec.name, need.alert, need.labels, timing.evaluation_interval)
    fire = _fire_need(need, b, timing, scenario.tolerance)
    notify = b.notify() + scenario.tolerance
    subject = _step_subject(index, step)
    where = _where(scenario, step.line)
    since_fault = held.since_fault if held.since_fault is not None else -math.inf
    if need.inhibited_by is not None:
        if held.firing and held.since_firing >= b.notify():
            return None
        if since_fault >= fire + b.notify():
            return None
        return Race("revert-before-inhibition-window", where, subject, need.alert, _inhibition_window(need, b, held))
    fired = held.firing or since_fault >= fire
    if not fired:
        return Race("revert-before-firing", where, subject, need.alert, _before_firing(need, b, timing, fire))
    if not need.notify or held.notified:
        return None
    if held.firing and held.since_firing >= notify:
        return None
    if since_fault >= fire + notify:
        return None
    message = _before_notification(need, b, held, notify, scenario.tolerance)
    return Race("revert-before-notification", where, subject, need.alert, message)


def _inhibition_window(need: _Need, b: AlertBounds, held: _Held) -> str:
    """The message of a revert before an inhibited alert's notification would have gone out."""
    sure = (
        f"only {_seconds(held.since_firing)} are sure to pass after it fires"
        if held.firing
        else ("nothing before it waits for it to fire")
    )
    return (
        f"{need.origin} asserts {need.alert} is not notified while {need.inhibited_by} fires, but the fault "
        f"can be reverted before {need.alert}'s notification would have gone out had the inhibition failed "
        f"({_notify_parts(b)}; {sure}) — the assertion could pass without proving anything: add "
        f"'wait_for_alert: {{name: {need.alert}, state: firing}}' and then 'wait_for_time: "
        f"{math.ceil(b.notify())}' before this step"
    )


def _before_firing(need: _Need, b: AlertBounds, timing: FileTiming, fire: float) -> str:
    """The message of a revert before the alert can have fired (``fire``: its bound after the fault)."""
    return (
        f"can revert {need.fault.spec.name} before {need.alert} fired ({need.origin}): nothing before it waits "
        f"for the alert, which fires up to {_seconds(fire)} after the fault "
        f"({_fire_parts(b, timing.detect_seconds(need.alert, need.detect))}, + tolerance) — add "
        + (
            f"'wait_for_notification: {{alert: {need.alert}}}'"
            if need.notify
            else f"'wait_for_alert: {{name: {need.alert}, state: firing}}'"
        )
        + " before this step"
    )


def _before_notification(need: _Need, b: AlertBounds, held: _Held, notify: float, tolerance: float) -> str:
    """The message of a revert before the firing alert's notification (``notify``: its bound after firing)."""
    sure = _seconds(held.since_firing) if held.firing else "0.0s"
    return (
        f"can revert {need.fault.spec.name} before {need.alert} notified ({need.origin} expects a firing "
        f"notification): it comes {_notify_parts(b)} (+ tolerance {tolerance:g}s = "
        f"{_seconds(notify)}), only {sure} are sure to pass after firing, and the alert can resolve as soon "
        f"as the fault is gone — then no notification is ever sent. Add "
        f"'wait_for_notification: {{alert: {need.alert}, within: {math.ceil(notify) + 10}}}' before this step"
        + (f", or set 'notify: false' on {need.origin}" if need.origin.startswith("expect.must_fire") else "")
    )


def _deadline_races(scenario: Scenario, timing: FileTiming) -> Iterable[Race]:
    """Steps that give up before what they wait for is due: a notification step shorter than the
    notification bound, or the first wait for a ``must_fire`` alert shorter than its fire bound (less
    the time the steps before it are sure to have spent since the fault)."""
    faults = {m.alert: (_fault_of(scenario, m), m) for m in scenario.expect.must_fire}
    for index, step in enumerate(scenario.steps):
        args = step.args
        if not isinstance(args, WaitForAlert | WaitForNotification) or not args.given("within"):
            continue
        within = args.within
        if isinstance(args, WaitForNotification):
            b = timing.bounds(args.alert)
            if b is None:
                continue
            status = args.status
            bound = b.notify() if status == "firing" else b.notify_resolved()
            what = f"a {status} notification"
        else:
            name = args.name
            fault, must = faults.get(name, (None, None))
            b = timing.bounds(name)
            if b is None or fault is None or must is None or args.state != "firing":
                continue
            held = _walk(scenario.steps[:index], fault.spec.name, name, must.labels, timing.evaluation_interval)
            if held.firing:
                continue
            bound = b.fire(timing.detect_seconds(name, must.detect)) - (held.since_fault or 0.0)
            what = f"firing after {fault.spec.name}"
        if float(within) < bound:
            yield Race(
                "deadline-below-bound",
                _where(scenario, step.line),
                _step_subject(index, step),
                str(b.alert),
                f"within {float(within):g}s is shorter than the bound for {what} of {b.alert} "
                f"({_seconds(bound)}): the step can time out on a healthy stack — use within: "
                f"{math.ceil(bound + scenario.tolerance)} or more",
            )


def find_races(scenario: Scenario, timing: FileTiming) -> list[Race]:
    """Every race of ``scenario`` (see the module docstring), given the stack's timing from the files."""
    races: list[Race] = []
    seen: set[tuple[str, str, str]] = set()
    for need in _needs(scenario):
        b = timing.bounds(need.alert)
        if b is None:
            continue
        index = _revert_index(scenario, need.fault.spec.name)
        race = _step_race(scenario, need, b, timing, index) if index is not None else None
        if race is None and (index is None or need.fault.duration is not None):
            race = _duration_race(scenario, need, b, timing)
        if race is not None and (race.rule, race.subject, race.alert) not in seen:
            seen.add((race.rule, race.subject, race.alert))
            races.append(race)
    races.extend(_deadline_races(scenario, timing))
    return races
