"""The HA checks as health results: OK on a sound HA stack, CRITICAL for an error finding, WARNING for a
warning, and a member that cannot be read is CRITICAL (live: tests/integration/test_ha_stack.py)."""

from __future__ import annotations

from obs_tests.checks.ha_view import HaView, Peer, Replica
from obs_tests.health.ha_checks import ha_results
from obs_tests.health.status import Status

PEERS = ("http://am-0:9093", "http://am-1:9093")


def replica(name: str, **changes: object) -> Replica:
    fields: dict[str, object] = {
        "external_labels": {"replica": name},
        "alertmanagers": ("am-0:9093", "am-1:9093"),
        "alert_relabel": ({"action": "labeldrop", "regex": "replica"},),
        "reload_ok": True,
        **changes,
    }
    return Replica(name, f"http://{name}:9090", **fields)  # type: ignore[arg-type]


def peer(url: str, **changes: object) -> Peer:
    fields: dict[str, object] = {"status": "ready", "members": ("A", "B"), "config_hash": "c1", **changes}
    return Peer(url.split("//")[1].split(":", maxsplit=1)[0], url, **fields)  # type: ignore[arg-type]


def statuses(view: HaView) -> dict[str, Status]:
    return {r.name: r.status for r in ha_results(view)}


def test_a_sound_ha_stack_is_ok_in_every_check() -> None:
    results = ha_results(HaView((replica("prom-a"), replica("prom-b")), tuple(peer(u) for u in PEERS)))
    assert [r.name for r in results][:3] == ["ha.members", "ha.mesh", "ha.alertmanagers"]
    assert {r.status for r in results} == {Status.OK}
    assert results[0].metrics == {"ha_prometheus_replicas": 2.0, "ha_alertmanager_peers": 2.0}


def test_errors_are_critical_and_warnings_warnings() -> None:
    view = HaView(
        (replica("prom-a"), replica("prom-b", external_labels={"replica": "prom-a"})),
        (peer(PEERS[0], status="settling"), peer(PEERS[1])),
    )
    found = statuses(view)
    assert found["ha.external_labels"] is Status.CRITICAL and found["ha.mesh"] is Status.WARNING
    assert found["ha.alertmanagers"] is Status.OK


def test_a_member_that_cannot_be_read_is_critical() -> None:
    view = HaView((replica("prom-a"), Replica("prom-b", "http://prom-b:9090", error="connection refused")), ())
    result = ha_results(view)[0]
    assert result.status is Status.CRITICAL and "connection refused" in result.problems[0].message
