"""Typed steps: each kind parsed from a scenario's YAML into its class with its defaults, printed as written,
and a wrong one rejected."""

from __future__ import annotations

import pytest

from obs_tests.core.yamlfile import load_located_text
from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.model import STEP_KINDS, Step
from obs_tests.scenarios.step_types import (
    STEP_TYPES,
    AssertState,
    Load,
    Revert,
    StepArgs,
    WaitForAlert,
    WaitForCycles,
    WaitForFault,
    WaitForHealth,
    WaitForMetric,
    WaitForNotification,
    WaitForTime,
    parse_step,
)


def _parsed(yaml_step: str) -> StepArgs:
    """The typed step of one YAML step line (``wait_for_time: 2``)."""
    doc = load_located_text(yaml_step, "x.yaml", error=ScenarioInvalid)
    ((kind, raw),) = doc.data.items()
    return parse_step(kind, raw)


@pytest.mark.parametrize(
    ("yaml_step", "expected"),
    [
        pytest.param(
            "wait_for_alert: {name: GatewayDown, state: firing}",
            WaitForAlert("GatewayDown", "firing", labels=None, within=60),
            id="wait_for_alert-defaults",
        ),
        pytest.param(
            "wait_for_alert: {name: AgentDown, state: resolved, within: 30, labels: {service: agent-risk}}",
            WaitForAlert("AgentDown", "resolved", labels={"service": "agent-risk"}, within=30),
            id="wait_for_alert-all",
        ),
        pytest.param(
            "wait_for_metric: {expr: up, op: '>=', value: 1}",
            WaitForMetric("up", ">=", 1, within=60),
            id="wait_for_metric",
        ),
        pytest.param(
            "wait_for_notification: {alert: GatewayDown}",
            WaitForNotification("GatewayDown", status="firing", receiver=None, within=60),
            id="wait_for_notification-defaults",
        ),
        pytest.param(
            "wait_for_notification: {alert: GatewayDown, status: resolved, receiver: pager, within: 90}",
            WaitForNotification("GatewayDown", status="resolved", receiver="pager", within=90),
            id="wait_for_notification-all",
        ),
        pytest.param(
            "wait_for_notification: {alert: Watchdog, after: back}",
            WaitForNotification("Watchdog", after="back"),
            id="wait_for_notification-after",
        ),
        pytest.param("wait_for_health: {check: ha.mesh}", WaitForHealth("ha.mesh"), id="wait_for_health-defaults"),
        pytest.param(
            "wait_for_health: {check: ha.reloads, status: ok, names: prometheus-2, within: 15}",
            WaitForHealth("ha.reloads", "ok", "prometheus-2", 15),
            id="wait_for_health-all",
        ),
        pytest.param("wait_for_time: 2.5", WaitForTime(2.5), id="wait_for_time"),
        pytest.param("wait_for_cycles: 3", WaitForCycles(3), id="wait_for_cycles"),
        pytest.param("wait_for_fault: kill-gateway", WaitForFault("kill-gateway"), id="wait_for_fault"),
        pytest.param("revert: kill-gateway", Revert("kill-gateway"), id="revert"),
        pytest.param("load: {users: 5}", Load(users=5, wait=True), id="load-defaults"),
        pytest.param(
            "load: {users: 5, duration: 20, tags: [orders], wait: false}",
            Load(users=5, duration=20, tags=("orders",), wait=False),
            id="load-all",
        ),
        pytest.param(
            "assert: {alert: GatewayDown, state: firing}",
            AssertState(alert="GatewayDown", state="firing"),
            id="assert-alert",
        ),
        pytest.param(
            "assert: {expr: up, op: '==', value: 1, message: gateway up}",
            AssertState(expr="up", op="==", value=1, message="gateway up"),
            id="assert-expr",
        ),
    ],
)
def test_parse_step_builds_the_class_of_its_kind_with_its_defaults(yaml_step: str, expected: StepArgs) -> None:
    parsed = _parsed(yaml_step)
    assert parsed == expected
    assert type(parsed) is type(expected)


