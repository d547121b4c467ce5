"""What the dashboard shows of a run, from its events and report."""

from __future__ import annotations

import pytest

from obs_tests.web.views import alert_rows, chaos_view, event_line, public_url

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
