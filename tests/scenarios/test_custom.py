from __future__ import annotations

from obs_tests.scenarios.custom import equity_grew, pipeline_resumed_after_restart, recovered_after_failures
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
