from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from obs_tests.demo.sink import parse_payload
from obs_tests.errors import PayloadInvalid
from tests.demo.conftest import Stack, call, metric


def alertmanager_payload(status: str = "firing", alertname: str = "GatewayDown", **labels: str) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "team-x",
        "groupLabels": {"alertname": alertname},
        "commonLabels": {"alertname": alertname},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": alertname, "severity": "critical", **labels},
                "annotations": {"summary": "down"},
                "startsAt": "2026-11-22T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom/graph",
                "fingerprint": "abc123",
            }
        ],
    }


def test_sink_parse_payload_flattens_alerts() -> None:
    payload, notes = parse_payload(orjson.dumps(alertmanager_payload()), None, 12.5)
    assert payload["receiver"] == "team-x"
    assert len(notes) == 1
    assert notes[0].receiver == "team-x"
    assert notes[0].to_json()["labels"]["alertname"] == "GatewayDown"
    assert notes[0].received_at == 12.5
    assert notes[0].sender == "http://127.0.0.1:9093"  # the Alertmanager that sent it
    _, notes = parse_payload(orjson.dumps(alertmanager_payload()), "pager", 1.0)
    assert notes[0].receiver == "pager"
    unsigned = {k: v for k, v in alertmanager_payload().items() if k != "externalURL"}
    assert parse_payload(orjson.dumps(unsigned), None, 1.0)[1][0].to_json()["sender"] is None
    with pytest.raises(PayloadInvalid, match="externalURL must be a string"):
        parse_payload(orjson.dumps({**alertmanager_payload(), "externalURL": 9093}), None, 1.0)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="broken"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"{}", id="no-alerts"),
        pytest.param(b'{"alerts": {}}', id="alerts-object"),
        pytest.param(b'{"alerts": [1]}', id="alert-number"),
        pytest.param(b'{"alerts": [{"labels": {"a": 1}}]}', id="label-number"),
        pytest.param(b'{"alerts": [{"status": 5}]}', id="status-number"),
        pytest.param(b'{"alerts": [], "receiver": 3}', id="receiver-number"),
        pytest.param(b'{"alerts": [], "status": []}', id="payload-status-list"),
        pytest.param(b'{"alerts": [{"startsAt": 1}]}', id="starts-number"),
    ],
)
def test_sink_parse_payload_rejects_malformed(body: bytes) -> None:
    with pytest.raises(PayloadInvalid):
        parse_payload(body, None, 0.0)


def test_sink_records_and_filters_notifications(live: Stack) -> None:
    url = live.sink.url
    assert call("DELETE", f"{url}/notifications").status == 200
    t0 = time.time()
    assert call("POST", f"{url}/hook/pager", alertmanager_payload("firing", "GatewayDown", instance="a")).status == 200
    assert call("POST", f"{url}/hook", alertmanager_payload("firing", "HighLatency", instance="b")).status == 200
    t1 = time.time()
    assert (
        call("POST", f"{url}/hook/pager", alertmanager_payload("resolved", "GatewayDown", instance="a")).status == 200
    )
    everything = call("GET", f"{url}/notifications").json()
    assert [n["labels"]["alertname"] for n in everything] == ["GatewayDown", "HighLatency", "GatewayDown"]
    first = everything[0]
    assert first["receiver"] == "pager"
    assert first["payload_status"] == "firing"
    assert first["status"] == "firing"
    assert first["fingerprint"] == "abc123"
    assert first["group_labels"] == {"alertname": "GatewayDown"}
    assert first["starts_at"] == "2026-11-22T10:00:00Z"
    assert t0 <= first["received_at"] <= t1
    assert everything[1]["receiver"] == "team-x", "without a path receiver the payload's is used"

    def query(q: str) -> list[dict[str, Any]]:
        reply = call("GET", f"{url}/notifications?{q}")
        assert reply.status == 200, reply.body
        result: list[dict[str, Any]] = reply.json()
        return result

    assert len(query("alertname=GatewayDown")) == 2
    assert len(query("alertname=GatewayDown&status=resolved")) == 1
    assert len(query("receiver=pager")) == 2
    assert len(query("label.instance=b")) == 1
    assert len(query("label.severity=critical&label.instance=a")) == 2
    assert len(query(f"since={t1}")) == 1
    assert query("alertname=Nope") == []
    assert call("GET", f"{url}/notifications?since=abc").status == 400
    assert call("GET", f"{url}/notifications?colour=red").status == 400
    payloads = call("GET", f"{url}/payloads?since={t0}").json()
    assert len(payloads) == 3
    assert payloads[0]["payload"]["version"] == "4"
    assert metric(url, "webhook_sink_notifications_total", receiver="pager", status="resolved") >= 1
    assert metric(url, "webhook_sink_payloads_total") >= 3
    assert call("DELETE", f"{url}/notifications").json()["cleared"] == 3
    assert call("GET", f"{url}/notifications").json() == []


def test_sink_malformed_payload_is_400_never_5xx(live: Stack) -> None:
    for body in (b"", b"junk", b"[]", b'{"alerts": "x"}', b"\xff"):
        assert call("POST", f"{live.sink.url}/hook/x", body).status == 400


def test_sink_error_rate_answers_500_and_latency_delays(live: Stack) -> None:
    url = live.sink.url
    call("DELETE", f"{url}/notifications")
    assert call("PUT", f"{url}/admin/faults", {"error_rate": 1}).status == 200
    assert call("POST", f"{url}/hook/x", alertmanager_payload()).status == 500
    assert call("GET", f"{url}/notifications").json() == [], "a failed delivery is not recorded"
    fault = {"latency": {"distribution": "fixed", "value_ms": 300}}
    assert call("PUT", f"{url}/admin/faults", fault).status == 200
    reply = call("POST", f"{url}/hook/x", alertmanager_payload())
    assert reply.status == 200
    assert reply.elapsed >= 0.3
    assert call("DELETE", f"{url}/admin/faults").status == 200
    assert call("POST", f"{url}/hook/x", alertmanager_payload()).elapsed < 0.3
