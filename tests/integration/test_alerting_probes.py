"""Live Alertmanager probes fail on a broken Alertmanager config (real Alertmanager, real sink)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import yaml

from obs_tests.checks.routing import RouteTest
from obs_tests.checks.routing_live import probe_inhibition, probe_routing, settings_from_config
from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.webhook_sink import SinkClient, wait_for_notification
from obs_tests.config.contract import load_contract
from obs_tests.errors import WaitTimeout
from obs_tests.stack import EmbeddedStack

from .helpers import ROOT

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def broken_am(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """A stack whose Alertmanager sends critical alerts to `warning` and has no inhibition rules."""
    root = tmp_path_factory.mktemp("broken-am")
    for name in ("prometheus", "alertmanager", "runbooks", "grafana_dashboards"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "obs.yaml", root / "obs.yaml")
    path = root / "alertmanager" / "alertmanager.yml"
    config = yaml.safe_load(path.read_text())
    config.pop("inhibit_rules")
    for route in config["route"]["routes"]:
        if route["receiver"] == "critical":
            route["receiver"] = "warning"
    path.write_text(yaml.safe_dump(config))
    with EmbeddedStack(load_contract(root / "obs.yaml"), warm_up=False) as stack:
        yield stack


def _clients(stack: EmbeddedStack) -> tuple[AlertmanagerClient, SinkClient]:
    assert stack.alertmanager_url
    return AlertmanagerClient(stack.alertmanager_url), SinkClient(stack.url("webhook-sink"))


def test_route_to_the_wrong_receiver_is_caught_live(broken_am: EmbeddedStack) -> None:
    am, sink = _clients(broken_am)
    config = yaml.safe_load(am.status()["config"]["original"])
    labels = {"alertname": "GatewayDown", "severity": "critical", "team": "trading-platform", "service": "gateway"}
    findings, _ = probe_routing(
        am, sink, [(RouteTest("GatewayDown", ("critical",)), labels)], settings_from_config(config)
    )
    messages = [f.message for f in findings]
    assert any(
        m.startswith("no firing notification reached receiver critical") and "firing to warning" in m for m in messages
    ), messages


def test_missing_inhibition_is_caught_live(broken_am: EmbeddedStack) -> None:
    am, _ = _clients(broken_am)
    source = {"alertname": "GatewayDown", "severity": "critical", "job": "gateway"}
    target = {"alertname": "GatewayHighErrorRate", "severity": "warning", "job": "gateway"}
    [finding] = probe_inhibition(am, [(source, [target], [])])
    assert finding.subject == 'alert GatewayHighErrorRate{job="gateway", severity="warning"}'
    assert finding.message.startswith("should be inhibited but is active (inhibitedBy: nobody)")


def test_wait_for_notification_timeout_says_what_arrived(broken_am: EmbeddedStack) -> None:
    am, sink = _clients(broken_am)
    am.post_alerts([{"labels": {"alertname": "ProbeTimeout", "severity": "critical", "obs_probe": "t"}}])
    wait_for_notification(sink, "ProbeTimeout", receiver="warning", within=15)
    with pytest.raises(WaitTimeout) as info:
        wait_for_notification(sink, "ProbeTimeout", receiver="critical", within=0.5, bound="group_wait 1s")
    message = str(info.value)
    assert "a firing notification for ProbeTimeout to receiver critical" in message
    assert "last seen: firing to warning" in message and "theoretical bound: group_wait 1s" in message
