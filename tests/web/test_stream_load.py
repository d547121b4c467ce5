"""The stream under load, at a small size (benchmarks/web_stream_load.py runs the full size): the seq
audit and the resource summary on good and broken input, 20 clients with 30 reconnects and a 256 KB
message, every client leaving mid-run, and the page's server side killed under a run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.scenarios.model import Catalog
from obs_tests.web.app import create_app
from obs_tests.web.run_state import RunOptions
from obs_tests.web.runs import RunManager
from obs_tests.web.scenario_files import ScenarioFiles
from obs_tests.web.stream import Stream
from obs_tests.web.stream_load import StreamClient, ThreadedServer, audit, percentile

from .helpers import ROOT, Server

RUN = "20261203-150000-abcdef"
BOT = "stream-load-bot"
#: a bot run whose only assertion is that it ran (trading-regression-baseline also asserts no failed
#: price fetch, which a loaded machine can break — not what these tests are about)
BOT_YAML = """name: "Stream load bot"
description: "a bot polling on the bus, verbose: a steady stream of messages"
setup:
  exchange: {scenario: sideways, initial_price: 50000.0, pair: "BTC/USDT", seed: 3}
  bot: {initial_capital: 10000.0, pool_count: 5, poll_interval: 3}
steps:
  - wait_for_cycles: 60
  - assert:
      event_count: {BotMonitoringCycleStarted: {min: 60}}
"""


# -- the audit ----------------------------------------------------------------------------------------
def test_audit_passes_every_message_once_in_order_across_connections() -> None:
    # connection 1 saw 1..4, connection 2 resumed with since=4; numbers outside the range are ignored
    delivery = audit([0, 1, 2, 3, 4, 5, 6, 7, 8], 1, 7)
    assert delivery.ok and delivery.received == 7
    assert delivery.describe() == "7 of 7 messages (1..7)"


@pytest.mark.parametrize(
    ("seqs", "lost", "duplicated", "out_of_order", "said"),
    [
        pytest.param([1, 2, 4, 5], (3,), (), 0, "lost 1 (seq 3)", id="lost-on-reconnect"),
        pytest.param([1, 2, 3, 3, 4, 5], (), (3,), 0, "duplicated 1 (seq 3)", id="replayed-twice"),
        pytest.param([1, 3, 2, 4, 5], (), (), 1, "1 out of order", id="out-of-order"),
        pytest.param([1, 2, 3], (4, 5), (), 0, "lost 2 (seq 4, 5)", id="tail-missing"),
    ],
)
def test_audit_detects_lost_duplicated_and_reordered_messages(
    seqs: list[int], lost: tuple[int, ...], duplicated: tuple[int, ...], out_of_order: int, said: str
) -> None:
    delivery = audit(seqs, 1, 5)
    assert not delivery.ok
    assert (delivery.lost, delivery.duplicated, delivery.out_of_order) == (lost, duplicated, out_of_order)
    assert said in delivery.describe()


def test_percentile_nearest_rank() -> None:
    values = [i / 1000 for i in range(1, 101)]
    assert percentile(values, 0.5) == 0.051 and percentile(values, 0.99) == 0.1
    assert percentile([], 0.99) == float("inf")


# -- clients, reconnects, a large message, every client leaving --------------------------------------
@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[tuple[ThreadedServer, Stream]]:
    """The real app (no stack) served in a thread of the test process."""
    contract = load_contract(ROOT / "obs.yaml")
    (tmp_path / "scenarios").mkdir()
    stream = Stream()
    files = ScenarioFiles(tmp_path / "scenarios", Catalog.from_contract(contract))
    manager = RunManager(contract, files=files, report_dir=tmp_path / "reports", stream=stream)
    server = ThreadedServer(create_app(manager, start_stack=False)).start()
    try:
        yield server, stream
    finally:
        server.stop()


def _publish(stream: Stream, count: int, big_at: int = -1) -> None:
    """A run's worth of log lines from another thread, about 300 a second; one of 256 KB at ``big_at``."""
    pace = threading.Event()
    for i in range(count):
        text = "x" * (256 * 1024) if i == big_at else f"line {i}"
        stream.publish("log", {"level": "INFO", "message": text, "t": 0.0}, RUN)
        pace.wait(1 / 300)


def test_twenty_clients_thirty_reconnects_and_a_large_message_lose_nothing(
    app_server: tuple[ThreadedServer, Stream],
) -> None:
    server, stream = app_server
    clients = [StreamClient(server.url, "ws" if i % 2 == 0 else "sse", since=0).start() for i in range(18)]
    clients += [StreamClient(server.url, t, since=0, reconnect_every=20).start() for t in ("ws", "sse")]
    try:
        wait_for(lambda: Poll(all(c.hellos for c in clients), None), timeout=30, expected="20 clients connected")
        _publish(stream, 600, big_at=300)
        for client in clients:
            client.wait_for(600, timeout=60)
    finally:
        for client in clients:
            client.stop()
    for client in clients:
        assert audit(client.seqs, 1, 600).ok, client.describe()
        assert client.largest >= 256 * 1024 and not client.bad_hello and not client.stalls
    assert sum(c.connections - 1 for c in clients[-2:]) >= 30
    latencies = sorted(v for c in clients for v in c.latencies)
    assert len(latencies) > 18 * 500
    assert percentile(latencies, 0.99) < 1.0  # client and server share this process' GIL: the benchmark measures


