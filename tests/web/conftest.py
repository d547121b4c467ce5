"""The dashboard's tests share one ``obs-tests serve`` (with its embedded stack) per test package run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import BOT_EXAMPLES, Server, scenario_dir


@pytest.fixture(scope="package")
def web_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard")


@pytest.fixture(scope="package")
def server(web_dir: Path) -> Iterator[Server]:
    """The real dashboard on a free loopback port, its stack ready: scenarios exchange-down (passes in
    ~8 s), every shipped example of the trading-bot language (bot-*: a bot on the bus, event chaos),
    long-pause (runs until stopped) and broken (invalid at line 6)."""
    real = ("exchange-down", *BOT_EXAMPLES)
    scenarios = scenario_dir(web_dir / "scenarios", real=real, fixtures=("long-pause", "broken"))
    process = Server(scenarios, web_dir / "reports")
    try:
        process.wait_stack("ready")
        yield process
    finally:
        try:
            code = process.stop()
        except BaseException:
            process.kill()
            raise
        assert code == 143, process.output[-2000:]  # SIGTERM: 128 + 15
        assert "obs-tests dashboard stopped" in process.output


@pytest.fixture
def idle(server: Server) -> Server:
    """The shared server with no run going (a previous test's run finished or stopped)."""
    active = server.info()["active_run"]
    if active is not None:
        server.post(f"/api/stop/{active}")
    return server
