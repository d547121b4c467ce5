"""Scenario files: load, validate (schema + meaning) and turn into :class:`Scenario` objects.

Errors name the file, the line, the field and the known values, and exit 2 from the CLI::

    scenarios/x.yaml:12: steps[1].wait_for_alert.name: unknown alert 'GatewayDwn' (did you mean 'GatewayDown'?)

Example::

    catalog = Catalog.from_contract(contract)
    scenario = load_scenario(Path("scenarios/gateway-down.yaml"), catalog)
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obs_tests.chaos.faults import FaultSpec
from obs_tests.checks.routing import load_route_tests
from obs_tests.checks.routing_live import AlertmanagerSettings, load_alertmanager_config, settings_from_config
from obs_tests.config.contract import Contract
from obs_tests.config.topology import Topology, monitoring_kind
from obs_tests.config.validation import validate_document
from obs_tests.core.yamlfile import LocatedDocument, format_path, load_located
from obs_tests.errors import ScenarioInvalid
from obs_tests.rules.rulefiles import Rule, load_rule_files
from obs_tests.scenarios.bounds import FileTiming
from obs_tests.scenarios.event_asserts import EVENT_ASSERTIONS, parse_assert_events
from obs_tests.scenarios.event_setup import (
    BotSetup,
    EventSetup,
    ExchangeSetup,
    RecordingSetup,
    ReplaySetup,
    ReportSetup,
)
from obs_tests.scenarios.meaning import validate_meaning
from obs_tests.scenarios.races import find_races
from obs_tests.scenarios.settling import WATCHDOG
from obs_tests.scenarios.step_types import (
    STEP_TYPES,
    AssertState,
    StepArgs,
    WaitForAlert,
    WaitForNotification,
    parse_step,
)
from obs_tests.stack.components import component_names
from obs_tests.stack.system_under_test import load_system

__all__ = [
    "OPS",
    "STEP_KINDS",
    "WATCHDOG",
    "Catalog",
    "ChaosEntry",
    "Expect",
    "MustFire",
    "Scenario",
    "Step",
    "load_scenario",
    "load_scenarios",
    "ordered",
    "scenario_from_document",
    "scenario_id",
]

STEP_KINDS = tuple(STEP_TYPES)
#: what a scenario of the trading-bot language disturbs when it does not say (for running scenarios at once)
_BOT_COMPONENTS = ("bot", "exchange")

#: what each ``op`` of a step or a metric expectation means (the schema lists the same ones)
OPS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Catalog:
    """What a scenario may refer to: alerts (from the rule files), components, receivers, markets, and
    the stack's timing from the files (``timing``: when given, scenarios are checked for races —
    see :mod:`obs_tests.scenarios.races`; ``time_scale_given``: the caller's time scale wins over a
    scenario's own ``setup.time_scale``)."""

    alerts: Mapping[str, Rule]
    components: Sequence[str]
    receivers: Sequence[str] = ()
    markets: Sequence[str] = ()
    timing: FileTiming | None = None
    time_scale_given: bool = False
    #: the system's at-rest queries (:attr:`~obs_tests.stack.system_under_test.SystemUnderTest.at_rest`)
    at_rest: Sequence[str] = ()
    #: the components of an HA stack of the contract: what a ``topology: ha`` scenario may name, whatever
    #: the shape of this one (on a single stack such a scenario is loaded, then skipped)
    ha_components: Sequence[str] = ()

    def for_topology(self, shape: str | None) -> Catalog:
        """The catalog a scenario needing ``shape`` is checked against (``ha``: the HA stack's components)."""
        if shape == "ha" and self.ha_components:
            return dataclasses.replace(self, components=self.ha_components)
        return self

    @classmethod
    def from_contract(
        cls, contract: Contract, components: Iterable[str] | None = None, *, time_scale: float | None = None
    ) -> Catalog:
        """Alerts from the contract's rule files, receivers and route timings from its Alertmanager
        config, intervals and time scale (unless ``time_scale`` is given) from the contract."""
        rules = [r for rf in load_rule_files(contract.files.rule_files()) for r in rf.rules]
        alerts = {r.name: r for r in rules if r.kind == "alert"}
        receivers: list[str] = []
        settings: AlertmanagerSettings | None = None
        if contract.files.alertmanager_config.exists():
            config = load_alertmanager_config(contract.files.alertmanager_config)
            receivers = sorted({str(r.get("name")) for r in config.get("receivers") or []})
            settings = settings_from_config(config)
        receiver_of: dict[str, str] = {}
        if contract.files.alertmanager_tests.is_dir():
            tests, _ = load_route_tests(sorted(contract.files.alertmanager_tests.glob("*.yml")))
            receiver_of = {t.alert: t.receivers[0] for t in tests if t.receivers}
        timing = FileTiming.from_files(
            rules,
            settings,
            scrape_interval=contract.stack.scrape_interval,
            evaluation_interval=contract.stack.evaluation_interval,
            time_scale=time_scale or contract.stack.time_scale,
            receiver_of=receiver_of,
        )
        system = load_system(contract.stack.system)
        topology = contract.stack.topology
        names = list(components) if components is not None else component_names(system, topology)
        markets = system.markets if system is not None else ()
        at_rest = system.at_rest if system is not None else ()
        ha = topology if topology.ha else Topology.shaped("ha", alertmanager=contract.stack.alertmanager is not None)
        return cls(
            alerts,
            sorted(set(names)),
            receivers,
            sorted(markets),
            timing,
            time_scale is not None,
            at_rest,
            sorted(set(names) | set(component_names(system, ha))),
        )


