from __future__ import annotations

import subprocess

import pytest
from prometheus_client import Counter

from obs_tests.demo.agent import Agent
from obs_tests.demo.exchange import Exchange
from obs_tests.demo.gateway import Gateway
from obs_tests.demo.nats_exporter import NatsExporter
from obs_tests.demo.orchestrator import Orchestrator
from obs_tests.demo.runtime import CommonOptions, Service
from obs_tests.demo.service_metrics import Exposition, preinit
from obs_tests.demo.sink import Sink


def test_metrics_exposition_has_default_collectors_and_applies_hooks() -> None:
    exposition = Exposition()
    text = exposition.render()
    assert b"process_start_time_seconds" in text
    assert b"python_info" in text
    exposition.hooks.append(lambda t: t + b"# hooked\n")
    exposition.hooks.append(lambda t: t.replace(b"# hooked", b"# hooked twice"))
    assert exposition.render().endswith(b"# hooked twice\n")


def test_metrics_preinit_creates_zero_series() -> None:
    exposition = Exposition()
    errors = Counter("demo_errors_total", "Errors.", ["reason", "source"], registry=exposition.registry)
    preinit(errors, "reason", ["a", "b"], source="s")
    text = exposition.render().decode()
    assert 'demo_errors_total{reason="a",source="s"} 0.0' in text
    assert 'demo_errors_total{reason="b",source="s"} 0.0' in text


def _services() -> list[Service]:
    options = CommonOptions(port=1)
    return [
        Gateway(options),
        *(Agent(options, agent_type=agent) for agent in ("momentum", "risk", "sentiment", "correlation")),
        Orchestrator(options),
        Exchange(options),
        Sink(options),
        NatsExporter(options),
    ]


@pytest.mark.parametrize("service", _services(), ids=lambda s: s.component)
def test_metrics_idle_exposition_of_every_service_passes_promtool(service: Service) -> None:
    text = service.exposition.render()
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == b"", result.stdout
