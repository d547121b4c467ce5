"""Typed steps: one frozen dataclass per step kind of a scenario, built once when the scenario is loaded
(after its JSON Schema validation) by :func:`parse_step`.

A step remembers which of its fields the scenario wrote, in their order (``written``), so that
:meth:`StepArgs.describe` prints it as written (``name=GatewayDown, state=firing``) while the fields
the scenario left out still hold their defaults (``within`` 60 s, ``status`` "firing"...).

Example::

    step = parse_step("wait_for_alert", {"name": "GatewayDown", "state": "firing"})
    assert step == WaitForAlert("GatewayDown", "firing") and step.within == 60
    parse_step("wait_for_time", "soon")  # ScenarioInvalid: wait_for_time: expected a number, got 'soon'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from obs_tests.errors import ScenarioInvalid

__all__ = [
    "STEP_TYPES",
    "AssertState",
    "Load",
    "Revert",
    "StepArgs",
    "WaitForAlert",
    "WaitForCycles",
    "WaitForEvent",
    "WaitForFault",
    "WaitForHealth",
    "WaitForMetric",
    "WaitForNotification",
    "WaitForTime",
    "parse_step",
]

_Check = tuple[str, Callable[[object], bool]]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_labels(value: object) -> bool:
    return isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _is_tags(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(t, str) for t in value)


_STR: _Check = ("a string", lambda v: isinstance(v, str))
_NUMBER: _Check = ("a number", _is_number)
_INT: _Check = ("an integer", _is_int)
_BOOL: _Check = ("true or false", lambda v: isinstance(v, bool))
_LABELS: _Check = ("a mapping of label names to strings", _is_labels)
_TAGS: _Check = ("a list of strings", _is_tags)
_OPS = ("==", "!=", ">", ">=", "<", "<=")


def _one_of(*choices: str) -> _Check:
    return ("one of " + ", ".join(choices), lambda v: v in choices)


def _shown(value: object) -> object:
    """A field's value as the scenario wrote it (tags are kept as a tuple, written as a list)."""
    return list(value) if isinstance(value, tuple) else value


class StepArgs:
    """What every typed step has: its ``kind`` (the scenario's key) and how it prints."""

    kind: ClassVar[str]

    def written_fields(self) -> dict[str, object]:
        """The fields as the scenario wrote them, in its order (all but the defaulted ones when built in code)."""
        return {}

    def given(self, name: str) -> bool:
        """Whether the scenario wrote field ``name`` (rather than leaving it to its default)."""
        return name in self.written_fields()

    def document(self) -> object:
        """The step's value as a scenario file writes it (a mapping of its fields, or its one scalar)."""
        return self.written_fields()

    def describe(self) -> str:
        """The arguments as :meth:`obs_tests.scenarios.model.Step.describe` prints them."""
        return ", ".join(f"{k}={v}" for k, v in self.written_fields().items())

    def subject(self) -> str:
        """The arguments as a race report names them (``{'name': 'GatewayDown', 'state': 'firing'}``)."""
        return str(self.written_fields())


class _MappingStep(StepArgs):
    """A step whose scenario value is a mapping of fields."""

    #: the checks of the fields, by name; the required ones have no default
    checks: ClassVar[Mapping[str, _Check]]

    @property
    def written(self) -> tuple[str, ...]:
        raise NotImplementedError

    def written_fields(self) -> dict[str, object]:
        names = self.written or tuple(
            f.name
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.name != "written" and (f.default is dataclasses.MISSING or getattr(self, f.name) != f.default)
        )
        return {name: _shown(getattr(self, name)) for name in names}


