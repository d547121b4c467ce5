from __future__ import annotations

import subprocess
import time
from typing import Any

from obs_tests.demo.nats_exporter import MonitorSnapshot, NatsMonitorCollector
from obs_tests.demo.service_metrics import Exposition
from tests.demo.conftest import Stack, metric, scrape

JSZ: dict[str, Any] = {
    "account_details": [
        {
            "stream_detail": [
                {
                    "name": "SIGNALS",
                    "state": {"messages": 7, "last_seq": 9},
                    "consumer_detail": [
                        {"name": "agent-risk", "num_pending": 3, "num_ack_pending": 2, "num_redelivered": 1}
                    ],
                }
            ]
        }
    ]
}
VARZ = {
    "start": "2026-11-29T14:00:00.250000001Z",
    "connections": 4,
    "in_msgs": 10,
    "out_msgs": 11,
    "in_bytes": 100,
    "out_bytes": 110,
    "slow_consumers": 0,
}


def _render(snapshot: MonitorSnapshot) -> str:
    exposition = Exposition()
    collector = NatsMonitorCollector()
    collector.snapshot = snapshot
    exposition.register(collector)
    return exposition.render().decode()


def test_nats_exporter_collector_renders_snapshot() -> None:
    text = _render(MonitorSnapshot(VARZ, JSZ))
    assert "nats_up 1.0" in text
    assert "nats_server_connections 4.0" in text
    assert "nats_server_in_msgs_total 10.0" in text
    assert "nats_server_start_time_seconds 1.79596080025e+09" in text
    assert 'nats_jetstream_stream_messages{stream="SIGNALS"} 7.0' in text
    assert 'nats_jetstream_stream_last_sequence{stream="SIGNALS"} 9.0' in text
    assert 'nats_jetstream_consumer_num_pending{consumer="agent-risk",stream="SIGNALS"} 3.0' in text
    assert 'nats_jetstream_consumer_num_ack_pending{consumer="agent-risk",stream="SIGNALS"} 2.0' in text
    assert 'nats_jetstream_consumer_num_redelivered{consumer="agent-risk",stream="SIGNALS"} 1.0' in text
    result = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, check=False)
    assert result.returncode == 0
    assert result.stdout == b""


def test_nats_exporter_collector_down() -> None:
    text = _render(MonitorSnapshot())
    assert "nats_up 0.0" in text
    assert "nats_server_connections" not in text


def test_nats_exporter_live_reports_streams_and_consumers(live: Stack) -> None:
    samples = scrape(live.exporter.url)
    assert samples[("nats_up", frozenset())] == 1.0
    assert samples[("nats_server_connections", frozenset())] >= 7
    for consumer in ("agent-momentum", "agent-risk", "agent-sentiment", "agent-correlation"):
        key = ("nats_jetstream_consumer_num_pending", frozenset({("stream", "SIGNALS"), ("consumer", consumer)}))
        assert key in samples
    assert ("nats_jetstream_stream_messages", frozenset({("stream", "DECISIONS")})) in samples
    assert metric(live.exporter.url, "nats_server_in_msgs_total") > 0
    started = metric(live.exporter.url, "nats_server_start_time_seconds")
    assert time.time() - 600 < started <= time.time()