@dataclass(frozen=True)
class ChaosEntry:
    """A fault of the ``chaos`` list with its schedule."""

    spec: FaultSpec
    at: float = 0.0
    after: str | None = None
    duration: float | None = None
    line: int | None = None


@dataclass(frozen=True)
class Step:
    """One step: its kind (``wait_for_alert`` ...), its typed arguments (a
    :mod:`~obs_tests.scenarios.step_types` class of that kind), an optional id and its line."""

    kind: str
    args: StepArgs
    id: str | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        if self.args.kind != self.kind:
            raise ValueError(f"a {self.kind} step with the arguments of a {self.args.kind} step")

    def describe(self) -> str:
        """A short human label: ``wait_for_alert(name=GatewayDown, state=firing)``, ``revert(f)``."""
        return f"{self.kind}({self.args.describe()})"


@dataclass(frozen=True)
class MustFire:
    """An alert that must fire (and by default clear) because of a fault."""

    alert: str
    labels: Mapping[str, str] = field(default_factory=dict)
    after: str | None = None
    within: float | None = None
    clears: bool = True
    clear_within: float | None = None
    detect: str | None = None
    notify: bool = True


@dataclass(frozen=True)
class Expect:
    """The ``expect`` section."""

    must_fire: tuple[MustFire, ...] = ()
    must_not_fire: tuple[str, ...] = ()
    must_not_fire_others: bool = False
    metric: tuple[Mapping[str, Any], ...] = ()
    notifications: tuple[Mapping[str, Any], ...] = ()
    sequence: tuple[Mapping[str, str], ...] = ()
    custom: tuple[str, ...] = ()


