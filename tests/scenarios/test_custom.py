from __future__ import annotations

from obs_tests.scenarios.custom import (
    duplicates_stop_after_heal,
    equity_grew,
    pipeline_resumed_after_restart,
    recovered_after_failures,
)
from obs_tests.scenarios.timeline import Event, Timeline

T = 1_800_000_000.0


def _restart(*events: Event) -> Timeline:
    """A restart fault whose apply began at T+1 and completed (component back) at T+1.4."""
    timeline = Timeline(origin=T)
    timeline.add(Event(T + 1.4, "fault", "restart-prometheus", "applied", {}, {"since": T + 1.0}))
    for event in events:
        timeline.add(event)
    return timeline


def test_pipeline_resumed_counts_the_outage_during_the_restart() -> None:
    """Prometheus went down while the restart was being applied (before "applied"): that counts."""
    ok, message = pipeline_resumed_after_restart(
        _restart(
            Event(T + 1.1, "prometheus", "api", "down"),
            Event(T + 1.3, "prometheus", "api", "up"),
            Event(T + 5.0, "notification", "Watchdog", "firing"),
        )
    )
    assert ok, message
    assert message == "Prometheus down 0.2s; Watchdog notified 3.7s after it came back"


def test_pipeline_not_resumed_without_an_outage_or_a_notification() -> None:
    ok, message = pipeline_resumed_after_restart(_restart(Event(T + 5.0, "notification", "Watchdog", "firing")))
    assert not ok and "never went away" in message
    before = Event(T + 0.5, "prometheus", "api", "down")
    ok, message = pipeline_resumed_after_restart(_restart(before, Event(T + 0.6, "prometheus", "api", "up")))
    assert not ok and "never went away" in message
    ok, message = pipeline_resumed_after_restart(
        _restart(Event(T + 1.1, "prometheus", "api", "down"), Event(T + 1.3, "prometheus", "api", "up"))
    )
    assert not ok and "no Watchdog notification after Prometheus came back" in message
    ok, message = pipeline_resumed_after_restart(Timeline(origin=T))
    assert (ok, message) == (False, "no fault was applied")


def _ev(name: str, **data: float) -> dict[str, object]:
    return {"event": name, "data": data}


def test_equity_grew_compares_the_first_and_last_equity_and_fails_without_growth() -> None:
    assert equity_grew([_ev("BotMonitoringCycleStarted", equity=10_000.0), _ev("PositionSold", equity=10_250.0)]) == (
        True,
        "equity 10000.00 → 10250.00 (+2.50 %)",
    )
    assert (
        equity_grew([_ev("BotMonitoringCycleStarted", equity=10_000.0), _ev("PositionSold", equity=9_000.0)])[0]
        is False
    )
    assert equity_grew([_ev("MarketPriceFetched", price=1.0)]) == (False, "no event carried the bot's equity")


def test_recovered_after_failures_needs_fetches_and_indicators_after_the_last_failure() -> None:
    failed = [_ev("MarketPriceFetchFailed")] * 2
    good = [_ev("MarketPriceFetched"), _ev("IndicatorsCalculated")]
    assert recovered_after_failures([*good, *failed, *good]) == (
        True,
        "2 failures, then 1 prices fetched and 1 indicator updates",
    )
    assert recovered_after_failures([*good, *failed]) == (
        False,
        "after the last of 2 failures: 0 prices fetched, 0 indicator updates",
    )
    assert recovered_after_failures(good)[0] is False


def _partition(*notes: tuple[float, str, str]) -> Timeline:
    """alertmanager-2 paused at T+2, resumed at T+10; notifications (time after T, alert, status)."""
    timeline = Timeline(origin=T)
    timeline.add(Event(T + 2.0, "fault", "partition", "applied", {}, {"what": "pause alertmanager-2"}))
    timeline.add(Event(T + 10.0, "revert", "partition", "reverted"))
    for at, alert, status in notes:
        labels = {"alertname": alert}
        timeline.add(Event(T + at, "notification", alert, status, labels, {"receiver": "critical"}))
    return timeline


