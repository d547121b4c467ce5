"""What the dashboard shows of a run, from its events and report."""

from __future__ import annotations

import pytest

from obs_tests.web.views import alert_rows, bot_view, chaos_counters, chaos_view, event_line, public_url

EVENTS = [
    {
        "t": 1.0,
        "kind": "fault",
        "name": "kill-x",
        "state": "applied",
        "labels": {},
        "detail": {"what": "kill exchange"},
    },
    {"t": 1.5, "kind": "alert", "name": "XDown", "state": "pending", "labels": {"alertname": "XDown", "job": "x"}},
    {"t": 3.0, "kind": "alert", "name": "XDown", "state": "firing", "labels": {"alertname": "XDown", "job": "x"}},
    {
        "t": 3.5,
        "kind": "notification",
        "name": "XDown",
        "state": "firing",
        "labels": {},
        "detail": {"receiver": "crit"},
    },
    {"t": 4.0, "kind": "revert", "name": "kill-x", "state": "reverted", "labels": {}, "detail": {}},
    {"t": 5.0, "kind": "alert", "name": "XDown", "state": "resolved", "labels": {"alertname": "XDown", "job": "x"}},
    {"t": 5.5, "kind": "alert", "name": "YSlow", "state": "pending", "labels": {"alertname": "YSlow"}},
]


def test_alert_rows_follow_the_states_and_add_the_measured_times() -> None:
    timings = [
        {"alert": "XDown", "fault": "kill-x", "fired_after": 2.0, "resolved_after": 1.0, "notified_after": 0.5,
         "bounds": {"fire": 4.2, "resolve": 2.0}},
        {"alert": "ZNever", "fault": "kill-x", "fired_after": None, "resolved_after": None, "bounds": None},
    ]  # fmt: skip
    rows = alert_rows(EVENTS, timings)
    assert [r["alert"] for r in rows] == ["XDown", "YSlow", "ZNever"]
    x = rows[0]
    assert x["labels"] == {"job": "x"} and x["state"] == "resolved"
    assert (x["pending_at"], x["firing_at"], x["resolved_at"]) == (1.5, 3.0, 5.0)
    assert (x["fired_after"], x["fire_bound"], x["resolved_after"], x["resolve_bound"]) == (2.0, 4.2, 1.0, 2.0)
    assert rows[1]["state"] == "pending" and "fired_after" not in rows[1]
    assert rows[2]["state"] == "inactive" and rows[2]["expected"] is True and rows[2]["fire_bound"] is None


def test_alert_rows_show_the_limit_that_judged_each_phase() -> None:
    """The dashboard showed the computed bound even when the scenario's own `within` judged the alert."""
    timings = [
        {"alert": "XDown", "fault": "kill-x", "fired_after": 8.8, "resolved_after": 1.0,
         "bounds": {"fire": 4.2, "resolve": 2.0}, "limits": {"fire": 10.0, "clear": 4.0},
         "bound_source": {"fire": "within", "clear": "computed"}},
    ]  # fmt: skip
    [x, *_] = alert_rows(EVENTS, timings)
    assert (x["fire_bound"], x["fire_source"], x["resolve_bound"], x["resolve_source"]) == (
        10.0,
        "within",
        4.0,
        "computed",
    )


def test_chaos_view_live_and_final() -> None:
    live = chaos_view(EVENTS[:2])
    assert (live["applied"], live["reverted"], live["active"]) == (1, 0, ["kill-x"])
    assert live["faults"][0]["what"] == "kill exchange"
    done = chaos_view(EVENTS)
    assert (done["applied"], done["reverted"], done["active"]) == (1, 1, [])
    final = chaos_view(
        EVENTS,
        {
            "applied": 2,
            "reverted": 1,
            "revert_failed": 1,
            "errors": ["revert of x failed"],
            "faults": [
                {"name": "setup-market", "what": "market", "applied_at": 0.0, "reverted_at": 6.0},
                {"name": "stuck", "what": "pause", "applied_at": 1.0, "reverted_at": None},
            ],
        },
    )
    assert final["active"] == ["stuck"] and final["revert_failed"] == 1 and final["errors"] == ["revert of x failed"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://admin:secret@grafana:3000/path", "http://grafana:3000/path"),
        ("https://token@grafana.example/", "https://grafana.example/"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("http://user:pw@[::1]:3000/x?y=1", "http://[::1]:3000/x?y=1"),
        (None, None),
    ],
)
def test_public_url_drops_credentials(url: str | None, shown: str | None) -> None:
    assert public_url(url) == shown


def test_event_lines() -> None:
    assert event_line(EVENTS[0]) == "fault kill-x applied: kill exchange"
    assert event_line(EVENTS[2]) == "alert XDown {job=x} → firing"
    assert event_line(EVENTS[3]) == "notification XDown firing → crit"
    assert event_line(EVENTS[4]) == "fault kill-x reverted"
    assert event_line({"kind": "step", "name": "fired", "state": "done"}) == "step fired done"


ZERO = {"events_delayed": 0, "events_dropped": 0, "failures_injected": 0, "events_modified": 0, "total_delay_ms": 0}


def test_chaos_counters_from_a_result_and_from_a_bots_stats() -> None:
    result = {"applied": 3, "events_delayed": 4, "events_dropped": 1, "total_delay_ms": 812.25, "faults": []}
    assert chaos_counters(result) == {**ZERO, "events_delayed": 4, "events_dropped": 1, "total_delay_ms": 812.25}
    # a bot's GET /admin/events stats: summed over its rules, as a result counts them (an event two rules
    # delayed counts twice there, once in the bot's totals)
    bot = {
        "events_delayed": 5,
        "total_delay_ms": 900.0,
        "by_rule": {
            "latency": {"events_delayed": 5, "total_delay_ms": 600.0},
            "delay": {"events_delayed": 2, "total_delay_ms": 300.0, "events_modified": 0},
            "drop": {"events_dropped": 3},
        },
    }
    assert chaos_counters(bot) == {**ZERO, "events_delayed": 7, "events_dropped": 3, "total_delay_ms": 900.0}
    assert chaos_counters(None) == ZERO == chaos_counters({"by_rule": {}})


def test_chaos_counters_ignore_what_is_no_number() -> None:
    odd = {"events_delayed": "7", "events_dropped": True, "failures_injected": None, "events_modified": 2.0}
    assert chaos_counters(odd) == {**ZERO, "events_modified": 2.0}


def test_bot_view_of_a_run_with_and_without_bot_events() -> None:
    assert bot_view(None, {"events_dropped": 3}) is None
    summary = {
        "total": 30,
        "by_name": {"MarketPriceFetched": 9, "BuyConditionMet": 2},
        "cycles": 10,
        "missing": {"BuyConditionMet": 3, "PositionPurchased": 1},
        "corrupted": 1,
    }
    view = bot_view(summary, {"events_dropped": 4}, recording="recordings/x.json", live=True)
    assert view == {
        "live": True,
        "events": {**summary, "missing_total": 4},
        "chaos": {**ZERO, "events_dropped": 4},
        "exchange": None,
        "recording": "recordings/x.json",
    }
    empty = bot_view({}, None)
    assert empty is not None and empty["events"] == {
        "total": 0,
        "by_name": {},
        "cycles": 0,
        "missing": {},
        "missing_total": 0,
        "corrupted": 0,
    }
