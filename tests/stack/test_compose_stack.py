"""The compose stack's pure logic: URLs from a compose file, the time-scale proof over /api/v1/rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.errors import ConfigInvalid
from obs_tests.stack.compose_stack import ComposeStack, published_urls, rule_scale_mismatches

ROOT = Path(__file__).resolve().parents[2]


def _compose(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "docker-compose.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_urls_of_the_shipped_compose_file() -> None:
    urls = published_urls(ROOT / "docker-compose.yml")
    assert urls["prometheus"] == "http://127.0.0.1:9090"
    assert urls["alertmanager"] == "http://127.0.0.1:9093"
    assert urls["gateway"] == "http://127.0.0.1:8000"
    assert urls["agent-risk"] == "http://127.0.0.1:8002"
    assert urls["nats"] == "nats://127.0.0.1:4222"  # the client port, not the monitoring one
    assert urls["webhook-sink"] == "http://127.0.0.1:9095"
    assert "redis" not in urls  # publishes nothing


def test_urls_short_and_long_port_syntax(tmp_path: Path) -> None:
    path = _compose(
        tmp_path,
        """
services:
  a: {ports: ["18000:8000"]}
  b: {ports: ["0.0.0.0:18001:8000/tcp"]}
  c: {ports: [{target: 8000, published: 18002, host_ip: 127.0.0.2}]}
  d: {ports: ["8000"]}
  redis: {ports: ["127.0.0.1:16379:6379"]}
  e: {image: x}
""",
    )
    assert published_urls(path) == {
        "a": "http://127.0.0.1:18000",
        "b": "http://127.0.0.1:18001",
        "c": "http://127.0.0.2:18002",
        "redis": "redis://127.0.0.1:16379",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: [a, b]\n", "no `services:` mapping"),
        ("services:\n  gateway: {ports: ['x:y:z']}\n", "services.gateway.ports: cannot read 'x:y:z'"),
        ("services: {a: [\n", "not valid YAML"),
    ],
)
def test_bad_compose_files_are_located_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigInvalid, match=r"docker-compose\.yml(:\d+)?: ") as info:
        published_urls(_compose(tmp_path, text))
    assert message in str(info.value)


def test_missing_compose_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid, match=r"nope\.yml: file not found"):
        published_urls(tmp_path / "nope.yml")


def test_compose_stack_needs_prometheus_and_alertmanager_published(tmp_path: Path) -> None:
    contract = load_contract(ROOT / "obs.yaml")
    path = _compose(tmp_path, "services:\n  prometheus: {ports: ['9090:9090']}\n  alertmanager: {image: x}\n")
    with pytest.raises(ConfigInvalid, match="service 'alertmanager' publishes no port"):
        ComposeStack(contract, compose_file=path, client=object())


def _groups(durations: dict[str, float]) -> list[dict[str, Any]]:
    """/api/v1/rules?type=alert as Prometheus answers it (one group, the alerts' `duration` in seconds)."""
    rules = [{"type": "alerting", "name": name, "duration": seconds} for name, seconds in durations.items()]
    rules.append({"type": "recording", "name": "job:x:rate5m"})
    return [{"name": "g", "file": "/etc/prometheus/alerts/00-availability.yml", "rules": rules}]


def test_rules_running_at_the_declared_scale() -> None:
    files = load_contract(ROOT / "obs.yaml").files.rule_files()
    # availability.yml: GatewayDown for: 1m → 1.2 s at 0.02; the Watchdog has no for.
    assert rule_scale_mismatches(_groups({"GatewayDown": 1.2, "Watchdog": 0.0}), files, 0.02) == []
    assert rule_scale_mismatches(_groups({"GatewayDown": 60.0, "Watchdog": 0.0}), files, 1.0) == []


def test_rules_at_another_scale_are_named() -> None:
    files = load_contract(ROOT / "obs.yaml").files.rule_files()
    problems = rule_scale_mismatches(_groups({"GatewayDown": 60.0, "Watchdog": 0.0}), files, 0.02)
    assert problems == ["GatewayDown: for 60s, expected 1.2s"]