def test_a_partition_passes_when_its_duplicates_stop_within_the_dedup_bound_of_the_heal() -> None:
    ok, message = duplicates_stop_after_heal(
        _partition((1.0, "GatewayDown", "firing"), (5.0, "GatewayDown", "firing"), (11.0, "GatewayDown", "firing"))
    )
    assert ok, message
    assert message.startswith("partition 8.0s (+2.0s to +10.0s): 2 duplicate notification(s), 1 during it")
    assert message.endswith("1 within the 3.4s dedup bound after the heal; none later")
    watchdog_repeats = _partition(*((float(t), "Watchdog", "firing") for t in range(0, 30, 5)))
    assert duplicates_stop_after_heal(watchdog_repeats) == (
        True,
        "partition 8.0s (+2.0s to +10.0s): 0 duplicate notification(s), 0 during it (none), 0 within the 3.4s dedup "
        "bound after the heal; none later",
    )


def test_a_flap_after_the_heal_and_the_resolved_after_it_are_reported_not_failed() -> None:
    """The paused peer's group flushes out of phase after the heal: it notifies the resolve first, a peer
    whose flush began before the resolve sends a stale "firing", then a "resolved" again past the bound (the
    timings of a recorded run, CI's failure on the rule that counted that last "resolved" as a duplicate)."""
    ok, message = duplicates_stop_after_heal(
        _partition(
            (3.5, "AgentDown", "firing"),
            (12.7, "AgentDown", "resolved"),
            (12.9, "AgentDown", "firing"),
            (13.5, "AgentDown", "resolved"),
        )
    )
    assert ok, message
    assert message == (
        "partition 8.0s (+2.0s to +10.0s): 0 duplicate notification(s), 0 during it (none), 0 within the 3.4s "
        "dedup bound after the heal; 1 flap(s), a stale firing after the resolved (AgentDown firing +12.9s); none later"
    )
    refired = duplicates_stop_after_heal(
        _partition((1.0, "AgentDown", "firing"), (5.0, "AgentDown", "resolved"), (20.0, "AgentDown", "firing"))
    )
    assert refired == (
        True,
        "partition 8.0s (+2.0s to +10.0s): 0 duplicate notification(s), 0 during it (none), "
        "0 within the 3.4s dedup bound after the heal; none later",
    )


def test_two_peers_notifying_within_a_peer_timeout_after_the_bound_is_a_race_reported() -> None:
    ok, message = duplicates_stop_after_heal(
        _partition((1.0, "AgentDown", "firing"), (14.0, "AgentDown", "resolved"), (14.3, "AgentDown", "resolved"))
    )
    assert ok, message
    assert message.endswith(
        "0 within the 3.4s dedup bound after the heal, 1 later within a 0.7s peer timeout of the one before; none later"
    )


def test_a_partition_fails_when_duplicates_go_on_after_the_heal_or_there_was_none() -> None:
    ok, message = duplicates_stop_after_heal(
        _partition((1.0, "GatewayDown", "firing"), (20.0, "GatewayDown", "firing"))
    )
    assert not ok
    assert message.endswith(
        "1 later than the bound, more than a peer timeout after the one before: GatewayDown firing +20.0s — "
        "the peers did not converge"
    )
    resolved_twice = duplicates_stop_after_heal(
        _partition((1.0, "AgentDown", "firing"), (14.0, "AgentDown", "resolved"), (15.5, "AgentDown", "resolved"))
    )
    assert resolved_twice[0] is False
    assert "more than a peer timeout after the one before: AgentDown resolved +15.5s" in resolved_twice[1]
    assert duplicates_stop_after_heal(Timeline(origin=T)) == (
        False,
        "no Alertmanager peer was paused: no partition to judge",
    )
    never = Timeline(origin=T)
    never.add(Event(T + 2.0, "fault", "partition", "applied", {}, {"what": "pause alertmanager-2"}))
    assert duplicates_stop_after_heal(never) == (False, "the partition (partition) never healed")
