"""Waiting for the notifications a scenario expects: until each came or is past its bound, and a counted
one's dedup bound has passed after its first."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from obs_tests.config.contract import load_contract
from obs_tests.scenarios.model import Catalog, Scenario, load_scenario
from obs_tests.scenarios.notifications import Wanted, await_notifications, matching_notifications
from obs_tests.scenarios.timeline import Event, Timeline

ROOT = Path(__file__).resolve().parents[2]
LABELS = {"alertname": "GatewayDown"}


def _scenario(tmp_path: Path, notifications: str) -> Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ntolerance: 0\nchaos:\n  - {name: kill-gateway, kind: kill, target: gateway, at: 1}\n"
        f"steps:\n  - wait_for_fault: kill-gateway\nexpect:\n  notifications:\n    - {notifications}\n"
    )
    return load_scenario(path, Catalog.from_contract(load_contract(ROOT / "obs.yaml")))


def test_wanted_from_an_expectation_and_what_it_matches() -> None:
    want = Wanted.from_entry({"alert": "GatewayDown", "receiver": "critical", "count": 1})
    assert want == Wanted("GatewayDown", "firing", "critical", 1)
    timeline = Timeline()
    for t, receiver in ((1.0, "critical"), (2.0, "warning"), (3.0, "critical")):
        timeline.add(Event(t, "notification", "GatewayDown", "firing", LABELS, {"receiver": receiver}))
    assert [e.t for e in matching_notifications(timeline, want)] == [1.0, 3.0]
    assert [e.t for e in matching_notifications(timeline, want, since=2.0)] == [3.0]
    assert len(matching_notifications(timeline, Wanted("GatewayDown", "firing"))) == 3


def test_a_counted_notification_is_held_until_the_dedup_bound_after_the_first(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "{alert: GatewayDown, status: firing, count: 1}")
    timeline = Timeline()
    first = time.time() - 0.5
    timeline.add(Event(first - 1.0, "alert", "GatewayDown", "firing", LABELS))
    timeline.add(Event(first, "notification", "GatewayDown", "firing", LABELS, {"receiver": "critical"}))
    await_notifications(scenario, timeline, None, threading.Event())
    assert time.time() >= first + 2.0  # the dedup bound of one Alertmanager: the 2 s margin (tolerance 0)


def test_an_uncounted_notification_that_came_ends_the_wait(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "{alert: GatewayDown, status: firing}")
    timeline = Timeline()
    now = time.time()
    timeline.add(Event(now - 1.0, "alert", "GatewayDown", "firing", LABELS))
    timeline.add(Event(now - 0.5, "notification", "GatewayDown", "firing", LABELS, {"receiver": "critical"}))
    await_notifications(scenario, timeline, None, threading.Event())
    assert time.time() < now + 2.0  # not held: no count (the unknown-bound wait would be 30 s)


def test_nothing_expected_nothing_awaited(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "{alert: GatewayDown, absent_while: NATSDown}")
    await_notifications(scenario, Timeline(), None, threading.Event())  # returns at once, never raises
