"""Reading an HA stack: addresses compared as the replicas name their Alertmanagers, and a member that
cannot be read kept with its error (live stacks: tests/integration/test_ha_stack.py)."""

from __future__ import annotations

import pytest

from obs_tests.checks.ha_view import address, fetch_ha
from obs_tests.stack.ports import allocate_ports


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:9093", "127.0.0.1:9093"),
        ("http://localhost:9093/api/v2/alerts", "127.0.0.1:9093"),
        ("https://am.example.org/", "am.example.org:443"),
        ("http://am-0.am.monitoring.svc", "am-0.am.monitoring.svc:80"),
        ("am-1:9093", "am-1:9093"),
    ],
)
def test_address(url: str, expected: str) -> None:
    assert address(url) == expected


def test_a_member_that_cannot_be_read_keeps_its_error() -> None:
    closed = [f"http://127.0.0.1:{port}" for port in allocate_ports(2)]  # free a moment ago: nothing listens
    view = fetch_ha([closed[0]], [closed[1]], names={closed[0]: "prom-a"}, timeout=1.0)
    assert view.replicas[0].name == "prom-a" and "Prometheus" in view.replicas[0].error
    assert view.peers[0].name == closed[1].removeprefix("http://") and "Alertmanager" in view.peers[0].error
    assert view.replica_label == "replica"