def scenario_id(name: str) -> str:
    """The scenario's identifier from its name: the name itself when it is one already (``gateway-down``),
    else its lower-case words joined by '-' (``Flash Crash Recovery Test`` → ``flash-crash-recovery-test``)."""
    words = "".join(c if c.isalnum() or c in "_-" else " " for c in name.lower()).split()
    return "-".join(words) or "scenario"


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: ``name`` is its identifier (report file names, selection), ``title`` the name
    as written; ``events`` the trading-bot parts of its setup (None when it has none)."""

    path: Path
    name: str
    description: str
    type: str
    components: tuple[str, ...]
    tolerance: float
    market: str | None
    load: Mapping[str, Any] | None
    time_scale: float | None
    settle: bool
    chaos: tuple[ChaosEntry, ...]
    steps: tuple[Step, ...]
    expect: Expect
    title: str = ""
    events: EventSetup | None = None
    #: ``ha``: it needs Prometheus replicas and an Alertmanager cluster (None: any stack)
    topology: str | None = None

    def not_runnable_on(self, components: Iterable[str]) -> str | None:
        """Why it cannot run on a stack of these components (an HA scenario on a stack without Prometheus
        replicas and Alertmanager peers), or None."""
        if self.topology != "ha":
            return None
        kinds = [monitoring_kind(name) for name in components]
        if kinds.count("prometheus") > 1 and kinds.count("alertmanager") > 1:
            return None
        return (
            f"scenario {self.name} needs the HA topology (Prometheus replicas and Alertmanager peers): run it on "
            "an HA stack — stack.topology: ha in the contract, or --topology ha"
        )

    @property
    def drives_bot(self) -> bool:
        """Whether its steps count bot cycles and judge bot events (a bot or a replay is set up)."""
        return self.events is not None and self.events.drives_bot

    @property
    def drives_load(self) -> bool:
        """Whether it drives Locust load through the gateway (setup load, ``load`` steps or faults)."""
        return (
            self.load is not None
            or any(step.kind == "load" for step in self.steps)
            or any(c.spec.kind == "load" for c in self.chaos)
        )

    def silent_alerts(self, catalog: Catalog) -> list[str]:
        """The alerts that must not fire (``must_not_fire: others`` expanded)."""
        if not self.expect.must_not_fire_others:
            return list(self.expect.must_not_fire)
        firing = {m.alert for m in self.expect.must_fire}
        return sorted(a for a in catalog.alerts if a not in firing and a != WATCHDOG)


def _steps(doc: LocatedDocument, raw: list[dict[str, Any]]) -> list[Step]:
    steps = []
    for index, written in enumerate(raw):
        item = _seed_step(doc, index, written)
        actions = [k for k in item if k != "id"]
        path: tuple[str | int, ...] = ("steps", index)
        if len(actions) != 1:
            found = ", ".join(actions) or "none"
            raise ScenarioInvalid(
                f"{doc.where(path)}: {format_path(path)}: a step has exactly one action (found: {found}) — "
                f"one of: {', '.join(STEP_KINDS)}"
            )
        kind = actions[0]
        where = f"{doc.where((*path, kind))}: {format_path((*path, kind))}"
        value = item[kind]
        if kind == "assert" and isinstance(value, dict) and set(value) & set(EVENT_ASSERTIONS):
            args = parse_assert_events(value, where)
            steps.append(Step(args.kind, args, item.get("id"), doc.line_of((*path, kind))))
            continue
        steps.append(Step(kind, parse_step(kind, value, where), item.get("id"), doc.line_of((*path, kind))))
    return steps


def _seed_step(doc: LocatedDocument, index: int, item: dict[str, Any]) -> dict[str, Any]:
    """``{wait_for_event: NAME, timeout_seconds: S}`` as ``{wait_for_event: {event: NAME, timeout_seconds: S}}``."""
    if "timeout_seconds" not in item:
        if isinstance(item.get("wait_for_event"), str):
            return {**item, "wait_for_event": {"event": item["wait_for_event"]}}
        return item
    if not isinstance(item.get("wait_for_event"), str):
        path = ("steps", index, "timeout_seconds")
        raise ScenarioInvalid(f"{doc.where(path)}: {format_path(path)}: timeout_seconds goes with wait_for_event: NAME")
    rest = {k: v for k, v in item.items() if k not in ("wait_for_event", "timeout_seconds")}
    return {**rest, "wait_for_event": {"event": item["wait_for_event"], "timeout_seconds": item["timeout_seconds"]}}


def _seed_chaos(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Event-chaos entries (``{type, event, at_cycle, ...}``) as faults (``{name, kind, target, params}``)."""
    entries = []
    for index, entry in enumerate(raw):
        if "type" not in entry:
            entries.append(entry)
            continue
        params = {k: v for k, v in entry.items() if k not in ("type", "name")}
        entries.append(
            {"name": entry.get("name") or f"{entry['type']}-{index + 1}", "kind": entry["type"], "params": params}
        )
    return entries


def _event_setup(path: Path, setup: dict[str, Any]) -> EventSetup | None:
    """The trading-bot parts of ``setup`` (None when it has none)."""
    parts = {k: setup[k] for k in ("exchange", "bot", "recording", "report", "replay") if k in setup}
    if not parts:
        return None
    return EventSetup(
        exchange=ExchangeSetup(**parts["exchange"]) if "exchange" in parts else None,
        bot=BotSetup(**parts["bot"]) if "bot" in parts else None,
        recording=RecordingSetup(**parts["recording"]) if "recording" in parts else None,
        report=ReportSetup(**parts["report"]) if "report" in parts else None,
        replay=ReplaySetup(**parts["replay"]) if "replay" in parts else None,
        base=path.parent,
    )


def _chaos(doc: LocatedDocument, raw: list[dict[str, Any]]) -> tuple[ChaosEntry, ...]:
    return tuple(
        ChaosEntry(
            FaultSpec(str(c["name"]), str(c["kind"]), c.get("target"), dict(c.get("params") or {})),
            float(c.get("at", 0.0)),
            c.get("after"),
            float(c["duration"]) if "duration" in c else None,
            doc.line_of(("chaos", index, "duration") if "duration" in c else ("chaos", index)),
        )
        for index, c in enumerate(raw)
    )


def load_scenario(path: Path, catalog: Catalog) -> Scenario:
    """Load and validate one scenario file (raises :class:`ScenarioInvalid`, exit 2)."""
    return scenario_from_document(load_located(path, error=ScenarioInvalid), path, catalog)


