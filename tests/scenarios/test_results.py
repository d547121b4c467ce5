from __future__ import annotations

import jsonschema
import pytest

from obs_tests.config.validation import load_schema
from obs_tests.scenarios.bounds import AlertBounds
from obs_tests.scenarios.results import AlertTiming, AssertionResult, ScenarioResult, after_resolving

BOUNDS = AlertBounds("GatewayDown", 1.0, 1.0, 1.0, 1, 3.0, 0.0, 0.0, 1.0, 2.0)  # fire bound 6.0s, clear bound 2.0s


def test_a_resolved_notification_between_two_polls_is_not_negative_time() -> None:
    """The report said 'resolved notification: -0.1s after resolving' when the notification came between
    the poll before and the poll that saw the alert resolved."""
    assert after_resolving(-0.1) == "with the resolve (0.1s before the poll that saw it resolved)"
    assert after_resolving(1.25) == "1.2s after resolving"
    assert after_resolving(None) == "none"


def test_the_printed_line_and_the_json_carry_the_limit_and_its_source() -> None:
    """What `scenario run` prints under each verdict (AlertTiming.describe) and the report's bound_source."""
    within = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0, firing_at=108.8)
    within.limits, within.given = {"fire": 10.0, "clear": 30.0}, {"fire", "clear"}
    computed = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0, firing_at=105.0)
    computed.limits = {"fire": 8.0, "clear": 4.0}
    assert within.describe() == (
        "GatewayDown fired 8.8s (within 10.0s, set in the scenario), cleared never (clear_within 30.0s, set in the "
        "scenario)"
    )
    assert computed.describe() == "GatewayDown fired 5.0s (bound 8.0s), cleared never (bound 4.0s)"
    assert computed.limit_text("fire") == (
        "bound 8.0s: 6.0s from the rule's for + scrape/evaluation intervals, + tolerance 2.0s"
    )
    assert within.to_json(0.0)["bound_source"] == {"fire": "within", "clear": "within"}
    assert computed.to_json(0.0)["bound_source"] == {"fire": "computed", "clear": "computed"}
    unloaded = AlertTiming("GatewayDown", "kill-gateway", None, limits={"fire": 60.0})
    assert unloaded.bound_source() == {"fire": "default"}
    assert "(limit 60.0s, a default)" in unloaded.describe()
    assert "a default: the rule is not loaded" in unloaded.limit_text("fire")


def test_a_resolved_notification_with_the_resolve_is_not_negative() -> None:
    """The check summary said 'resolved notified -0.1s': the notification came between the poll before and
    the poll that saw the alert resolved."""
    timing = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0, firing_at=105.0)
    timing.resolved_at, timing.resolved_notified_at = 210.0, 209.9
    timing.limits = {"notify_resolved": 5.0}
    assert timing.measured()["notify_resolved"] == pytest.approx(-0.1)
    assert timing.describe() == "GatewayDown resolved notified with the resolve (bound 5.0s)"
    timing.resolved_notified_at = 211.0
    assert timing.describe() == "GatewayDown resolved notified 1.0s (bound 5.0s)"


def test_the_phase_times_are_public_and_match_the_json() -> None:
    """The judge reads notified_after and resolved_notified_after; the JSON report carries the same."""
    timing = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0, firing_at=105.0, notified_at=106.25)
    timing.reverted_at, timing.resolved_at, timing.resolved_notified_at = 200.0, 202.0, 203.5
    doc = timing.to_json(100.0)
    assert (timing.fired_after, timing.notified_after, timing.resolved_after, timing.resolved_notified_after) == (
        5.0,
        1.25,
        2.0,
        1.5,
    )
    assert (doc["fired_after"], doc["notified_after"], doc["resolved_after"], doc["resolved_notified_after"]) == (
        5.0,
        1.25,
        2.0,
        1.5,
    )
    assert AlertTiming("GatewayDown", "kill-gateway", BOUNDS).notified_after is None


def _seed_result() -> ScenarioResult:
    result = ScenarioResult(
        "flash-crash-recovery-test", "scenarios/x.yaml", "no panic", title="Flash Crash Recovery Test"
    )
    result.status, result.started_at, result.finished_at = "passed", 1_764_756_000.0, 1_764_756_012.5
    message = "Expected at least 3 PositionPurchased events, got 5"
    result.assertions = [AssertionResult("event_count.PositionPurchased.min", True, ">= 3", "5", message)]
    result.chaos = {
        "applied": 1,
        "reverted": 1,
        "events_delayed": 1,
        "events_dropped": 2,
        "failures_injected": 1,
        "events_modified": 0,
        "total_delay_ms": 50.0,
    }
    result.exchange = {"min_price": 36_000.0, "max_price": 50_400.0, "total_return_pct": -8.2}
    result.events = {"total": 300, "by_name": {"PositionPurchased": 5}, "cycles": 60, "missing": {}, "corrupted": 0}
    return result


def test_a_result_is_in_the_seed_frameworks_shape_and_validates_against_the_published_schema() -> None:
    doc = _seed_result().to_json()
    assert doc["scenario"] == {
        "name": "Flash Crash Recovery Test",
        "id": "flash-crash-recovery-test",
        "description": "no panic",
        "path": "scenarios/x.yaml",
    }
    assert doc["duration_seconds"] == 12.5
    assert doc["start_time"] == "2025-12-03T10:00:00.000+00:00" and doc["end_time"].endswith("10:00:12.500+00:00")
    assert doc["assertions"]["results"][0] == {
        "name": "event_count.PositionPurchased.min",
        "passed": True,
        "expected": ">= 3",
        "actual": "5",
        "message": "Expected at least 3 PositionPurchased events, got 5",
    }
    jsonschema.Draft202012Validator(load_schema("scenario_result")).validate(doc)


def test_the_published_schema_refuses_a_result_without_the_chaos_counters() -> None:
    doc = _seed_result().to_json()
    del doc["chaos"]["events_dropped"]
    errors = list(jsonschema.Draft202012Validator(load_schema("scenario_result")).iter_errors(doc))
    assert [e.message for e in errors] == ["'events_dropped' is a required property"]
