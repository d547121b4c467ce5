"""``obs-tests health`` on the command line: Nagios exit codes, the summary line first, JSON valid against
the published schema, and a clear one-line UNKNOWN (exit 3, never a traceback) for every bad input."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from obs_tests.cli import cli
from obs_tests.config.validation import load_schema

from .conftest import TOKEN, FakeApi, Route, grafana_api

ROOT = Path(__file__).resolve().parents[2]
CLEAN_ENV = dict.fromkeys(
    (
        "OBS_CONTRACT",
        "OBS_PROMETHEUS_URL",
        "OBS_ALERTMANAGER_URL",
        "OBS_GRAFANA_URL",
        "OBS_GRAFANA_TOKEN",
        "OBS_GRAFANA_USER",
        "OBS_GRAFANA_PASSWORD",
        "OBS_FORMAT",
        "OBS_HEALTH_JSON",
        "OBS_WARN_ONLY",
        "OBS_TIMEOUT",
    )
)


def health(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["health", *args], env={**CLEAN_ENV, **(env or {})}, catch_exceptions=False)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    return result.exit_code, output


def test_healthy_exit_0_summary_first(prometheus: FakeApi) -> None:
    code, out = health("--prometheus-url", prometheus.url, "--contract", str(ROOT / "obs.yaml"))
    assert code == 0, out
    first, *rest = out.splitlines()
    assert first.startswith("HEALTH OK: ")
    assert " | targets_up=13 " in first
    assert any(line.startswith("OK        prometheus.targets") for line in rest)


def test_critical_exit_2_names_the_target(prometheus: FakeApi) -> None:
    gateway = next(
        t for t in prometheus.json("/api/v1/targets")["data"]["activeTargets"] if t["labels"]["job"] == "gateway"
    )
    gateway["health"], gateway["lastError"] = "down", "connection refused"
    code, out = health("--prometheus-url", prometheus.url)
    assert code == 2
    assert out.startswith("HEALTH CRITICAL: 1 critical")
    assert "job gateway: target 127.0.0.1:" in out.splitlines()[0]
    code, out = health("--prometheus-url", prometheus.url, "--warn-only")
    assert code == 1
    assert out.startswith("HEALTH WARNING: 1 critical")


def test_options_from_environment(prometheus: FakeApi, tmp_path: Path) -> None:
    target = tmp_path / "out" / "health.json"
    code, out = health(env={"OBS_PROMETHEUS_URL": prometheus.url, "OBS_FORMAT": "json", "OBS_HEALTH_JSON": str(target)})
    assert code == 0, out
    assert json.loads(out) == json.loads(target.read_text())


def test_the_contract_of_a_stack_of_yours_gives_the_urls(prometheus: FakeApi, tmp_path: Path) -> None:
    """`obs-tests init` writes stack.prometheus: <url>; `health -c obs.yaml` needs no other option."""
    contract = tmp_path / "obs.yaml"
    contract.write_text(
        f"version: 1\nstack: {{prometheus: '{prometheus.url}', alertmanager: null}}\n"
        "jobs:\n  - {name: gateway, instances: 1}\n"
    )
    code, out = health("--contract", str(contract))
    assert code == 0, out
    assert out.startswith("HEALTH OK: "), out
    # an embedded contract names no URL: the option is still missing, said as such
    embedded = tmp_path / "embedded.yaml"
    embedded.write_text("version: 1\njobs:\n  - {name: gateway, instances: 1}\n")
    code, out = health("--contract", str(embedded))
    assert code == 3, out
    assert "Missing option '--prometheus-url'" in out and "no --contract whose stack.prometheus is a URL" in out


@pytest.mark.parametrize("broken", [False, True], ids=["ok", "critical"])
def test_json_matches_published_schema(prometheus: FakeApi, alertmanager: FakeApi, broken: bool) -> None:
    if broken:
        prometheus.json("/api/v1/alertmanagers")["data"]["activeAlertmanagers"] = []
    code, out = health("--prometheus-url", prometheus.url, "--alertmanager-url", alertmanager.url, "--format", "json")
    document = json.loads(out)
    jsonschema.validate(document, load_schema("health"))
    assert code == document["exit_code"] == (2 if broken else 0)
    assert document["summary"].startswith(f"HEALTH {'CRITICAL' if broken else 'OK'}: ")
    assert document["endpoints"] == {"prometheus": prometheus.url, "alertmanager": alertmanager.url, "grafana": None}


@pytest.fixture
def html_server(serve: Callable[[FakeApi], FakeApi]) -> str:
    page = Route(200, b"<!doctype html><html><body>Welcome to nginx!</body></html>", "text/html")
    return serve(FakeApi(routes={"/api/v1/status/buildinfo": page})).url


@pytest.fixture
def json_server(serve: Callable[[FakeApi], FakeApi]) -> str:
    return serve(FakeApi(routes={"/api/v1/status/buildinfo": Route(200, {"version": "1.0"})})).url


def _status_server(serve: Callable[[FakeApi], FakeApi], status: int) -> str:
    return serve(FakeApi(routes={"/api/v1/status/buildinfo": Route(status, b"go away", "text/plain")})).url


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    """A plain-HTTP server (for an https:// URL: the TLS handshake fails)."""

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join()


BAD_INPUTS: list[tuple[str, list[str], str]] = [
    ("missing-url", [], "Missing option '--prometheus-url'"),
    ("no-scheme", ["--prometheus-url", "localhost:9090"], "is not valid — use http://host:port"),
    ("ftp", ["--prometheus-url", "ftp://prometheus:9090"], "is not valid — use http://host:port"),
    ("empty", ["--prometheus-url", ""], "is not valid"),
    ("bad-port", ["--prometheus-url", "http://prometheus:99999"], "has an invalid port"),
    ("timeout-zero", ["--prometheus-url", "http://p:9090", "--timeout", "0"], "--timeout"),
    ("bad-format", ["--prometheus-url", "http://p:9090", "--format", "xml"], "'xml' is not one of 'text', 'json'"),
    ("bad-window", ["--prometheus-url", "http://p:9090", "--window", "10x"], "not a duration"),
    ("bad-ratio", ["--prometheus-url", "http://p:9090", "--slow-scrape-ratio", "2"], "0 < slow_scrape_ratio ≤ 1"),
    (
        "timeout-nan",
        ["--prometheus-url", "http://p:9090", "--timeout", "nan"],
        "'--timeout' (env var: 'OBS_TIMEOUT'): NaN",
    ),
    ("timeout-inf", ["--prometheus-url", "http://p:9090", "--timeout", "inf"], "infinity is not a finite number"),
    ("timeout-huge", ["--prometheus-url", "http://p:9090", "--timeout", "1e300"], "0 < timeout ≤ 3600"),
    ("ratio-nan", ["--prometheus-url", "http://p:9090", "--slow-scrape-ratio", "NaN"], "NaN is not a finite number"),
    ("stale-inf", ["--prometheus-url", "http://p:9090", "--stale-intervals", "-inf"], "-infinity is not a finite"),
    ("window-huge", ["--prometheus-url", "http://p:9090", "--window", "9" * 400 + "h"], "1s ≤ window ≤ 7d"),
    ("unknown-option", ["--prometheus-url", "http://p:9090", "--bogus"], "No such option '--bogus'"),
    ("missing-contract", ["--prometheus-url", "http://p:9090", "--contract", "nope.yaml"], "ContractInvalid"),
]


@pytest.mark.parametrize(("args", "fragment"), [pytest.param(a, f, id=i) for i, a, f in BAD_INPUTS])
def test_bad_option_is_unknown(args: list[str], fragment: str) -> None:
    code, out = health(*args)
    assert code == 3, out
    assert out.startswith("HEALTH UNKNOWN: "), out
    assert fragment in out


def _endpoint_cases(
    request: pytest.FixtureRequest, serve: Callable[[FakeApi], FakeApi], case: str
) -> tuple[list[str], str]:
    if case == "refused":
        port = request.getfixturevalue("closed_port")
        return ["--prometheus-url", f"http://127.0.0.1:{port}"], "cannot connect to Prometheus at"
    if case == "timeout":
        port = request.getfixturevalue("silent_port")
        return ["--prometheus-url", f"http://127.0.0.1:{port}", "--timeout", "0.3"], "did not answer"
    if case == "tls":
        port = request.getfixturevalue("plain_http_port")
        return ["--prometheus-url", f"https://127.0.0.1:{port}"], "TLS error"
    if case == "html":
        return ["--prometheus-url", request.getfixturevalue("html_server")], "answered HTML"
    if case == "json-not-prometheus":
        return ["--prometheus-url", request.getfixturevalue("json_server")], "not answer in the Prometheus API format"
    status = int(case)
    expected = "refused our credentials" if status in (401, 403) else f"answered HTTP {status}"
    return ["--prometheus-url", _status_server(serve, status)], expected


@pytest.mark.parametrize("case", ["html", "json-not-prometheus", "401", "403", "500", "404"])
def test_unusable_prometheus_is_unknown(
    request: pytest.FixtureRequest, serve: Callable[[FakeApi], FakeApi], case: str
) -> None:
    args, fragment = _endpoint_cases(request, serve, case)
    code, out = health(*args)
    assert code == 3, out
    first = out.splitlines()[0]
    assert first.startswith("HEALTH UNKNOWN: 1 unknown, 0 ok — prometheus.api: ")
    assert fragment in first
    code, out = health(*args, "--format", "json")
    document = json.loads(out)
    jsonschema.validate(document, load_schema("health"))
    assert document["status"] == "UNKNOWN"


@pytest.mark.parametrize("case", ["refused", "timeout", "tls"])
def test_a_prometheus_that_does_not_answer_is_critical(
    request: pytest.FixtureRequest, serve: Callable[[FakeApi], FakeApi], case: str
) -> None:
    """Nagios: a refused connection or a timeout of the very service checked is CRITICAL (as check_http
    says), not UNKNOWN — UNKNOWN is for the check's own failures (it was exit 3 here)."""
    args, fragment = _endpoint_cases(request, serve, case)
    code, out = health(*args)
    assert code == 2, out
    first = out.splitlines()[0]
    assert first.startswith("HEALTH CRITICAL: 1 critical, 0 ok — prometheus.api: ")
    assert fragment in first
    document = json.loads(health(*args, "--format", "json")[1])
    jsonschema.validate(document, load_schema("health"))
    assert document["status"] == "CRITICAL"


def test_bad_url_in_json_mode_still_prints_a_valid_document() -> None:
    code, out = health("--prometheus-url", "prometheus", "--format", "json")
    assert code == 3
    document = json.loads(out)
    jsonschema.validate(document, load_schema("health"))
    assert "is not valid" in document["summary"]


def test_credentials_in_url_are_never_printed(closed_port: int) -> None:
    code, out = health("--prometheus-url", f"http://admin:hunter2@127.0.0.1:{closed_port}", "--format", "json")
    assert code == 2  # refused: CRITICAL
    assert "hunter2" not in out
    assert json.loads(out)["endpoints"]["prometheus"] == f"http://127.0.0.1:{closed_port}"


def test_password_without_user_is_unknown(prometheus: FakeApi) -> None:
    code, out = health(
        "--prometheus-url", prometheus.url, "--grafana-url", "http://g:3000", env={"OBS_GRAFANA_PASSWORD": "pw-123"}
    )
    assert code == 3
    assert "OBS_GRAFANA_PASSWORD is set but OBS_GRAFANA_USER is not" in out
    assert "pw-123" not in out


def test_wrong_grafana_credentials_exit_3_secret_absent(
    prometheus: FakeApi, serve: Callable[[FakeApi], FakeApi]
) -> None:
    grafana = serve(grafana_api([]))
    for env in (
        {"OBS_GRAFANA_TOKEN": "not-the-token-9999"},
        {"OBS_GRAFANA_USER": "admin", "OBS_GRAFANA_PASSWORD": "pw-9999"},
    ):
        for fmt in ("text", "json"):
            code, out = health(
                "--prometheus-url", prometheus.url, "--grafana-url", grafana.url, "--format", fmt, env=env
            )
            assert code == 3, out
            assert "Grafana at" in out and "refused our credentials (HTTP 401" in out
            assert "9999" not in out
    code, out = health(
        "--prometheus-url", prometheus.url, "--grafana-url", grafana.url, env={"OBS_GRAFANA_TOKEN": TOKEN}
    )
    assert code == 0, out
    assert TOKEN not in out


def test_unwritable_json_file_is_unknown(prometheus: FakeApi, tmp_path: Path) -> None:
    code, out = health("--prometheus-url", prometheus.url, "--json-file", str(tmp_path))
    assert code == 3
    assert "'--json-file'" in out and "is a directory" in out
    (tmp_path / "file").write_text("")
    code, out = health("--prometheus-url", prometheus.url, "--json-file", str(tmp_path / "file" / "health.json"))
    assert code == 3
    assert out.startswith("HEALTH UNKNOWN: 1 unknown")
    assert f"--json-file {tmp_path / 'file' / 'health.json'}: cannot write it" in out


def test_help_lists_exit_codes() -> None:
    code, out = health("--help")
    assert code == 0
    assert "0 OK · 1 WARNING · 2 CRITICAL" in out and "3 UNKNOWN (credentials refused" in out
    assert "OBS_PROMETHEUS_URL" in out


def test_tls_context_is_available() -> None:
    # the TLS case above relies on the default context refusing a plain-HTTP peer
    assert ssl.create_default_context().verify_mode == ssl.CERT_REQUIRED


def test_docs_document_every_check_and_the_exit_codes(prometheus: FakeApi, alertmanager: FakeApi) -> None:
    code, out = health("--prometheus-url", prometheus.url, "--alertmanager-url", alertmanager.url, "--format", "json")
    assert code == 0
    section = (ROOT / "docs" / "health.md").read_text()
    for check in json.loads(out)["checks"]:
        name = check["name"].split(".")[1]
        assert f"`{check['name']}`" in section or f".{name}`" in section, check["name"]
    for name in ("grafana.api", "grafana.datasources", "grafana.dashboards"):
        assert name.split(".")[1] in section
    assert "**0** OK · **1** WARNING · **2** CRITICAL · **3** UNKNOWN" in section
    assert "obs_tests/schemas/health.schema.json" in section
    assert "scripts/production_health_check.sh" in section
