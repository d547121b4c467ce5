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

from obs_tests.checks.compose_file import (
    check_compose,
    check_compose_consistency,
    check_compose_test_file,
    compose_command,
    compose_config,
)
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
    for name in ("docker-compose.yml", "docker-compose.test.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
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
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ") and "--from=" not in line]
    sources = [s for group in copies for s in group]
    assert sources and all((ROOT / s).exists() for s in sources), sources
    stages = {line.split()[-1] for line in lines if line.startswith("FROM ") and " AS " in line}
    taken = {line.split()[1].removeprefix("--from=") for line in lines if "--from=" in line}
    assert taken and taken <= stages, (taken, stages)  # promtool and amtool come from named stages
    assert {"app", "test-runner"} <= stages


def _test_messages(project: Path) -> list[str]:
    found = check_compose_test_file(project / "docker-compose.test.yml", project / "docker-compose.yml")
    return [f"{f.subject}: {f.message}" for f in found]


def test_shipped_test_runner_file_is_valid(project: Path) -> None:
    assert _test_messages(project) == []


def test_the_test_profile_adds_the_runner_with_the_compose_urls() -> None:
    command = compose_command()
    assert command is not None
    env = {**os.environ, "OBS_GRAFANA_PASSWORD": "x"}
    files = ["-f", str(ROOT / "docker-compose.yml"), "-f", str(ROOT / "docker-compose.test.yml")]
    done = subprocess.run([*command, *files, "--profile", "test", "config"], capture_output=True, text=True, env=env)
    services = yaml.safe_load(done.stdout)["services"]
    runner = services["test-runner"]
    assert runner["profiles"] == ["test"] and runner["build"]["target"] == "test-runner"
    assert runner["command"][:2] == ["obs-tests", "check"]
    assert "http://prometheus:9090" in runner["command"] and "--report-dir" in runner["command"]
    assert "--storage.tsdb.retention.time=1h" in services["prometheus"]["command"]
    assert {s["build"]["target"] for n, s in services.items() if "build" in s and n != "test-runner"} == {"app"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("http://prometheus:9090", "http://prom:9090", "--prometheus-url http://prom:9090: no compose service 'prom'"),
        ("http://grafana:3000", "http://grafana:3001", "'grafana' listens on port 3000, not 3001"),
        (
            "      grafana: {condition: service_healthy}\n",
            "      grafana: {condition: service_started}\n",
            "does not wait for 'grafana' to be healthy",
        ),
        ('"--alertmanager-url", "http://alertmanager:9093",', "", "--alertmanager-url is not given"),
        ("      - --storage.tsdb.retention.time=1h\n", "", "no --storage.tsdb.retention.time"),
        ('command: ["obs-tests", "check",', 'command: ["obs-tests", "lint",', "command must run 'obs-tests check'"),
        ("    profiles: [test]\n", "    profiles: [ci]\n", "no service 'test-runner' in profile 'test'"),
        ("    depends_on:\n", "    depends_on: 7\n", "docker-compose config (profile test)"),
    ],
    ids=[
        "unknown-service",
        "wrong-port",
        "not-healthy",
        "no-url",
        "no-retention",
        "not-check",
        "no-profile",
        "invalid",
    ],
)
def test_a_broken_test_runner_file_is_reported(project: Path, old: str, new: str, message: str) -> None:
    path = project / "docker-compose.test.yml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    found = _test_messages(project)
    assert any(message in m for m in found), found


def test_a_runner_waiting_for_a_service_without_a_healthcheck_is_reported(project: Path) -> None:
    path = project / "docker-compose.test.yml"
    text = path.read_text()
    start = text.index("  grafana:\n    healthcheck:")
    end = text.index("  test-runner:")
    path.write_text(text[:start] + text[end:])
    (message,) = _test_messages(project)
    assert message.endswith("docker-compose.test.yml: grafana: waited for as healthy but has no healthcheck")
