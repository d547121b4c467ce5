"""The cluster client: alerts to every peer of an Alertmanager cluster, everything else to the first."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

from obs_tests.clients.alertmanager import ClusterClient
from tests.loopback import serving


def _peer(received: list[tuple[str, object]]) -> type[BaseHTTPRequestHandler]:
    class Peer(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            received.append((self.path, None))
            answer = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Peer


def test_alerts_go_to_every_peer_and_queries_to_the_first() -> None:
    first: list[tuple[str, object]] = []
    second: list[tuple[str, object]] = []
    with serving(_peer(first)) as url_a, serving(_peer(second)) as url_b:
        client = ClusterClient([url_a, url_b], timeout=5.0)
        client.post_alerts([{"labels": {"alertname": "Probe"}}])
        assert client.alerts() == []
    assert [path for path, _ in first] == ["/api/v2/alerts", "/api/v2/alerts?active=true&silenced=true&inhibited=true"]
    assert [path for path, _ in second] == ["/api/v2/alerts"]  # the post only
    (posted,) = second[0][1]  # type: ignore[misc]
    assert posted["labels"] == {"alertname": "Probe"} and "startsAt" in posted


def test_a_cluster_client_needs_a_peer() -> None:
    with pytest.raises(ValueError, match="at least one peer"):
        ClusterClient([])
