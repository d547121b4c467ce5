from __future__ import annotations

import asyncio
import signal
from typing import Any

from obs_tests.demo.bus import NatsLink, SeenSequences
from obs_tests.demo.fault_modes import FaultState
from obs_tests.demo.logs import JsonLogger
from tests.demo.conftest import Launcher, metric, post_signal, signal_body, unique_id, wait_for


def test_bus_seen_sequences_is_bounded() -> None:
    seen = SeenSequences(capacity=3)
    for key in range(5):
        seen.add((key, "t"))
    assert len(seen) == 3
    assert (0, "t") not in seen
    assert (4, "t") in seen
    seen.add((4, "t"))
    assert len(seen) == 3


class _Connection:
    """What NatsLink reads of a nats-py client: whether it is connected."""

    def __init__(self) -> None:
        self.is_connected = False


def test_wait_ready_waits_for_the_connection_and_lets_other_tasks_run() -> None:
    """Setup marked done while the connection just dropped (its disconnect callback still queued):
    wait_ready must not return — nor spin without yielding, which froze agents after a NATS restart."""

    async def scenario() -> list[str]:
        link = NatsLink("nats://127.0.0.1:1", name="t", log=JsonLogger("t"), faults=FaultState())
        connection: Any = _Connection()
        link.nc = connection
        link._ready.set()
        events: list[str] = []

        async def reconnect() -> None:
            await asyncio.sleep(0.2)  # only runs if wait_ready yields
            events.append("reconnected")
            connection.is_connected = True

        task = asyncio.create_task(reconnect())
        await asyncio.wait_for(link.wait_ready(), timeout=5)
        events.append("ready")
        await task
        return events

    assert asyncio.run(scenario()) == ["reconnected", "ready"]


def test_bus_pipeline_recovers_after_nats_restart_without_its_memory_streams(private: Launcher) -> None:
    nats = private.nats()
    redis = private.redis()
    gateway = private.service("gateway", "gateway", "--publish-timeout", "0.5", nats_url=nats.url)
    agents = [
        private.service(f"agent-{a}", "agent", "--agent-type", a, nats_url=nats.url) for a in ("risk", "sentiment")
    ]
    orchestrator = private.service(
        "orchestrator", "orchestrator", "--redis-url", f"redis://127.0.0.1:{redis.port}/0", nats_url=nats.url
    )
    for proc in (gateway, *agents, orchestrator):
        wait_for(proc.healthy, timeout=30, what=f"{proc.name} healthy")

    def completed() -> float:
        return metric(orchestrator.url, "orchestrator_workflows_total", status="completed")

    assert post_signal(gateway, signal_body("hold"), unique_id("before")).status == 200
    wait_for(lambda: completed() == 1, timeout=10, what="first workflow completed")

    nats.proc.signal(signal.SIGKILL)
    assert nats.proc.popen is not None
    nats.proc.popen.wait(5)
    wait_for(lambda: not orchestrator.healthy(), timeout=10, what="orchestrator sees NATS gone")
    private.start("nats-again", nats.proc.argv, nats.proc.port)
    for proc in (gateway, *agents, orchestrator):
        wait_for(proc.healthy, timeout=20, what=f"{proc.name} healthy after the NATS restart")

    # stream sequences start at 1 again: the new message must not be mistaken for a redelivery
    correlation_id = unique_id("after")
    wait_for(
        lambda: post_signal(gateway, signal_body("hold"), correlation_id).status == 200,
        timeout=10,
        what="gateway publishing again",
    )
    wait_for(lambda: completed() == 2, timeout=10, what="workflow after the restart completed")
    for agent in agents:
        assert correlation_id in agent.log()
