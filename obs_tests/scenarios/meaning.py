"""A scenario's meaning, checked once its schema holds: its names are unique, and every alert, component,
fault, step id, receiver and market it refers to is known — the errors list the known values::

    scenarios/x.yaml:12: steps[1].wait_for_alert.name: unknown alert 'GatewayDwn' (did you mean 'GatewayDown'?)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jsonschema

from obs_tests.chaos.faults import EVENT_CHAOS, FAULT_KINDS
from obs_tests.config.validation import describe_error, load_schema
from obs_tests.core.yamlfile import LocatedDocument, closest, format_path, shown
from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.events import EVENT_NAMES
from obs_tests.scenarios.step_types import AssertState, Revert, WaitForAlert, WaitForFault, WaitForNotification
from obs_tests.workloads import LoadSpec

if TYPE_CHECKING:  # model.py runs this check while loading a scenario: types only, no import cycle
    from obs_tests.scenarios.model import Catalog, Step

__all__ = ["validate_meaning"]


def _known(
    doc: LocatedDocument, path: tuple[str | int, ...], value: str, known: Sequence[str], what: str
) -> ScenarioInvalid | None:
    if value in known:
        return None
    hint = closest(value, known)
    did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
    listed = ", ".join(known) if len(known) <= 30 else ", ".join(known[:30]) + ", ..."
    return ScenarioInvalid(
        f"{doc.where(path)}: {format_path(path)}: unknown {what} '{shown(value, 80, quote=False)}'{did_you_mean} — "
        f"known: {listed}"
    )


def _check(problem: ScenarioInvalid | None) -> None:
    if problem is not None:
        raise problem


def validate_meaning(doc: LocatedDocument, data: dict[str, Any], catalog: Catalog, steps: Sequence[Step]) -> None:
    """Raise :class:`ScenarioInvalid` for what the schema cannot say: a name used twice, an alert, component,
    fault, step id, receiver or market the scenario names that ``catalog`` (or the scenario) does not know,
    a fault kind without the target it needs, an expectation or step missing what it is judged by;
    ``steps`` are the scenario's typed steps, in the order of ``data``'s."""
    catalog = catalog.for_topology(data.get("topology"))
    alerts = sorted(catalog.alerts)
    faults = [str(c.get("name")) for c in data.get("chaos") or []]
    step_ids = [str(s["id"]) for s in data.get("steps") or [] if "id" in s]
    for duplicates, what in ((faults, "fault name"), (step_ids, "step id")):
        seen: set[str] = set()
        for value in duplicates:
            if value in seen:
                raise ScenarioInvalid(f"{doc.source}: {what} '{value}' is used twice — names must be unique")
            seen.add(value)
    setup = data.get("setup") or {}
    if "market" in setup and catalog.markets:
        _check(_known(doc, ("setup", "market"), str(setup["market"]), catalog.markets, "market scenario"))
    exchange = setup.get("exchange") or {}
    if "scenario" in exchange and catalog.markets:
        path: tuple[str | int, ...] = ("setup", "exchange", "scenario")
        _check(_known(doc, path, str(exchange["scenario"]), catalog.markets, "market scenario"))
    if "replay" in setup and "bot" in setup:
        raise ScenarioInvalid(
            f"{doc.where(('setup', 'replay'))}: setup.replay runs against a recording — no setup.bot with it"
        )
    for name in data.get("components") or []:
        index = data["components"].index(name)
        _check(_known(doc, ("components", index), str(name), catalog.components, "component"))
    for index, entry in enumerate(data.get("chaos") or []):
        _validate_fault(doc, ("chaos", index), entry, catalog, step_ids)
    for index, step in enumerate(steps):
        _validate_step(doc, ("steps", index), step, alerts, catalog.receivers, faults)
        _validate_step_after(doc, ("steps", index), step, [s.id for s in steps[:index] if s.id])
    expect = data.get("expect") or {}
    _validate_expected_alerts(doc, expect, alerts, faults)
    _validate_metric_expectations(doc, expect)
    _validate_expected_events(doc, expect, alerts, catalog.receivers, faults)
    if data.get("type") == "steady_state" and data.get("chaos"):
        raise ScenarioInvalid(f"{doc.where(('chaos',))}: a steady_state scenario has no chaos")


def _validate_fault(
    doc: LocatedDocument, base: tuple[str | int, ...], entry: dict[str, Any], catalog: Catalog, step_ids: list[str]
) -> None:
    """One ``chaos`` entry: its target (given, or fixed by its kind), the step it follows, its params."""
    kind = entry["kind"]
    if "target" in entry:
        _check(_known(doc, (*base, "target"), str(entry["target"]), catalog.components, "component"))
    elif FAULT_KINDS[kind].target is None:
        raise ScenarioInvalid(
            f"{doc.where(base)}: {format_path(base)}: fault kind '{kind}' needs a 'target' — one of: "
            + ", ".join(catalog.components)
        )
    if "after" in entry:
        _check(_known(doc, (*base, "after"), str(entry["after"]), step_ids, "step id"))
    params = entry.get("params") or {}
    if kind == "service":
        _validate_service_params(doc, base, params)
    if kind == "load":
        known_fields = sorted(f for f in LoadSpec.__dataclass_fields__ if f not in ("locustfile", "extra_args"))
        for key in params:
            _check(_known(doc, (*base, "params", key), str(key), known_fields, "load field"))
    if kind == "market" and catalog.markets:
        market = str(params.get("scenario", "flash_crash"))
        _check(_known(doc, (*base, "params", "scenario"), market, catalog.markets, "market scenario"))
    if kind in EVENT_CHAOS:
        _validate_event_chaos(doc, base, kind, params)


#: what each event-chaos type needs besides its window
_EVENT_CHAOS_NEEDS = {
    "delay_event": ("event", "delay_ms"),
    "drop_event": ("event",),
    "modify_event": ("event", "field"),
    "inject_failure": ("event",),
    "network_latency": ("min_delay_ms", "max_delay_ms"),
}


def _validate_event_chaos(doc: LocatedDocument, base: tuple[str | int, ...], kind: str, params: dict[str, Any]) -> None:
    """An event-chaos entry: the event it names, the fields its type needs, a sane latency range."""
    where = f"{doc.where(base)}: {format_path(base)}"
    missing = [key for key in _EVENT_CHAOS_NEEDS[kind] if key not in params]
    if missing:
        raise ScenarioInvalid(f"{where}: {kind} needs {', '.join(missing)}")
    if "event" in params:
        _check(_known(doc, base, str(params["event"]), EVENT_NAMES, "event"))
    if kind == "inject_failure" and params["event"] != "MarketPriceFetchFailed":
        raise ScenarioInvalid(f"{where}: inject_failure injects a failure event — event: MarketPriceFetchFailed")
    if kind == "modify_event" and "value" not in params and "multiplier" not in params:
        raise ScenarioInvalid(f"{where}: modify_event needs value (the new value) or multiplier")
    if kind == "network_latency" and float(params["min_delay_ms"]) > float(params["max_delay_ms"]):
        raise ScenarioInvalid(f"{where}: min_delay_ms is above max_delay_ms")


def _validate_service_params(doc: LocatedDocument, base: tuple[str | int, ...], params: dict[str, Any]) -> None:
    """A service fault's params: an ``/admin/faults`` body, as the faults schema says."""
    fault_schema = load_schema("faults")
    errors = list(jsonschema.Draft202012Validator(fault_schema).iter_errors(params))
    if not params:
        raise ScenarioInvalid(
            f"{doc.where(base)}: {format_path(base)}.params: a service fault needs params (the "
            f"/admin/faults body) — fields: {', '.join(fault_schema.get('properties', {}))}"
        )
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        error.path.extendleft(reversed([*base, "params"]))
        raise ScenarioInvalid(describe_error(error, doc))


