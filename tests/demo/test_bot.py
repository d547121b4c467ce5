"""The bot as a process on a real nats-server next to a real exchange: what a subscriber of
``bot.events.>`` sees — ordered cycles, valid checksums, seq per name — its admin API, and event chaos that
really acts between the stages (a dropped buy is never executed, a modified event is rejected, a gap is
counted missing, a delay is late and not lost), plus the service faults."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest

from tests.demo.conftest import Launcher, Proc, call, metric, wait_for

POLL = 0.1
_runs = itertools.count(1)


class Recorder:
    """Every ``bot.events.>`` message, recorded by a NATS subscription of its own (in a thread)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._nc = asyncio.run_coroutine_threadsafe(self._connect(), self._loop).result(timeout=10)

    async def _connect(self) -> Any:
        nc = await nats.connect(self.url)

        async def record(msg: Any) -> None:
            with self._lock:
                self.events.append(orjson.loads(msg.data))

        await nc.subscribe("bot.events.>", cb=record)
        await nc.flush()
        return nc

    def of(self, run: str, name: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["run"] == run and (name is None or e["event"] == name)]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._nc.close(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


class Trading:
    def __init__(self, exchange: Proc, bot: Proc, recorder: Recorder) -> None:
        self.exchange, self.bot, self.recorder = exchange, bot, recorder

    def start(self, scenario: str = "flash_crash", seed: int = 42, **bot: Any) -> str:
        """Pause the bot, restart the candle feed, start a fresh run; its id."""
        assert call("PUT", f"{self.bot.url}/admin/bot", {"running": False}).status == 200
        assert call("PUT", f"{self.exchange.url}/admin/candles", {"scenario": scenario, "seed": seed}).status == 200
        run = f"run-{next(_runs)}"
        reply = call("PUT", f"{self.bot.url}/admin/bot", {"run": run, "poll_interval_seconds": POLL, **bot})
        assert reply.status == 200, reply.body
        return run

    def events(self, run: str, name: str | None = None) -> list[dict[str, Any]]:
        return self.recorder.of(run, name)

    def wait_cycles(self, run: str, cycles: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Every event of ``run`` once the chain of cycle ``cycles`` has been published."""
        wait_for(
            lambda: any(e["cycle"] >= cycles + 1 for e in self.events(run, "BotMonitoringCycleStarted")),
            timeout=timeout,
            what=f"{run}: cycle {cycles + 1} started",
        )
        return self.events(run)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        reply = call(method, f"{self.bot.url}{path}", body)
        assert reply.status == 200, reply.body
        return reply.json()


@pytest.fixture(scope="module")
def trading(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trading]:
    launcher = Launcher(Path(tmp_path_factory.mktemp("bot")))
    recorder = None
    try:
        bus = launcher.nats()
        exchange = launcher.service("exchange", "exchange", "--seed", "42", nats_url=bus.url)
        wait_for(exchange.healthy, timeout=30, what="exchange /healthz")
        bot = launcher.service(
            "bot",
            "bot",
            *("--seed", "42", "--exchange-url", exchange.url, "--poll-interval", str(POLL)),
            *("--admin-allow", "127.0.0.1/32"),
            nats_url=bus.url,
        )
        wait_for(bot.healthy, timeout=30, what=f"bot /healthz (log: {bot.log_path})")
        recorder = Recorder(bus.url)
        yield Trading(exchange, bot, recorder)
    finally:
        if recorder is not None:
            recorder.close()
        launcher.close()


@pytest.fixture
def bot(trading: Trading) -> Iterator[Trading]:
    try:
        yield trading
    finally:
        for proc in (trading.bot, trading.exchange):
            call("DELETE", f"{proc.url}/admin/faults")
        call("DELETE", f"{trading.bot.url}/admin/events")


def _crc(data: dict[str, Any]) -> str:
    return f"{zlib.crc32(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)):08x}"


def test_bot_cycles_arrive_in_order_with_valid_checksums_and_seq_per_name(bot: Trading) -> None:
    run = bot.start()
    events = bot.wait_cycles(run, 25)
    first = [e["event"] for e in events if e["cycle"] == 2]
    assert first == ["BotMonitoringCycleStarted", "MarketPriceFetched", "IndicatorsCalculated"], first
    assert all(e["checksum"] == _crc(e["data"]) for e in events)
    for name in {e["event"] for e in events}:
        seqs = [e["seq"] for e in events if e["event"] == name]
        assert seqs == list(range(1, len(seqs) + 1)), f"{name}: {seqs}"
    fetched = bot.events(run, "MarketPriceFetched")
    assert [e["data"]["candle"] for e in fetched[:25]] == list(range(1, 26)), "one candle per cycle, from 1"
    assert [e["cycle"] for e in fetched[:25]] == list(range(1, 26))
    bought = bot.events(run, "PositionPurchased")
    assert bought and bought[0]["data"]["cost"] == pytest.approx(2000.0), "a warm-up buy of one pool"
    buy_cycle = bought[0]["cycle"]
    chain = [e["event"] for e in events if e["cycle"] == buy_cycle]
    assert chain[:5] == [
        "BotMonitoringCycleStarted",
        "MarketPriceFetched",
        "IndicatorsCalculated",
        "BuyConditionMet",
        "PositionPurchased",
    ]
    assert not [e for e in bot.events(run, "PositionSold") if e["cycle"] <= 30 and e["data"]["pnl"] < 0]


def test_put_admin_bot_resets_the_run(bot: Trading) -> None:
    old = bot.start(scenario="bull_run")
    bot.wait_cycles(old, 12)
    run = bot.start(scenario="bull_run", initial_capital=5000, pool_count=2, strategy="panic")
    state = bot.admin("GET", "/admin/bot")
    assert (state["run"], state["strategy"], state["pool_count"], state["initial_capital"]) == (run, "panic", 2, 5000.0)
    assert state["cycle"] <= 3 and state["running"]
    bot.wait_cycles(run, 12)
    started = bot.events(run, "BotMonitoringCycleStarted")
    assert started[0]["seq"] == 1 and started[0]["cycle"] == 1
    assert started[0]["data"] == {"capital": 5000.0, "equity": 5000.0, "open_positions": 0}
    bought = bot.events(run, "PositionPurchased")
    assert bought and bought[0]["data"]["cost"] == pytest.approx(2500.0), "a pool is half of 5000"
    assert metric(bot.bot.url, "bot_strategy_info", strategy="panic") == 1.0
    assert metric(bot.bot.url, "bot_pools") == 2.0
    refused = call("PUT", f"{bot.bot.url}/admin/bot", {"strategy": "yolo"})
    assert refused.status == 400 and "known: trend, panic" in refused.json()["error"]
    assert bot.admin("GET", "/admin/bot")["run"] == run, "a refused body changes nothing"


def test_a_dropped_buy_condition_is_never_executed(bot: Trading) -> None:
    control = bot.start(scenario="bull_run")
    bot.wait_cycles(control, 20)
    assert bot.events(control, "PositionPurchased"), "without chaos the bull run buys"
    bot.admin("PUT", "/admin/events", {"nobuy": {"type": "drop_event", "event": "BuyConditionMet", "probability": 1}})
    dropped = metric(bot.bot.url, "bot_event_chaos_total", action="dropped")
    run = bot.start(scenario="bull_run")
    bot.wait_cycles(run, 20)
    assert bot.events(run, "BuyConditionMet") == [] and bot.events(run, "PositionPurchased") == []
    stats = bot.admin("GET", "/admin/events")["stats"]
    assert stats["events_dropped"] >= 1 and stats["by_rule"]["nobuy"]["events_dropped"] == stats["events_dropped"]
    assert metric(bot.bot.url, "bot_event_chaos_total", action="dropped") >= dropped + stats["events_dropped"]
    assert bot.admin("GET", "/admin/bot")["open_positions"] == 0


def test_a_modified_event_is_rejected_by_its_checksum(bot: Trading) -> None:
    corrupt = metric(bot.bot.url, "bot_events_corrupt_total", event="MarketPriceFetched")
    rule = {"type": "modify_event", "event": "MarketPriceFetched", "field": "price", "multiplier": 1.5}
    bot.admin("PUT", "/admin/events", {"pump": rule})
    run = bot.start()
    bot.wait_cycles(run, 5)
    fetched = bot.events(run, "MarketPriceFetched")
    assert fetched and all(e["checksum"] != _crc(e["data"]) for e in fetched), "the checksum is the original's"
    assert bot.events(run, "IndicatorsCalculated") == [], "the indicators stage rejected every one"
    wait_for(
        lambda: metric(bot.bot.url, "bot_events_corrupt_total", event="MarketPriceFetched") >= corrupt + 5,
        timeout=5,
        what="bot_events_corrupt_total{event=MarketPriceFetched} counting the modified events",
    )
    assert bot.admin("GET", "/admin/events")["stats"]["events_modified"] >= 5


def test_a_gap_in_a_sequence_counts_missing_and_a_delay_is_late_not_lost(bot: Trading) -> None:
    url = bot.bot.url
    missing = metric(url, "bot_events_missing_total", event="MarketPriceFetched")
    late = metric(url, "bot_events_missing_total", event="IndicatorsCalculated")
    bot.admin(
        "PUT",
        "/admin/events",
        {
            "gap": {"type": "drop_event", "event": "MarketPriceFetched", "at_cycle": 3, "duration_cycles": 2},
            "slow": {"type": "delay_event", "event": "IndicatorsCalculated", "delay_ms": 350, "at_cycle": 8},
        },
    )
    run = bot.start()
    events = bot.wait_cycles(run, 12)
    assert sorted(e["cycle"] for e in bot.events(run, "MarketPriceFetched"))[:4] == [1, 2, 5, 6]
    order = [(e["event"], e["cycle"]) for e in events]
    assert order.index(("IndicatorsCalculated", 8)) > order.index(("MarketPriceFetched", 9)), "sent late"
    wait_for(
        lambda: metric(url, "bot_events_missing_total", event="MarketPriceFetched") == missing + 2,
        timeout=10,
        what="the 2 dropped MarketPriceFetched counted missing after the grace (1 s)",
    )
    assert metric(url, "bot_events_missing_total", event="IndicatorsCalculated") == late, "late, not lost"
    stats = bot.admin("GET", "/admin/events")["stats"]
    assert (stats["events_delayed"], stats["total_delay_ms"], stats["events_dropped"]) == (1, 350.0, 2)


def test_an_injected_failure_replaces_the_fetch_of_its_cycle(bot: Trading) -> None:
    rule = {"type": "inject_failure", "event": "MarketPriceFetchFailed", "at_cycle": 3, "error_message": "Simulated"}
    bot.admin("PUT", "/admin/events", {"fail": rule})
    run = bot.start()
    bot.wait_cycles(run, 5)
    failed = bot.events(run, "MarketPriceFetchFailed")
    assert [(e["cycle"], e["data"]["error"], e["data"]["injected"]) for e in failed] == [(3, "Simulated", True)]
    assert failed[0]["data"]["consecutive_failures"] == 1
    fetched = bot.events(run, "MarketPriceFetched")
    assert [(e["cycle"], e["data"]["candle"]) for e in fetched[:4]] == [(1, 1), (2, 2), (4, 3), (5, 4)]
    assert bot.admin("GET", "/admin/events")["stats"]["failures_injected"] == 1


def test_delete_admin_events_stops_chaos(bot: Trading) -> None:
    bot.admin("PUT", "/admin/events", {"nobuy": {"type": "drop_event", "event": "BuyConditionMet"}})
    run = bot.start(scenario="bull_run")
    bot.wait_cycles(run, 10)
    assert bot.events(run, "PositionPurchased") == []
    cleared = bot.admin("DELETE", "/admin/events")
    assert cleared["rules"] == {} and cleared["stats"]["events_dropped"] >= 1, "the stats stay until a reset"
    wait_for(lambda: bot.events(run, "PositionPurchased"), timeout=10, what="a purchase once chaos is cleared")


def test_exchange_failures_count_consecutively_and_a_hang_stalls_the_cycles(bot: Trading) -> None:
    run = bot.start()
    bot.wait_cycles(run, 2)
    assert call("PUT", f"{bot.exchange.url}/admin/faults", {"error_rate": 1}).status == 200
    wait_for(
        lambda: [e["data"]["consecutive_failures"] for e in bot.events(run, "MarketPriceFetchFailed")][:3] == [1, 2, 3],
        timeout=10,
        what="three fetch failures in a row",
    )
    failure = bot.events(run, "MarketPriceFetchFailed")[0]["data"]
    assert not failure["injected"] and "503" in failure["error"]
    assert metric(bot.bot.url, "bot_consecutive_fetch_failures") >= 3
    call("DELETE", f"{bot.exchange.url}/admin/faults")
    wait_for(lambda: metric(bot.bot.url, "bot_consecutive_fetch_failures") == 0, timeout=10, what="recovered")
    assert call("PUT", f"{bot.bot.url}/admin/faults", {"hang": True}).status == 200
    cycle = bot.admin("GET", "/admin/bot")["cycle"]
    wait_for(
        lambda: metric(bot.bot.url, "bot_last_cycle_timestamp_seconds") < time.time() - 10 * POLL,
        timeout=10,
        what="no cycle for 10 poll intervals while hung",
    )
    assert bot.admin("GET", "/admin/bot")["cycle"] <= cycle + 1
    call("DELETE", f"{bot.bot.url}/admin/faults")
    wait_for(lambda: bot.admin("GET", "/admin/bot")["cycle"] > cycle + 2, timeout=10, what="cycles again")


def test_bot_admin_refuses_bad_rules_and_other_clients(bot: Trading) -> None:
    bad = call("PUT", f"{bot.bot.url}/admin/events", {"x": {"type": "drop_event", "event": "Nope"}})
    assert bad.status == 400 and "known: BotMonitoringCycleStarted" in bad.json()["error"]
    garbled = call("PATCH", f"{bot.bot.url}/admin/events", b"{nope")
    assert garbled.status == 400 and "not JSON" in garbled.json()["error"]
    assert bot.admin("GET", "/admin/events")["rules"] == {}
    assert call("GET", f"{bot.bot.url}/healthz").json()["nats"] == "ready"
    for path in ("/admin/bot", "/admin/events"):
        assert call("DELETE", f"{bot.bot.url}{path}", source="127.0.0.2").status == 403


def test_a_fetch_cancelled_as_its_answer_arrives_is_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's reset cancels its cycle loop; the cancellation must end a fetch whose answer arrives in the
    same loop iteration. Python 3.11's ``asyncio.wait_for`` returned the answer instead (the cancellation
    swallowed): the old cycle loop ran on beside the new run's, two loops on one cycle counter, and a stale
    cycle number stamped with the new run's id (the stream load benchmark's run waited for cycle 23,404 while
    the bot counted from 0)."""
    from obs_tests.demo import bot as bot_module  # noqa: PLC0415 - the module whose connection is replaced

    async def scenario() -> bool:
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        class Reader:
            async def read(self) -> bytes:
                return await answer

        class Writer:
            def write(self, data: bytes) -> None:
                pass

            async def drain(self) -> None:
                pass

            def close(self) -> None:
                pass

        async def open_connection(host: str, port: int) -> tuple[Reader, Writer]:
            return Reader(), Writer()

        monkeypatch.setattr(bot_module.asyncio, "open_connection", open_connection)
        task = asyncio.create_task(bot_module.fetch_candle("http://127.0.0.1:1", 5.0))
        for _ in range(5):  # until the fetch waits for its answer
            await asyncio.sleep(0)
        body = orjson.dumps({"pair": "BTC/USDT", "close": 1.0})
        answer.set_result(b"HTTP/1.0 200 OK\r\n\r\n" + body)
        task.cancel()  # the reset, in the same iteration as the answer
        with contextlib.suppress(asyncio.CancelledError, ValueError):
            await task
        return task.cancelled()

    assert asyncio.run(scenario()) is True


def test_no_asyncio_wait_for_in_the_project() -> None:
    """Python 3.11's ``asyncio.wait_for`` can swallow a cancellation (above); ``asyncio.timeout`` cannot."""
    root = Path(__file__).resolve().parents[2]
    found = [
        f"{path.relative_to(root)}:{n}"
        for directory in ("obs_tests", "load", "benchmarks")
        for path in sorted((root / directory).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "asyncio.wait_for(" in line
    ]
    assert found == [], f"use `async with asyncio.timeout(...)` instead of asyncio.wait_for at {found}"
