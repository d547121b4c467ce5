from __future__ import annotations

from obs_tests.demo.market import PAIRS, SCENARIOS
from tests.demo.conftest import Stack, call, metric, scrape, wait_for


def test_exchange_exposes_prices_and_scenario(live: Stack) -> None:
    samples = scrape(live.exchange.url)
    for pair in PAIRS:
        assert samples[("exchange_price", frozenset({("pair", pair)}))] > 0
        assert ("exchange_price_fetch_failures_total", frozenset({("pair", pair)})) in samples
        assert samples[("exchange_last_update_timestamp_seconds", frozenset({("pair", pair)}))] > 1.7e9
    active = [s for s in SCENARIOS if samples[("exchange_scenario_info", frozenset({("scenario", s)}))] == 1]
    assert active == ["sideways"]
    fetches = samples[("exchange_price_fetches_total", frozenset({("pair", "BTC-USD")}))]
    wait_for(
        lambda: metric(live.exchange.url, "exchange_price_fetches_total", pair="BTC-USD") > fetches,
        timeout=5,
        what="ticks",
    )


def test_exchange_scenario_switch_to_flash_crash(live: Stack) -> None:
    start_price = metric(live.exchange.url, "exchange_price", pair="BTC-USD")
    reply = call("PUT", f"{live.exchange.url}/admin/scenario", {"scenario": "flash_crash", "seed": 42})
    assert reply.status == 200
    doc = reply.json()
    assert doc["scenario"] == "flash_crash"
    assert doc["seed"] == 42
    assert call("GET", f"{live.exchange.url}/admin/scenario").json()["scenario"] == "flash_crash"
    assert metric(live.exchange.url, "exchange_scenario_info", scenario="flash_crash") == 1
    assert metric(live.exchange.url, "exchange_scenario_info", scenario="sideways") == 0
    wait_for(
        lambda: metric(live.exchange.url, "exchange_price", pair="BTC-USD") < 0.85 * start_price,
        timeout=5,
        what="a >15% drop within 5 s",
    )


def test_exchange_unknown_scenario_lists_known_ones(live: Stack) -> None:
    reply = call("PUT", f"{live.exchange.url}/admin/scenario", {"scenario": "to_the_moon"})
    assert reply.status == 400
    assert "flash_crash" in reply.json()["error"]
    for body in (b"nope", b"[]", {"scenario": "sideways", "seed": "x"}, {"scenario": "sideways", "x": 1}):
        assert call("PUT", f"{live.exchange.url}/admin/scenario", body).status == 400


def test_exchange_error_rate_counts_fetch_failures_and_freezes_updates(live: Stack) -> None:
    url = live.exchange.url
    assert call("PUT", f"{url}/admin/faults", {"error_rate": 1}).status == 200
    failures = metric(url, "exchange_price_fetch_failures_total", pair="ETH-USD")
    wait_for(
        lambda: metric(url, "exchange_price_fetch_failures_total", pair="ETH-USD") >= failures + 3,
        timeout=5,
        what="fetch failures",
    )
    frozen = metric(url, "exchange_last_update_timestamp_seconds", pair="ETH-USD")
    wait_for(
        lambda: metric(url, "exchange_price_fetch_failures_total", pair="ETH-USD") >= failures + 6,
        timeout=5,
        what="more fetch failures",
    )
    assert metric(url, "exchange_last_update_timestamp_seconds", pair="ETH-USD") == frozen
    assert call("DELETE", f"{url}/admin/faults").status == 200
    wait_for(
        lambda: metric(url, "exchange_last_update_timestamp_seconds", pair="ETH-USD") > frozen,
        timeout=5,
        what="updates resume",
    )


def test_exchange_hang_stops_ticking(live: Stack) -> None:
    url = live.exchange.url
    assert call("PUT", f"{url}/admin/faults", {"hang": True}).status == 200
    first = metric(url, "exchange_price_fetches_total", pair="SOL-USD")
    wait_for(
        lambda: (
            metric(url, "exchange_price_fetches_total", pair="SOL-USD") <= first + 1
            and call("GET", f"{url}/admin/faults").json() == {"hang": True}
        ),
        timeout=2,
        what="hung",
    )
    stalled = metric(url, "exchange_price_fetches_total", pair="SOL-USD")
    # five tick periods later still no fetch
    wait_for(lambda: call("GET", f"{url}/healthz").status == 200, timeout=2, what="healthz while hung")
    deadline_probe = [metric(url, "exchange_price_fetches_total", pair="SOL-USD") for _ in range(10)]
    assert max(deadline_probe) == stalled
    assert call("DELETE", f"{url}/admin/faults").status == 200
    wait_for(
        lambda: metric(url, "exchange_price_fetches_total", pair="SOL-USD") > stalled,
        timeout=5,
        what="ticking resumes",
    )


def test_exchange_serves_the_candle_feed_under_its_faults(live: Stack) -> None:
    url = live.exchange.url
    try:
        put = call("PUT", f"{url}/admin/candles", {"scenario": "flash_crash", "seed": 42, "warmup_candles": 1})
        assert put.status == 200, put.body
        first, second = call("GET", f"{url}/candles/next").json(), call("GET", f"{url}/candles/next").json()
        assert (first["candle"], first["scenario"]) == (1, "sideways")
        assert (second["candle"], second["scenario"]) == (2, "flash_crash")
        assert second["bid"] < second["price"] < second["ask"]
        assert call("PUT", f"{url}/admin/candles", {"scenario": "moon"}).status == 400
        assert call("PUT", f"{url}/admin/faults", {"error_rate": 1}).status == 200
        failed = call("GET", f"{url}/candles/next")
        assert failed.status == 503 and "error" in failed.json()
        assert call("GET", f"{url}/admin/candles").json()["candle"] == 2
    finally:
        call("DELETE", f"{url}/admin/candles")