def test_every_client_leaving_abruptly_mid_run_loses_nothing_on_resume(
    app_server: tuple[ThreadedServer, Stream],
) -> None:
    server, stream = app_server
    clients = [StreamClient(server.url, t, since=0).start() for t in ("ws", "sse", "ws", "sse")]
    publisher = threading.Thread(target=_publish, args=(stream, 600))
    wait_for(lambda: Poll(all(c.hellos for c in clients), None), timeout=30, expected="clients connected")
    publisher.start()
    wait_for(lambda: Poll(stream.seq >= 100, None), timeout=30, interval=0.02, expected="100 messages")
    for client in clients:
        client.stop(abrupt=True)
    publisher.join(timeout=60)
    assert stream.seq == 600  # the publisher went on while every client was gone
    resumed = [StreamClient(server.url, c.transport, since=c.last).start() for c in clients]
    try:
        for client in resumed:
            client.wait_for(600, timeout=30)
    finally:
        for client in resumed:
            client.stop()
    for old, new in zip(clients, resumed, strict=True):
        assert old.last < 600
        assert audit([*old.seqs, *new.seqs], 1, 600).ok


# -- the page's server side killed, under a real run ------------------------------------------------
@pytest.mark.stack
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_run_goes_on_and_passes_when_the_server_side_is_killed(tmp_path: Path) -> None:
    """The killed server abandons its connections (what a crash does): hence the warnings ignored."""
    contract = load_contract(ROOT / "obs.yaml")
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / f"{BOT}.yaml").write_text(BOT_YAML)
    stream = Stream()
    files = ScenarioFiles(scenarios, Catalog.from_contract(contract))
    manager = RunManager(contract, files=files, report_dir=tmp_path / "reports", stream=stream)
    server = ThreadedServer(create_app(manager)).start()
    clients: list[StreamClient] = []
    try:
        wait_for(lambda: Poll(manager.stack_info()["state"] == "ready", None), timeout=120, expected="stack ready")
        clients = [StreamClient(server.url, t, since=stream.seq).start() for t in ("ws", "sse")]
        start = stream.seq
        run = manager.start(BOT, RunOptions(verbose=True))
        wait_for(lambda: Poll(all(c.last >= start + 20 for c in clients), None), timeout=90, expected="20 messages")
        killed_at = stream.seq
        server.kill()
        doc = wait_for(
            lambda: Poll(manager.status(run.test_id)["status"] != "running", manager.status(run.test_id)),
            timeout=150,
            interval=0.25,
            expected="the run to finish",
        )
    finally:
        for client in clients:
            client.stop(abrupt=True)
        manager.close()
    assert doc["status"] == "passed", doc["error"]
    assert stream.seq > killed_at + 20  # it kept publishing after the server side died
    assert all(c.last <= killed_at + 5 for c in clients)  # and nobody received them: the server was gone


@pytest.mark.stack
@pytest.mark.slow
def test_a_server_run_passes_with_every_client_gone(server: Server, web_dir: Path) -> None:
    """The real ``obs-tests serve``: its WebSocket and SSE clients all drop mid-run; the run passes."""
    scenario = web_dir / "scenarios" / f"{BOT}.yaml"
    scenario.write_text(BOT_YAML)
    try:
        _every_client_gone(server)
    finally:
        scenario.unlink()  # the shared server's scenario list is what other tests expect


def _every_client_gone(server: Server) -> None:
    head = server.info()["stream"]["seq"]
    clients = [StreamClient(server.url, "ws" if i % 2 == 0 else "sse", since=head).start() for i in range(6)]
    wait_for(lambda: Poll(all(c.hellos for c in clients), None), timeout=30, expected="clients connected")
    test_id = server.run(BOT, verbose=True)
    wait_for(lambda: Poll(all(c.last >= head + 30 for c in clients), None), timeout=90, expected="30 messages")
    for client in clients:
        client.stop(abrupt=True)
    doc = server.wait_finished(test_id)
    assert doc["status"] == "passed", doc["log"][-5:]
    final = server.info()["stream"]["seq"]
    back = StreamClient(server.url, "ws", since=clients[0].last).start()
    try:
        back.wait_for(final, timeout=30)
    finally:
        back.stop()
    assert audit([*clients[0].seqs, *back.seqs], head + 1, final).ok