def _validate_step(
    doc: LocatedDocument,
    base: tuple[str | int, ...],
    step: Step,
    alerts: Sequence[str],
    receivers: Sequence[str],
    faults: Sequence[str],
) -> None:
    """One step: the alert, receiver or fault it names; an ``assert`` on an alert or on an expression."""
    args = step.args
    if isinstance(args, WaitForAlert):
        _check(_known(doc, (*base, "wait_for_alert", "name"), args.name, alerts, "alert"))
    if isinstance(args, WaitForNotification):
        _check(_known(doc, (*base, "wait_for_notification", "alert"), args.alert, alerts, "alert"))
        if args.receiver is not None and receivers:
            path = (*base, "wait_for_notification", "receiver")
            _check(_known(doc, path, args.receiver, receivers, "receiver"))
    if isinstance(args, Revert | WaitForFault):
        _check(_known(doc, (*base, step.kind), args.fault, faults, "fault"))
    if isinstance(args, AssertState):
        if args.alert is not None:
            _check(_known(doc, (*base, "assert", "alert"), args.alert, alerts, "alert"))
            if args.state is None:
                raise ScenarioInvalid(f"{doc.where((*base, 'assert'))}: assert on an alert needs 'state'")
        elif args.expr is None or args.op is None or args.value is None:
            raise ScenarioInvalid(
                f"{doc.where((*base, 'assert'))}: {format_path((*base, 'assert'))}: give either "
                "{alert, state} or {expr, op, value}"
            )