def test_step_types_cover_every_kind() -> None:
    assert tuple(STEP_TYPES) == STEP_KINDS
    assert all(cls.kind == kind for kind, cls in STEP_TYPES.items())


@pytest.mark.parametrize(
    ("yaml_step", "describe", "subject"),
    [
        pytest.param(
            "wait_for_alert: {state: firing, name: A, within: 30}",
            "wait_for_alert(state=firing, name=A, within=30)",
            "{'state': 'firing', 'name': 'A', 'within': 30}",
            id="mapping-in-written-order",
        ),
        pytest.param(
            "load: {users: 5, tags: [a, b]}",
            "load(users=5, tags=['a', 'b'])",
            "{'users': 5, 'tags': ['a', 'b']}",
            id="tags",
        ),
        pytest.param("wait_for_time: 2", "wait_for_time(2)", "2", id="scalar"),
        pytest.param("revert: f", "revert(f)", "f", id="fault"),
    ],
)
def test_a_parsed_step_prints_as_written(yaml_step: str, describe: str, subject: str) -> None:
    args = _parsed(yaml_step)
    assert Step(args.kind, args).describe() == describe
    assert args.subject() == subject


def test_a_step_built_in_code_prints_its_given_fields() -> None:
    assert Step("assert", AssertState(alert="A", state="firing")).describe() == "assert(alert=A, state=firing)"
    assert WaitForAlert("A", "firing").given("within") is False
    assert _parsed("wait_for_alert: {name: A, state: firing, within: 60}").given("within") is True


def test_load_spec_fields_leave_out_wait_and_what_was_not_given() -> None:
    assert Load(users=5, tags=("a",), wait=False).spec_fields() == {"users": 5, "tags": ("a",)}


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        pytest.param("wait_for_time", "30s", "wait_for_time: expected a number, got '30s'", id="time-string"),
        pytest.param("wait_for_cycles", 1.5, "wait_for_cycles: expected an integer, got 1.5", id="cycles-float"),
        pytest.param("wait_for_cycles", True, "wait_for_cycles: expected an integer, got True", id="cycles-bool"),
        pytest.param("revert", 3, "revert: expected a string, got 3", id="revert-number"),
        pytest.param("wait_for_alert", {"name": "A"}, "wait_for_alert: missing state", id="alert-missing-state"),
        pytest.param(
            "wait_for_alert",
            {"name": "A", "state": "burning"},
            "wait_for_alert.state: expected one of pending, firing, resolved, got 'burning'",
            id="alert-bad-state",
        ),
        pytest.param(
            "wait_for_metric",
            {"expr": "up", "op": "~", "value": 1},
            "wait_for_metric.op: expected one of ==, !=, >, >=, <, <=, got '~'",
            id="metric-bad-op",
        ),
        pytest.param(
            "wait_for_notification",
            {"alert": "A", "within": "soon"},
            "wait_for_notification.within: expected a number, got 'soon'",
            id="notification-within-string",
        ),
        pytest.param(
            "load", {"users": 5, "colour": "red"}, "load: unknown field 'colour' — known: users, ", id="load-unknown"
        ),
        pytest.param("assert", "up", "assert: expected a mapping with expr, op, value", id="assert-not-mapping"),
        pytest.param("sleep", 3, "sleep: unknown step kind 'sleep' — one of: wait_for_alert, ", id="unknown-kind"),
    ],
)
def test_parse_step_rejects_a_wrong_step(kind: str, raw: object, message: str) -> None:
    with pytest.raises(ScenarioInvalid) as info:
        parse_step(kind, raw)
    assert str(info.value).startswith(message)


def test_parse_step_names_where_the_step_is() -> None:
    with pytest.raises(ScenarioInvalid, match=r"^x\.yaml:4: steps\[1\]\.revert: expected a string, got 3$"):
        parse_step("revert", 3, "x.yaml:4: steps[1].revert")


def test_a_step_refuses_arguments_of_another_kind() -> None:
    with pytest.raises(ValueError, match="a revert step with the arguments of a wait_for_time step"):
        Step("revert", WaitForTime(1))
