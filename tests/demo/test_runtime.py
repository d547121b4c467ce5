from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.demo.conftest import (
    Launcher,
    Proc,
    Stack,
    call,
    free_port,
    metric,
    post_signal,
    sample,
    signal_body,
    unique_id,
    wait_for,
)


def test_runtime_every_service_exposition_passes_promtool(live: Stack) -> None:
    for name, proc in live.services.items():
        text = call("GET", f"{proc.url}/metrics").body
        assert b"process_start_time_seconds" in text, name
        assert b"python_gc_objects_collected_total" in text, name
        result = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, timeout=30, check=False
        )
        assert result.returncode == 0, f"{name}: {result.stdout.decode()} {result.stderr.decode()}"
        assert result.stdout.strip() == b"", f"{name}: promtool lint findings: {result.stdout.decode()}"


def test_runtime_admin_faults_put_patch_get_delete(live: Stack) -> None:
    url = f"{live.sink.url}/admin/faults"
    assert call("GET", url).json() == {}
    assert call("PUT", url, {"error_rate": 0.5, "seed": 3}).json() == {"error_rate": 0.5, "seed": 3}
    assert call("PATCH", url, {"metrics_delay_ms": 10}).json() == {"error_rate": 0.5, "metrics_delay_ms": 10, "seed": 3}
    assert call("PATCH", url, {"error_rate": None}).json() == {"metrics_delay_ms": 10, "seed": 3}
    assert call("PUT", url, {"hang": False}).json() == {}
    for bad in (b"{", b"[]", {"error_rate": 7}, {"latency": {"distribution": "fixed"}}, {"typo": 1}):
        reply = call("PUT", url, bad)
        assert reply.status == 400, bad
        assert reply.json()["error"]
    assert call("PATCH", url, {"error_rate": "x"}).status == 400
    assert call("DELETE", url).json() == {}
    assert call("POST", url, {}).status == 405


def test_runtime_admin_forbidden_outside_allow_list(private: Launcher) -> None:
    closed = f"nats://127.0.0.1:{free_port()}"
    gateway = private.service("gateway", "gateway", "--admin-allow", "10.0.0.0/8,fd00::/8", nats_url=closed)
    exchange = private.service("exchange", "exchange", "--admin-allow", "192.168.0.0/16", nats_url=closed)
    for proc in (gateway, exchange):
        wait_for(lambda proc=proc: call("GET", f"{proc.url}/healthz").status in (200, 503), timeout=20, what=proc.name)
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        reply = call(method, f"{gateway.url}/admin/faults", {"error_rate": 1})
        assert reply.status == 403
        assert "not allowed" in reply.json()["error"]
    assert call("GET", f"{exchange.url}/admin/scenario").status == 403
    assert call("PUT", f"{exchange.url}/admin/scenario", {"scenario": "bull_run"}).status == 403
    assert call("GET", f"{exchange.url}/metrics").status == 200, "only /admin is guarded"
    health = call("GET", f"{gateway.url}/healthz")
    assert health.status == 503
    assert health.json() == {"status": "degraded", "component": "gateway", "nats": "disconnected"}


def test_runtime_bad_admin_allow_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "obs_tests.demo", "sink", "--port", "1", "--admin-allow", "not-a-cidr"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert b"--admin-allow" in result.stderr


def test_runtime_metrics_delay_makes_scrapes_slow(live: Stack) -> None:
    url = live.exporter.url
    assert call("PUT", f"{url}/admin/faults", {"metrics_delay_ms": 600}).status == 200
    assert call("GET", f"{url}/metrics").elapsed >= 0.6
    with pytest.raises(TimeoutError):
        call("GET", f"{url}/metrics", timeout=0.2)
    assert call("DELETE", f"{url}/admin/faults").status == 200
    assert call("GET", f"{url}/metrics").elapsed < 0.6


def test_gateway_error_rate_answers_500_counted_as_error(live: Stack) -> None:
    url = live.gateway.url
    before = metric(url, "gateway_webhooks_total", source="tradingview", status="error")
    assert call("PUT", f"{url}/admin/faults", {"error_rate": 1}).status == 200
    reply = post_signal(live.gateway, signal_body())
    assert reply.status == 500
    assert reply.json()["status"] == "error"
    assert metric(url, "gateway_webhooks_total", source="tradingview", status="error") == before + 1
    assert call("DELETE", f"{url}/admin/faults").status == 200
    assert post_signal(live.gateway, signal_body()).status == 200
    live.settle()


def test_gateway_latency_fault_delays_requests(live: Stack) -> None:
    url = live.gateway.url
    fault = {"latency": {"distribution": "uniform", "min_ms": 250, "max_ms": 300}}
    assert call("PUT", f"{url}/admin/faults", fault).status == 200
    count = metric(url, "gateway_processing_duration_seconds_bucket", le="0.25")
    reply = post_signal(live.gateway, signal_body("hold"))
    assert reply.status == 200
    assert reply.elapsed >= 0.25
    assert metric(url, "gateway_processing_duration_seconds_bucket", le="0.25") == count
    assert call("DELETE", f"{url}/admin/faults").status == 200
    assert post_signal(live.gateway, signal_body("hold")).elapsed < 0.25
    live.settle()


