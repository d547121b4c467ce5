"""docker-compose.yml, validated offline with the real docker-compose (Debian's 1.29): the shipped file is
valid with and without the `locust` profile and agrees with the services, prometheus.yml and the Grafana
provisioning; every broken copy is reported with what is wrong."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from obs_tests.checks.compose_file import check_compose, check_compose_consistency, compose_command, compose_config
from obs_tests.stack.system_under_test import load_system

ROOT = Path(__file__).resolve().parents[2]
DEMO = load_system("obs_tests.demo.system")

pytestmark = pytest.mark.skipif(
    compose_command() is None,
    reason="docker-compose is not installed (apt-get install --no-install-recommends docker-compose; make test does)",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("prometheus", "grafana", "grafana_dashboards"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    return tmp_path


def _compose(project: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((project / "docker-compose.yml").read_text())


def _messages(project: Path) -> list[str]:
    return [
        f"{f.subject}: {f.message}"
        for f in check_compose(project / "docker-compose.yml", project / "prometheus" / "prometheus.yml", DEMO)
    ]


def test_shipped_compose_file_is_valid(project: Path) -> None:
    assert _messages(project) == []


def test_services_and_profiles_as_documented() -> None:
    command = compose_command()
    assert command is not None
    env = {**os.environ, "OBS_GRAFANA_PASSWORD": "x"}
    base = [*command, "-f", str(ROOT / "docker-compose.yml")]
    default = subprocess.run([*base, "config", "--services"], capture_output=True, text=True, env=env, check=True)
    services = set(default.stdout.split())
    assert {
        "prometheus",
        "alertmanager",
        "grafana",
        "nats",
        "redis",
        "redis-exporter",
        "gateway",
        "webhook-sink",
    } <= services
    assert {
        "agent-momentum",
        "agent-risk",
        "agent-sentiment",
        "agent-correlation",
        "orchestrator",
        "exchange",
        "bot",
    } <= services
    locust = subprocess.run(
        [*base, "--profile", "locust", "config", "--services"], capture_output=True, text=True, env=env, check=True
    )
    assert {"locust-master", "locust-worker"} <= set(locust.stdout.split())
    data = _compose(ROOT)["services"]
    assert [n for n, svc in data.items() if svc.get("profiles")] == ["locust-master", "locust-worker"]
    assert data["locust-worker"]["profiles"] == ["locust"] and data["locust-worker"]["scale"] == 2
    assert data["grafana"]["image"] == "grafana/grafana:11.3.0"
    assert data["prometheus"]["image"] == "prom/prometheus:v2.42.0"
    assert data["alertmanager"]["image"] == "prom/alertmanager:v0.25.0"


def test_grafana_password_must_be_given() -> None:
    command = compose_command()
    assert command is not None
    env = {k: v for k, v in os.environ.items() if k != "OBS_GRAFANA_PASSWORD"}
    done = subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True, text=True, env=env
    )
    assert done.returncode != 0
    assert "set OBS_GRAFANA_PASSWORD" in done.stderr


def test_compose_syntax_error_is_reported_by_docker_compose(project: Path) -> None:
    path = project / "docker-compose.yml"
    path.write_text(
        path.read_text().replace("    image: prom/prometheus:v2.42.0", "    imagee: prom/prometheus:v2.42.0")
    )
    problem = compose_config(path)
    assert problem is not None and "imagee" in problem


def test_unpinned_grafana_image(project: Path) -> None:
    path = project / "docker-compose.yml"
    path.write_text(path.read_text().replace("grafana/grafana:11.3.0", "grafana/grafana:latest"))
    messages = _messages(project)
    assert any(
        m.endswith("grafana: Grafana image 'grafana/grafana:latest' is not pinned — use a version tag")
        for m in messages
    ), messages


def test_invalid_service_command(project: Path) -> None:
    path = project / "docker-compose.yml"
    path.write_text(path.read_text().replace('"--agent-type", "risk"', '"--agent-type", "rsk"'))
    messages = _messages(project)
    assert any("agent-risk: command" in m and "argument --agent-type: invalid choice: 'rsk'" in m for m in messages), (
        messages
    )


def test_service_commands_are_checked_only_against_the_system_that_runs_them(project: Path) -> None:
    """Without a system under test (a stack obs-tests does not start) nobody can parse the commands."""
    path = project / "docker-compose.yml"
    path.write_text(path.read_text().replace('"--agent-type", "risk"', '"--agent-type", "rsk"'))
    found = check_compose_consistency(path, project / "prometheus" / "prometheus.yml")
    assert not [f for f in found if "agent-risk: command" in f"{f.subject}: {f.message}"], found


def test_scrape_target_without_service_or_on_the_wrong_port(project: Path) -> None:
    config = project / "prometheus" / "prometheus.yml"
    config.write_text(
        config.read_text()
        .replace('targets: ["gateway:8000"]', 'targets: ["gatewy:8000"]')
        .replace('targets: ["exchange:8000"]', 'targets: ["exchange:9000"]')
    )
    messages = check_compose_consistency(project / "docker-compose.yml", config)
    text = [f.message for f in messages]
    assert any(t.startswith("target gatewy:8000: no compose service 'gatewy'") for t in text), text
    assert "target exchange:9000: service 'exchange' listens on port 8000, not 9000" in text


def test_grafana_without_provisioning_or_load_scrape(project: Path) -> None:
    path = project / "docker-compose.yml"
    path.write_text(path.read_text().replace("      - ./grafana/provisioning:/etc/grafana/provisioning:ro\n", ""))
    config = project / "prometheus" / "prometheus.yml"
    config.write_text(config.read_text().replace("port: 9646", "port: 9999"))
    text = [f.message for f in check_compose_consistency(path, config)]
    assert "./grafana/provisioning is not mounted" in text
    assert any("no Prometheus job 'load' scrapes the Locust workers' --metrics-port" in t for t in text), text


def test_dockerfile_copies_what_exists() -> None:
    copies = [line.split()[1:-1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")]
    sources = [s for group in copies for s in group]
    assert sources and all((ROOT / s).exists() for s in sources), sources
