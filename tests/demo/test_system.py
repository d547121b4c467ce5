"""The demo as a system under test: every service's command line parses with the services' own parser,
compose commands are checked by it, a gateway that does not answer as the demo's does fails the warm-up
with the counts it saw, and the panel traffic waits for a drain that NATS showed after its last signal."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from obs_tests.demo import system
from obs_tests.demo.market import SCENARIOS
from obs_tests.demo.system import MOCK_SERVICES, SYSTEM
from obs_tests.errors import StackStartError
from obs_tests.stack.system_under_test import ServicePlan, WorkloadContext
from tests.demo.scripted import Scrape, ScriptedPrometheus
from tests.loopback import serving


def _plan(tmp_path: Path) -> ServicePlan:
    ports: dict[str, dict[str, int]] = {}
    for i, spec in enumerate(SYSTEM.services):
        ports[spec.name] = {name: 20000 + 10 * i + j for j, name in enumerate(spec.ports)}
    return ServicePlan(tmp_path, ports, python="python3", seed=7)


def test_every_python_service_command_parses_with_the_services_own_parser(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    python_services = [s for s in SYSTEM.services if s.argv(plan)[:3] == ["python3", "-m", SYSTEM.module]]
    assert {s.name for s in python_services} >= {*MOCK_SERVICES, "webhook-sink", "nats-exporter"}
    assert SYSTEM.check_command is not None
    for spec in python_services:
        argv = spec.argv(plan)
        assert SYSTEM.check_command(argv[3:]) is None, argv
        assert argv[argv.index("--port") + 1] == str(plan.port(spec.name))
        assert argv[argv.index("--seed") + 1] == "7"


def test_a_wrong_command_line_is_named() -> None:
    assert SYSTEM.check_command is not None
    said = SYSTEM.check_command(["agent", "--port", "1", "--agent-type", "rsk"])
    assert said is not None and "invalid choice: 'rsk'" in said


def test_nats_and_redis_keep_their_data_in_the_stack_workdir(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert str(tmp_path / "data" / "nats") in SYSTEM.service("nats").argv(plan)
    redis = SYSTEM.service("redis").argv(plan)
    assert redis[redis.index("--dir") + 1] == str(tmp_path / "data")
    assert SYSTEM.service("redis").scheme == "redis" and not SYSTEM.service("redis").metrics


def test_markets_and_workloads_are_the_demos() -> None:
    assert SYSTEM.markets == tuple(sorted(SCENARIOS))
    assert set(SYSTEM.workloads) == {
        "exact_accounting",
        "latency_quantiles",
        "signal_flow",
        "load_accounting",
        "load_latency",
        "panel_traffic",
        "high_load_incident",
    }


class _AcceptsEverything(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def lenient_gateway() -> Iterator[str]:
    """A 'gateway' that accepts malformed signals too."""
    with serving(_AcceptsEverything) as url:
        yield url


def test_a_gateway_that_accepts_a_malformed_signal_fails_the_warm_up(lenient_gateway: str) -> None:
    assert SYSTEM.warm_up is not None
    with pytest.raises(StackStartError, match=r"accepted 4/3 valid and rejected 0/1 invalid"):
        SYSTEM.warm_up({"gateway": lenient_gateway}, 1)


def test_panel_traffic_waits_for_a_drain_scraped_after_the_last_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    # the workload starts at 100.05; NATS is scraped at 100.1, before the first signal reached it (nothing
    # pending), at 101.1 while the agents and the orchestrator still work (40 in flight) and at 102.1 drained.
    # The send takes 0.9 s.
    prom = ScriptedPrometheus([Scrape(100.1), Scrape(101.1, backlog=40.0), Scrape(102.1)])

    def send(url: str, bodies: list[bytes]) -> SimpleNamespace:
        prom.clock += 0.9
        return SimpleNamespace(accepted=200, invalid=40)

    monkeypatch.setattr(system, "send_concurrently", send)
    outcome = SYSTEM.workloads["panel_traffic"](WorkloadContext(prom, {"gateway": "http://gw"}, {}))
    assert outcome.summary == "200 valid + 40 malformed signals sent first"
    # the pipeline's scrape after the drained one (102.1), not the one after the scrape before the send
    assert outcome.scraped_at == pytest.approx(102.3)
