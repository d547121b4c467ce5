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
    assert "1 within the 3.4s dedup bound after the heal, none later" in message
    watchdog_repeats = _partition(*((float(t), "Watchdog", "firing") for t in range(0, 30, 5)))
    assert duplicates_stop_after_heal(watchdog_repeats) == (
        True,
        "partition 8.0s (+2.0s to +10.0s): 0 duplicate notification(s), 0 during it (none), 0 within the 3.4s dedup "
        "bound after the heal, none later",
    )


def test_a_partition_fails_when_duplicates_go_on_after_the_heal_or_there_was_none() -> None:
    ok, message = duplicates_stop_after_heal(
        _partition((1.0, "GatewayDown", "firing"), (20.0, "GatewayDown", "firing"))
    )
    assert not ok
    assert "1 later than that: GatewayDown firing +20.0s — the peers did not converge" in message
    assert duplicates_stop_after_heal(Timeline(origin=T)) == (
        False,
        "no Alertmanager peer was paused: no partition to judge",
    )
    never = Timeline(origin=T)
    never.add(Event(T + 2.0, "fault", "partition", "applied", {}, {"what": "pause alertmanager-2"}))
    assert duplicates_stop_after_heal(never) == (False, "the partition (partition) never healed")