def scenario_from_document(doc: LocatedDocument, path: Path, catalog: Catalog) -> Scenario:
    """Validate a scenario document (a file's, or one built in code) and make it a :class:`Scenario`;
    ``path`` is where it lives (relative paths in it are relative to its directory)."""
    if not isinstance(doc.data, dict):
        raise ScenarioInvalid(f"{path}: a scenario is a mapping with name, steps, expect ... — see scenarios/")
    validate_document(doc, "scenario", ScenarioInvalid)
    data: dict[str, Any] = {**doc.data, "chaos": _seed_chaos(doc.data.get("chaos") or [])}
    steps = tuple(_steps(doc, data.get("steps") or []))
    validate_meaning(doc, data, catalog, steps)
    setup = data.get("setup") or {}
    chaos = _chaos(doc, data.get("chaos") or [])
    expect_raw = data.get("expect") or {}
    silent = expect_raw.get("must_not_fire") or []
    expect = Expect(
        must_fire=tuple(
            MustFire(
                alert=m["alert"],
                labels=dict(m.get("labels") or {}),
                after=m.get("after"),
                within=m.get("within"),
                clears=bool(m.get("clears", True)),
                clear_within=m.get("clear_within"),
                detect=m.get("detect"),
                notify=bool(m.get("notify", True)),
            )
            for m in expect_raw.get("must_fire") or []
        ),
        must_not_fire=tuple(silent) if isinstance(silent, list) else (),
        must_not_fire_others=silent == "others",
        metric=tuple(expect_raw.get("metric") or []),
        notifications=tuple(expect_raw.get("notifications") or []),
        sequence=tuple(expect_raw.get("sequence") or []),
        custom=tuple(expect_raw.get("custom") or []),
    )
    load = setup.get("load")
    scenario = Scenario(
        path=path,
        name=scenario_id(str(data["name"])),
        description=str(data.get("description", "")),
        type=str(data.get("type", "chaos")),
        components=tuple(data.get("components") or (_BOT_COMPONENTS if _event_setup(path, setup) else ())),
        tolerance=float(data.get("tolerance", 2.0)),
        market=setup.get("market"),
        load=dict(load) if isinstance(load, dict) else None,
        time_scale=setup.get("time_scale"),
        settle=bool(setup.get("settle", _judges_alerts(expect, steps))),
        chaos=chaos,
        steps=steps,
        expect=expect,
        title=str(data["name"]),
        events=_event_setup(path, setup),
        topology=data.get("topology"),
    )
    _check_races(scenario, catalog)
    return scenario


def _judges_alerts(expect: Expect, steps: Sequence[Step]) -> bool:
    """Whether a scenario judges alerts or notifications (then it waits for the previous incident to be
    over before it starts — ``setup.settle``'s default; one that judges only bus events need not)."""
    judged = (
        expect.must_fire,
        expect.must_not_fire,
        expect.must_not_fire_others,
        expect.notifications,
        expect.sequence,
    )
    alert_steps = (WaitForAlert, WaitForNotification)
    return any(judged) or any(
        isinstance(s.args, alert_steps) or (isinstance(s.args, AssertState) and s.args.alert) for s in steps
    )


def _check_races(scenario: Scenario, catalog: Catalog) -> None:
    """Refuse a scenario whose steps can revert a fault before what it asserts can have happened."""
    timing = catalog.timing
    if timing is None:
        return
    if scenario.time_scale is not None and not catalog.time_scale_given:
        timing = dataclasses.replace(timing, time_scale=float(scenario.time_scale))
    races = find_races(scenario, timing)
    if races:
        raise ScenarioInvalid("\n".join(str(r) for r in races))


def ordered(scenarios: Iterable[Scenario]) -> list[Scenario]:
    """Steady-state scenarios first (they need a quiet stack, before any fault left its traces), then
    the others in their given order."""
    items = list(scenarios)
    return [s for s in items if s.type == "steady_state"] + [s for s in items if s.type != "steady_state"]


def load_scenarios(directory: Path, catalog: Catalog) -> list[Scenario]:
    """Every ``*.yaml``/``*.yml`` scenario in ``directory`` (sorted by file name); names must be unique."""
    if not directory.is_dir():
        raise ScenarioInvalid(f"{directory}: no such scenario directory — set files.scenarios in the contract")
    found = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    scenarios = [load_scenario(p, catalog) for p in found]
    names: dict[str, Path] = {}
    for scenario in scenarios:
        if scenario.name in names:
            raise ScenarioInvalid(
                f"{scenario.path}: name '{scenario.name}' is also used by {names[scenario.name]} — names must be unique"
            )
        names[scenario.name] = scenario.path
    return scenarios