def test_gateway_hang_blocks_requests_until_cleared(live: Stack) -> None:
    url = live.gateway.url
    assert call("PUT", f"{url}/admin/faults", {"hang": True}).status == 200
    replies: list[int] = []
    thread = threading.Thread(target=lambda: replies.append(post_signal(live.gateway, signal_body("hold")).status))
    thread.start()
    wait_for(lambda: metric(url, "gateway_inflight_requests") == 1, timeout=5, what="one request in flight")
    thread.join(0.3)
    assert thread.is_alive(), "the request must block while hung"
    assert call("DELETE", f"{url}/admin/faults").status == 200
    thread.join(5)
    assert replies == [200]
    assert metric(url, "gateway_inflight_requests") == 0
    live.settle()


def test_gateway_publish_failure_rate_answers_503(live: Stack) -> None:
    url = live.gateway.url
    before = metric(url, "gateway_nats_publish_failures_total")
    last_seq = live.nats.stream_last_seq("SIGNALS")
    assert call("PUT", f"{url}/admin/faults", {"publish_failure_rate": 1}).status == 200
    for _ in range(2):
        assert post_signal(live.gateway, signal_body()).status == 503
    assert metric(url, "gateway_nats_publish_failures_total") == before + 2
    assert live.nats.stream_last_seq("SIGNALS") == last_seq
    assert call("DELETE", f"{url}/admin/faults").status == 200
    assert post_signal(live.gateway, signal_body()).status == 200
    live.settle()


def test_gateway_dropped_publishes_are_accepted_but_never_reach_nats(live: Stack) -> None:
    live.settle()
    url = live.gateway.url
    accepted = metric(url, "gateway_webhooks_total", source="tradingview", status="accepted")
    failures = sample(url, "gateway_nats_publish_failures_total")
    risk = metric(live.agent("risk").url, "agent_messages_processed_total", agent_type="risk")
    last_seq = live.nats.stream_last_seq("SIGNALS")
    assert call("PUT", f"{url}/admin/faults", {"drop_publishes": 1}).status == 200
    for _ in range(3):
        assert post_signal(live.gateway, signal_body("hold"), unique_id("drop")).status == 200
    assert metric(url, "gateway_webhooks_total", source="tradingview", status="accepted") == accepted + 3
    assert sample(url, "gateway_nats_publish_failures_total") == failures, "a dropped publish is not a failure"
    assert live.nats.stream_last_seq("SIGNALS") == last_seq, "nothing reached JetStream"
    assert call("DELETE", f"{url}/admin/faults").status == 200
    assert post_signal(live.gateway, signal_body("hold")).status == 200
    wait_for(
        lambda: metric(live.agent("risk").url, "agent_messages_processed_total", agent_type="risk") == risk + 1,
        timeout=10,
        what="only the undropped signal processed",
    )
    live.settle()


def _sigterm_seconds(proc: Proc) -> float:
    assert proc.popen is not None
    started = time.monotonic()
    proc.signal(signal.SIGTERM)
    proc.popen.wait(5)
    elapsed = time.monotonic() - started
    assert proc.popen.returncode == 0, f"{proc.name} exit code {proc.popen.returncode}: {proc.log()[-2000:]}"
    return elapsed


def test_runtime_services_exit_within_1s_of_sigterm(private: Launcher, stack: Stack) -> None:
    nats = private.nats()
    redis_url = f"redis://127.0.0.1:{stack.redis.port}/0"
    procs = [
        private.service("gateway", "gateway", nats_url=nats.url),
        private.service("agent", "agent", "--agent-type", "risk", nats_url=nats.url),
        private.service("orchestrator", "orchestrator", "--redis-url", redis_url, nats_url=nats.url),
        private.service("exchange", "exchange", nats_url=nats.url),
        private.service("sink", "sink"),
        private.service("nats-exporter", "nats-exporter", "--nats-monitor-url", nats.monitor_url),
    ]
    for proc in procs:
        wait_for(proc.healthy, timeout=30, what=f"{proc.name} healthy")
    gateway = procs[0]
    assert call("PUT", f"{gateway.url}/admin/faults", {"hang": True}).status == 200
    blocked = threading.Thread(target=lambda: call("POST", f"{gateway.url}/webhook/tradingview", b"{}", timeout=5))
    blocked.start()
    wait_for(lambda: metric(gateway.url, "gateway_inflight_requests") == 1, timeout=5, what="a hung request")
    timings = {proc.name: _sigterm_seconds(proc) for proc in procs}
    blocked.join(5)
    assert all(seconds < 1.0 for seconds in timings.values()), timings
    assert '"msg":"stopped"' in procs[1].log()


def test_runtime_sigint_also_exits_cleanly(private: Launcher) -> None:
    sink = private.service("sink", "sink")
    wait_for(sink.healthy, timeout=20, what="sink healthy")
    assert sink.popen is not None
    started = time.monotonic()
    sink.signal(signal.SIGINT)
    assert sink.popen.wait(5) == 0
    assert time.monotonic() - started < 1.0
