"""A Prometheus exporter for nats-server: its monitoring endpoints as metrics, fetched on every scrape.

On each ``/metrics`` request the exporter reads ``/varz`` and ``/jsz?streams=true&consumers=true`` from
``--nats-monitor-url`` with a short timeout (a paused NATS gives a fast ``nats_up 0``, not a scrape
timeout) and exposes, through a custom collector:

``nats_up``, ``nats_server_connections``, ``nats_server_start_time_seconds``,
``nats_server_{in,out}_{msgs,bytes}_total``,
``nats_server_slow_consumers_total``, ``nats_jetstream_stream_messages{stream}``,
``nats_jetstream_stream_last_sequence{stream}``,
``nats_jetstream_consumer_num_pending{stream,consumer}``,
``nats_jetstream_consumer_num_ack_pending{stream,consumer}``,
``nats_jetstream_consumer_num_redelivered{stream,consumer}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from obs_tests.demo.runtime import CommonOptions, Service

__all__ = ["MonitorSnapshot", "NatsExporter", "NatsMonitorCollector", "fetch_json"]


async def fetch_json(url: str, timeout: float) -> Any:
    """GET ``url`` (plain HTTP) and decode its JSON body.

    Raises ``OSError``, ``ValueError`` (not 200, not JSON) or ``TimeoutError``.
    """

    async def get() -> Any:
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: application/json\r\n\r\n".encode())
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].split()
        if len(status_line) < 2 or status_line[1] != b"200":
            raise ValueError(f"{url} answered {head[:80]!r}")
        return orjson.loads(body)

    async with asyncio.timeout(timeout):  # not wait_for: Python 3.11's can swallow a cancellation
        return await get()


@dataclass(frozen=True)
class MonitorSnapshot:
    """What one scrape read from the NATS monitoring endpoints (None = unreachable)."""

    varz: dict[str, Any] | None = None
    jsz: dict[str, Any] | None = None


_SERVER_COUNTERS = (
    ("nats_server_in_msgs_total", "in_msgs", "Messages received by the server."),
    ("nats_server_out_msgs_total", "out_msgs", "Messages sent by the server."),
    ("nats_server_in_bytes_total", "in_bytes", "Bytes received by the server."),
    ("nats_server_out_bytes_total", "out_bytes", "Bytes sent by the server."),
    ("nats_server_slow_consumers_total", "slow_consumers", "Slow consumers detected by the server."),
)
_CONSUMER_GAUGES = (
    (
        "nats_jetstream_consumer_num_pending",
        "num_pending",
        "Stream messages not yet delivered to the consumer.",
    ),
    ("nats_jetstream_consumer_num_ack_pending", "num_ack_pending", "Messages delivered but not yet acked."),
    ("nats_jetstream_consumer_num_redelivered", "num_redelivered", "Messages redelivered to the consumer."),
)


def _unix_time(text: object) -> float | None:
    """``/varz`` ``start`` (RFC 3339, e.g. ``2026-11-29T14:00:00.123456789Z``; digits past the
    microsecond are dropped) as unix seconds."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class NatsMonitorCollector(Collector):
    """Renders the last :class:`MonitorSnapshot` (set by the exporter just before each scrape)."""

    def __init__(self) -> None:
        self.snapshot = MonitorSnapshot()

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the series depend on what NATS reports."""
        return []

    def collect(self) -> Iterable[Metric]:
        """The metrics of :attr:`snapshot`."""
        snapshot = self.snapshot
        varz = snapshot.varz
        yield GaugeMetricFamily("nats_up", "1 when the NATS monitoring endpoint answered.", value=1 if varz else 0)
        if varz is None:
            return
        yield GaugeMetricFamily(
            "nats_server_connections", "Client connections open.", value=float(varz.get("connections", 0))
        )
        started = _unix_time(varz.get("start"))
        if started is not None:
            yield GaugeMetricFamily(
                "nats_server_start_time_seconds",
                "Start time of the NATS server since unix epoch in seconds (changes when NATS restarts).",
                value=started,
            )
        for name, key, documentation in _SERVER_COUNTERS:
            yield CounterMetricFamily(name, documentation, value=float(varz.get(key, 0)))
        if snapshot.jsz is None:
            return
        messages = GaugeMetricFamily(
            "nats_jetstream_stream_messages", "Messages stored in the stream.", labels=["stream"]
        )
        last_seq = GaugeMetricFamily(
            "nats_jetstream_stream_last_sequence",
            "Sequence of the last message stored (counts every accepted publish).",
            labels=["stream"],
        )
        consumers = {
            key: GaugeMetricFamily(name, documentation, labels=["stream", "consumer"])
            for name, key, documentation in _CONSUMER_GAUGES
        }
        for account in snapshot.jsz.get("account_details") or []:
            for stream in account.get("stream_detail") or []:
                stream_name = str(stream.get("name", ""))
                state = stream.get("state") or {}
                messages.add_metric([stream_name], float(state.get("messages", 0)))
                last_seq.add_metric([stream_name], float(state.get("last_seq", 0)))
                for consumer in stream.get("consumer_detail") or []:
                    labels = [stream_name, str(consumer.get("name", ""))]
                    for key, family in consumers.items():
                        family.add_metric(labels, float(consumer.get(key, 0)))
        yield messages
        yield last_seq
        yield from consumers.values()


class NatsExporter(Service):
    """The NATS exporter service (``python -m obs_tests.demo nats-exporter``)."""

    component = "nats-exporter"

    def __init__(
        self, options: CommonOptions, *, monitor_url: str = "http://127.0.0.1:8222", timeout: float = 0.5
    ) -> None:
        super().__init__(options)
        self.monitor_url = monitor_url.rstrip("/")
        self.timeout = timeout
        self.collector = NatsMonitorCollector()
        self.exposition.register(self.collector)
        self._reachable = False

    async def read_monitor(self) -> MonitorSnapshot:
        """Query ``/varz`` and ``/jsz`` concurrently; unreachable parts are None."""
        results: tuple[Any, Any] = await asyncio.gather(
            fetch_json(f"{self.monitor_url}/varz", self.timeout),
            fetch_json(f"{self.monitor_url}/jsz?streams=true&consumers=true", self.timeout),
            return_exceptions=True,
        )
        varz, jsz = results
        snapshot = MonitorSnapshot(varz if isinstance(varz, dict) else None, jsz if isinstance(jsz, dict) else None)
        reachable = snapshot.varz is not None
        if reachable != self._reachable:
            if reachable:
                self.log.info("NATS monitoring reachable", url=self.monitor_url)
            else:
                self.log.warning("NATS monitoring unreachable", url=self.monitor_url, error=repr(varz))
        self._reachable = reachable
        return snapshot

    async def before_scrape(self) -> None:
        """Refresh the snapshot the collector renders."""
        self.collector.snapshot = await self.read_monitor()

    async def start(self) -> None:
        """Probe the monitoring endpoint once in the background so ``/healthz`` is right early."""
        await super().start()
        self.spawn(self._probe(), "probe")

    async def _probe(self) -> None:
        while True:
            await self.read_monitor()
            await asyncio.sleep(1.0)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when the NATS monitoring endpoint answered the last probe."""
        return self._reachable, {"nats_monitor": "reachable" if self._reachable else "unreachable"}