class _ScalarStep(StepArgs):
    """A step whose scenario value is one scalar (seconds, cycles, a fault's name)."""

    check: ClassVar[_Check]

    @property
    def value(self) -> object:
        raise NotImplementedError

    def document(self) -> object:
        return self.value

    def describe(self) -> str:
        return str(self.value)

    def subject(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class WaitForAlert(_MappingStep):
    """``wait_for_alert: {name, state, labels?, within?}``: the alert reaches ``state`` within ``within`` s."""

    kind: ClassVar[str] = "wait_for_alert"
    checks: ClassVar[Mapping[str, _Check]] = {
        "name": _STR,
        "state": _one_of("pending", "firing", "resolved"),
        "labels": _LABELS,
        "within": _NUMBER,
    }
    name: str
    state: str
    labels: Mapping[str, str] | None = None
    within: float = 60
    written: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class WaitForMetric(_MappingStep):
    """``wait_for_metric: {expr, op, value, within?}``: ``expr op value`` holds within ``within`` s."""

    kind: ClassVar[str] = "wait_for_metric"
    checks: ClassVar[Mapping[str, _Check]] = {"expr": _STR, "op": _one_of(*_OPS), "value": _NUMBER, "within": _NUMBER}
    expr: str
    op: str
    value: float
    within: float = 60
    written: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class WaitForNotification(_MappingStep):
    """``wait_for_notification: {alert, status?, receiver?, after?, within?}``: a notification of the
    alert's current incident (``receiver`` None: to any receiver), received after the step whose id is
    ``after`` was done when given."""

    kind: ClassVar[str] = "wait_for_notification"
    checks: ClassVar[Mapping[str, _Check]] = {
        "alert": _STR,
        "status": _one_of("firing", "resolved"),
        "receiver": _STR,
        "after": _STR,
        "within": _NUMBER,
    }
    alert: str
    status: str = "firing"
    receiver: str | None = None
    after: str | None = None
    within: float = 60
    written: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class WaitForHealth(_MappingStep):
    """``wait_for_health: {check, status?, names?, within?}``: ``obs-tests health`` on the stack judges the
    check (``ha.reloads``, ``prometheus.targets`` …) ``status`` (default critical), with a problem whose
    subject names ``names`` when given (on an HA stack the HA checks of every replica and peer run too)."""

    kind: ClassVar[str] = "wait_for_health"
    checks: ClassVar[Mapping[str, _Check]] = {
        "check": _STR,
        "status": _one_of("ok", "warning", "critical", "unknown"),
        "names": _STR,
        "within": _NUMBER,
    }
    check: str
    status: str = "critical"
    names: str | None = None
    within: float = 60
    written: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Load(_MappingStep):
    """``load: {users?, duration?, …, wait?}``: a Locust run (``None``: the load's own default), waited
    for unless ``wait`` is false."""

    kind: ClassVar[str] = "load"
    checks: ClassVar[Mapping[str, _Check]] = {
        "users": _INT,
        "spawn_rate": _NUMBER,
        "duration": _NUMBER,
        "malformed_ratio": _NUMBER,
        "think_time": _NUMBER,
        "burst_size": _INT,
        "requests": _INT,
        "shape": _one_of("step", "spike", "soak"),
        "workers": _INT,
        "tags": _TAGS,
        "wait": _BOOL,
    }
    users: int | None = None
    spawn_rate: float | None = None
    duration: float | None = None
    malformed_ratio: float | None = None
    think_time: float | None = None
    burst_size: int | None = None
    requests: int | None = None
    shape: str | None = None
    workers: int | None = None
    tags: tuple[str, ...] | None = None
    wait: bool = True
    written: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def spec_fields(self) -> dict[str, object]:
        """The load's given fields (all but ``wait``), as a load specification takes them."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("wait", "written") and getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class AssertState(_MappingStep):
    """``assert: {alert, state, message?}`` or ``assert: {expr, op, value, message?}``, judged at once
    (which of the two is given is checked with the scenario's meaning)."""

    kind: ClassVar[str] = "assert"
    checks: ClassVar[Mapping[str, _Check]] = {
        "expr": _STR,
        "op": _one_of(*_OPS),
        "value": _NUMBER,
        "alert": _STR,
        "state": _one_of("inactive", "pending", "firing"),
        "message": _STR,
    }
    expr: str | None = None
    op: str | None = None
    value: float | None = None
    alert: str | None = None
    state: str | None = None
    message: str | None = None
    written: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class WaitForEvent(_MappingStep):
    """``wait_for_event: NAME`` (+ ``timeout_seconds: S`` beside it, default 60): the run has had an event of
    that name on the bus (earlier ones count)."""

    kind: ClassVar[str] = "wait_for_event"
    checks: ClassVar[Mapping[str, _Check]] = {"event": _STR, "timeout_seconds": _NUMBER}
    event: str
    timeout_seconds: float = 60.0
    written: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class WaitForTime(_ScalarStep):
    """``wait_for_time: SECONDS``."""

    kind: ClassVar[str] = "wait_for_time"
    check: ClassVar[_Check] = _NUMBER
    seconds: float

    @property
    def value(self) -> object:
        return self.seconds


@dataclass(frozen=True)
class WaitForCycles(_ScalarStep):
    """``wait_for_cycles: N``: every rule group evaluated N more times — or, when the scenario sets a bot
    up, the bot's monitoring cycles reached N."""

    kind: ClassVar[str] = "wait_for_cycles"
    check: ClassVar[_Check] = _INT
    cycles: int

    @property
    def value(self) -> object:
        return self.cycles


@dataclass(frozen=True)
class WaitForFault(_ScalarStep):
    """``wait_for_fault: NAME``: the scheduled chaos fault applied."""

    kind: ClassVar[str] = "wait_for_fault"
    check: ClassVar[_Check] = _STR
    fault: str

    @property
    def value(self) -> object:
        return self.fault


@dataclass(frozen=True)
class Revert(_ScalarStep):
    """``revert: NAME``: revert the chaos fault now."""

    kind: ClassVar[str] = "revert"
    check: ClassVar[_Check] = _STR
    fault: str

    @property
    def value(self) -> object:
        return self.fault


#: every step kind → its class
STEP_TYPES: dict[str, type[_MappingStep] | type[_ScalarStep]] = {
    cls.kind: cls
    for cls in (
        WaitForAlert,
        WaitForMetric,
        WaitForNotification,
        WaitForHealth,
        WaitForTime,
        WaitForCycles,
        WaitForEvent,
        WaitForFault,
        Load,
        Revert,
        AssertState,
    )
}


def parse_step(kind: str, raw: object, where: str | None = None) -> StepArgs:
    """The typed step of ``kind`` from its scenario value ``raw``; :class:`ScenarioInvalid` (prefixed with
    ``where``, default the kind) when the kind is unknown or a field is missing, unknown or of a wrong type."""
    at = where or kind
    cls = STEP_TYPES.get(kind)
    if cls is None:
        raise ScenarioInvalid(f"{at}: unknown step kind '{kind}' — one of: {', '.join(STEP_TYPES)}")
    if issubclass(cls, _ScalarStep):
        what, ok = cls.check
        if not ok(raw):
            raise ScenarioInvalid(f"{at}: expected {what}, got {raw!r}")
        return cls(raw)  # type: ignore[call-arg]
    if not isinstance(raw, Mapping):
        raise ScenarioInvalid(f"{at}: expected a mapping with {', '.join(cls.checks)}, got {raw!r}")
    values: dict[str, object] = {}
    for key, value in raw.items():
        check = cls.checks.get(str(key))
        if check is None:
            raise ScenarioInvalid(f"{at}: unknown field '{key}' — known: {', '.join(cls.checks)}")
        if not check[1](value):
            raise ScenarioInvalid(f"{at}.{key}: expected {check[0]}, got {value!r}")
        values[str(key)] = tuple(value) if key == "tags" else dict(value) if key == "labels" else value
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]  # type: ignore[arg-type]
    missing = [name for name in required if name not in values]
    if missing:
        raise ScenarioInvalid(f"{at}: missing {', '.join(missing)}")
    return cls(**values, written=tuple(values))  # type: ignore[call-arg]