def _validate_step_after(doc: LocatedDocument, base: tuple[str | int, ...], step: Step, earlier: list[str]) -> None:
    """A ``wait_for_notification``'s ``after``: the id of a step before it (a later one is not done yet)."""
    if not isinstance(step.args, WaitForNotification) or step.args.after is None:
        return
    path = (*base, "wait_for_notification", "after")
    if not earlier:
        raise ScenarioInvalid(
            f"{doc.where(path)}: {format_path(path)}: no step before this one has an id — give the step it "
            f"waits after 'id: {shown(step.args.after, 40, quote=False)}'"
        )
    _check(_known(doc, path, step.args.after, earlier, "earlier step id"))


def _validate_expected_alerts(
    doc: LocatedDocument, expect: dict[str, Any], alerts: Sequence[str], faults: Sequence[str]
) -> None:
    """``must_fire`` (known alerts, each measured from a fault) and ``must_not_fire`` (known, not both)."""
    for index, item in enumerate(expect.get("must_fire") or []):
        base = ("expect", "must_fire", index)
        _check(_known(doc, (*base, "alert"), item["alert"], alerts, "alert"))
        if "after" in item:
            _check(_known(doc, (*base, "after"), item["after"], faults, "fault"))
        elif not faults:
            raise ScenarioInvalid(
                f"{doc.where(base)}: {format_path(base)}: must_fire needs a fault to measure from — add a 'chaos' entry"
            )
    silent = expect.get("must_not_fire")
    if isinstance(silent, list):
        for index, name in enumerate(silent):
            _check(_known(doc, ("expect", "must_not_fire", index), name, alerts, "alert"))
            if name in {m["alert"] for m in expect.get("must_fire") or []}:
                raise ScenarioInvalid(
                    f"{doc.where(('expect', 'must_not_fire', index))}: alert '{name}' is both in must_fire and "
                    "must_not_fire"
                )


def _validate_metric_expectations(doc: LocatedDocument, expect: dict[str, Any]) -> None:
    """Each ``metric`` expectation is an ``increase`` with a bound, or an ``expr`` with ``op`` and ``value``."""
    for index, item in enumerate(expect.get("metric") or []):
        base = ("expect", "metric", index)
        has_increase = "increase" in item
        has_condition = "expr" in item
        if has_increase == has_condition:
            raise ScenarioInvalid(
                f"{doc.where(base)}: {format_path(base)}: give either 'increase' (with min/max/exact) or "
                "'expr' (with op and value)"
            )
        if has_increase and not {"min", "max", "exact"} & set(item):
            raise ScenarioInvalid(f"{doc.where(base)}: {format_path(base)}: 'increase' needs min, max or exact")
        if has_condition and not {"op", "value"} <= set(item):
            raise ScenarioInvalid(f"{doc.where(base)}: {format_path(base)}: 'expr' needs 'op' and 'value'")


def _validate_expected_events(
    doc: LocatedDocument,
    expect: dict[str, Any],
    alerts: Sequence[str],
    receivers: Sequence[str],
    faults: Sequence[str],
) -> None:
    """``notifications`` (known alerts and receivers) and ``sequence`` (one known event per entry)."""
    for index, item in enumerate(expect.get("notifications") or []):
        base = ("expect", "notifications", index)
        _check(_known(doc, (*base, "alert"), item["alert"], alerts, "alert"))
        if "absent_while" in item:
            _check(_known(doc, (*base, "absent_while"), item["absent_while"], alerts, "alert"))
        if "receiver" in item and receivers:
            _check(_known(doc, (*base, "receiver"), item["receiver"], receivers, "receiver"))
    for index, item in enumerate(expect.get("sequence") or []):
        base = ("expect", "sequence", index)
        for key in ("fault", "revert"):
            if key in item:
                _check(_known(doc, (*base, key), item[key], faults, "fault"))
        for key in ("alert", "notification"):
            if key in item:
                _check(_known(doc, (*base, key), item[key], alerts, "alert"))
        if "alert" in item and "state" not in item:
            raise ScenarioInvalid(f"{doc.where(base)}: {format_path(base)}: an alert entry needs 'state'")
        if len({"fault", "revert", "alert", "notification"} & set(item)) != 1:
            raise ScenarioInvalid(
                f"{doc.where(base)}: {format_path(base)}: each entry is one of fault, revert, alert (+state), "
                "notification (+status)"
            )
