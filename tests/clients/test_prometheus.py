from __future__ import annotations

import json

import pytest

from obs_tests.clients.base import is_loopback, normalise_url, redact_url
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.errors import ApiError, EndpointAuthError, PrometheusUnreachable, UsageError

from .conftest import Scripted


def _ok(data: object) -> bytes:
    return json.dumps({"status": "success", "data": data}).encode()


def test_query_vector(scripted: tuple[str, Scripted]) -> None:
    url, script = scripted
    script.body = _ok(
        {"resultType": "vector", "result": [{"metric": {"__name__": "up", "job": "g"}, "value": [1.5, "1"]}]}
    )
    [sample] = PrometheusClient(url).query("up")
    assert (sample.name, sample.labels["job"], sample.value, sample.timestamp) == ("up", "g", 1.0, 1.5)
    assert sample.format_labels() == 'up{job="g"}'


def test_query_scalar_and_special_values(scripted: tuple[str, Scripted]) -> None:
    url, script = scripted
    script.body = _ok({"resultType": "scalar", "result": [2.0, "+Inf"]})
    assert PrometheusClient(url).query_value("1/0") == float("inf")


def test_prometheus_error_is_explained(scripted: tuple[str, Scripted]) -> None:
    url, script = scripted
    script.status = 400
    script.body = json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}).encode()
    with pytest.raises(ApiError, match="Prometheus rejected /api/v1/query: bad_data: parse error at char 4"):
        PrometheusClient(url).query("up{")


@pytest.mark.parametrize(
    ("status", "body", "content_type", "error", "message"),
    [
        pytest.param(200, b"<html><body>Grafana</body></html>", "text/html", ApiError, "answered HTML", id="html"),
        pytest.param(200, b'{"hello": 1}', "application/json", ApiError, "not answer in the Prometheus API", id="json"),
        pytest.param(401, b"no", "text/plain", EndpointAuthError, r"refused our credentials \(HTTP 401", id="401"),
        pytest.param(403, b"no", "text/plain", EndpointAuthError, "HTTP 403", id="403"),
        pytest.param(500, b"boom", "text/plain", ApiError, "answered HTTP 500: boom", id="500"),
        pytest.param(404, b"404 page not found", "text/plain", ApiError, "answered HTTP 404", id="404"),
    ],
)
def test_not_prometheus(
    scripted: tuple[str, Scripted],
    status: int,
    body: bytes,
    content_type: str,
    error: type[Exception],
    message: str,
) -> None:
    url, script = scripted
    script.status, script.body, script.content_type = status, body, content_type
    with pytest.raises(error, match=message):
        PrometheusClient(url).buildinfo()


def test_connection_refused(closed_port: int) -> None:
    with pytest.raises(
        PrometheusUnreachable, match=r"cannot connect to Prometheus at http://127\.0\.0\.1:.*connection refused"
    ):
        PrometheusClient(f"http://127.0.0.1:{closed_port}").buildinfo()


def test_timeout(silent_port: int) -> None:
    with pytest.raises(PrometheusUnreachable, match=r"did not answer GET /api/v1/status/buildinfo within 0.2s"):
        PrometheusClient(f"http://127.0.0.1:{silent_port}", timeout=0.2).buildinfo()


def test_tls_to_a_plain_http_server(scripted: tuple[str, Scripted]) -> None:
    url, _ = scripted
    with pytest.raises(PrometheusUnreachable, match="TLS error"):
        PrometheusClient(url.replace("http://", "https://")).buildinfo()


def test_unresolvable_host() -> None:
    with pytest.raises(
        PrometheusUnreachable, match=r"cannot connect to Prometheus at http://no-such-host\.invalid:9090"
    ):
        PrometheusClient("http://no-such-host.invalid:9090", timeout=5).buildinfo()


@pytest.mark.parametrize(
    "url", ["prometheus:9090", "ftp://x", "http://", "localhost", "http://host:notaport", "http://host:99999"]
)
def test_bad_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError, match="Prometheus URL"):
        PrometheusClient(url)


def test_credentials_never_shown() -> None:
    assert redact_url("http://admin:s3cret@grafana:3000/x") == "http://grafana:3000/x"
    with pytest.raises(UsageError) as info:
        normalise_url("ftp://admin:s3cret@grafana:3000", "Grafana")
    assert "s3cret" not in str(info.value)


def test_credentials_not_in_connection_error(closed_port: int) -> None:
    with pytest.raises(PrometheusUnreachable) as info:
        PrometheusClient(f"http://admin:s3cret@127.0.0.1:{closed_port}").buildinfo()
    assert "s3cret" not in str(info.value)


def test_loopback_servers_are_never_reached_through_a_proxy(
    scripted: tuple[str, Scripted], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy in the environment that nothing listens on: the embedded stack must still be reachable.
    url, script = scripted
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    script.body = _ok({"resultType": "scalar", "result": [2.0, "1"]})
    client = PrometheusClient(url)
    assert client.session.trust_env is False
    client.query("1")
    assert PrometheusClient("http://prometheus.example:9090").session.trust_env is True


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:9090", True),
        ("http://127.3.4.5", True),
        ("http://localhost:3000/grafana", True),
        ("http://[::1]:9093", True),
        ("https://prometheus.internal:9090", False),
        ("http://10.0.0.1:9090", False),
    ],
)
def test_is_loopback(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback
