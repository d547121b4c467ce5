"""Who may use the dashboard: loopback by default, a token when exposed (and on every /api request when
set), never a secret in an answer."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from obs_tests.errors import UsageError
from obs_tests.web.security import check_binding, check_token, is_loopback

from .helpers import ROOT, Server, scenario_dir, serving

TOKEN = "test-token-0123456789abcdef"
SECRET = "grafana-secret-pw-42"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("dashboard.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_needs_a_long_token() -> None:
    check_binding("127.0.0.1", None)
    check_binding("0.0.0.0", TOKEN)
    with pytest.raises(UsageError, match=r"--host 0\.0\.0\.0 exposes the dashboard beyond this machine"):
        check_binding("0.0.0.0", None)
    with pytest.raises(UsageError, match="too short"):
        check_binding("0.0.0.0", "short")


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        pytest.param(" " * 20, "contains whitespace", id="spaces"),
        pytest.param("\t" * 20, "contains whitespace", id="tabs"),
        pytest.param("0123456789abcdef\n", "contains whitespace", id="trailing-newline"),
        pytest.param("my dashboard token 2024", "contains whitespace", id="passphrase"),
        pytest.param("a" * 32, "fewer than 8 different characters", id="one-character"),
        pytest.param("passwordpassword", "fewer than 8 different characters", id="password-twice"),
        pytest.param("12121212121212121212", "fewer than 8 different characters", id="two-characters"),
        pytest.param("abcdefgh" * 3, "a pattern of 8 characters, repeated", id="repeated-8"),
        pytest.param("0123456789" * 2, "a pattern of 10 characters, repeated", id="repeated-digits"),
        pytest.param("s3cr3t", "too short (6 characters)", id="short"),
    ],
)
def test_guessable_token_is_refused_without_being_shown(token: str, problem: str) -> None:
    with pytest.raises(UsageError) as info:
        check_binding("0.0.0.0", token)
    message = str(info.value)
    assert message.startswith("OBS_DASHBOARD_TOKEN ") and problem in message, message
    assert "openssl rand -hex 16" in message
    assert token.strip() not in message or not token.strip()


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("test-token-0123456789abcdef", id="test-token"),
        pytest.param("9f86d081884c7d659a2feaa0c55ad015", id="hex-16"),
        pytest.param("Jq3_x-Vb8Lr2pZ0tW9mYk4sHf7dN1cGa", id="urlsafe"),
    ],
)
def test_good_token_is_accepted(token: str) -> None:
    check_token(token)
    check_binding("0.0.0.0", token)


def test_serve_refuses_a_token_of_spaces() -> None:
    done = _serve("--host", "0.0.0.0", env_token=" " * 20)
    assert done.returncode == 2
    assert done.stderr.startswith("UsageError: OBS_DASHBOARD_TOKEN contains whitespace"), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_refused_websockets_close_cleanly_without_an_error_in_the_log(guarded: Server) -> None:
    base = guarded.url.replace("http://", "ws://") + "/api/stream"
    refusals = [
        (base, {}, 401),
        (f"{base}?token=wrong-token-0123456789abcdef", {}, 401),
        (f"{base}?token={TOKEN}", {"Origin": "http://evil.example"}, 403),
        (f"{base}?token={TOKEN}", {"Origin": "null"}, 403),
        (f"{base}?token={TOKEN}&since=NaN", {}, 403),
    ]
    for url, headers, status in refusals:
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers, proxy=None).__enter__()
        assert refused.value.response.status_code == status, url
    # a full request after the refusals: the server has finished with them (and logged, if it logs)
    after = guarded.session.get(guarded.url + "/api/info", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert after.status_code == 200
    logged = guarded.output
    assert "ERROR" not in logged and "ASGI" not in logged and "Traceback" not in logged, logged


def _serve(*args: str, env_token: str | None = None) -> subprocess.CompletedProcess[str]:
    import os  # noqa: PLC0415

    env = {k: v for k, v in os.environ.items() if k != "OBS_DASHBOARD_TOKEN"}
    if env_token is not None:
        env["OBS_DASHBOARD_TOKEN"] = env_token
    return subprocess.run(
        [sys.executable, "-m", "obs_tests.cli", "serve", "--lazy-stack", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_to_expose_itself_without_a_token() -> None:
    done = _serve("--host", "0.0.0.0")
    assert done.returncode == 2
    assert done.stderr.startswith("UsageError: --host 0.0.0.0 exposes the dashboard beyond this machine")
    short = _serve("--host", "0.0.0.0", env_token="abc")
    assert short.returncode == 2 and "too short (3 characters)" in short.stderr
    assert "abc" not in short.stderr.replace("too short", "")


def test_serve_says_when_the_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = _serve("--port", str(port))
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "--port" in done.stderr


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A dashboard with a token (no stack) that also knows Grafana credentials it must never show."""
    root = tmp_path_factory.mktemp("guarded")
    scenarios = scenario_dir(root / "scenarios", fixtures=("broken",))
    with serving(
        scenarios,
        root / "reports",
        extra=("--lazy-stack", "--grafana-url", f"http://admin:{SECRET}@127.0.0.1:3000/grafana"),
        env={"OBS_GRAFANA_PASSWORD": SECRET, "OBS_GRAFANA_USER": "admin"},
        token=TOKEN,
    ) as server:
        server.session.headers.pop("Authorization")
        yield server


API = [
    ("GET", "/api/info"),
    ("GET", "/api/scenarios"),
    ("GET", "/api/scenarios/broken"),
    ("POST", "/api/run"),
    ("GET", "/api/status/20200101-000000-abcdef"),
    ("POST", "/api/stop/20200101-000000-abcdef"),
    ("GET", "/api/runs"),
    ("GET", "/api/report/20200101-000000-abcdef.json"),
    ("GET", "/api/stream"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/stream.schema.json"),
]


@pytest.mark.parametrize(("method", "path"), API, ids=[f"{m} {p}" for m, p in API])
@pytest.mark.parametrize(
    "auth",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer wrong-token-0123456789abcdef"}, id="wrong-token"),
        pytest.param({"Authorization": f"Basic {TOKEN}"}, id="wrong-scheme"),
    ],
)
def test_every_api_request_needs_the_token(guarded: Server, method: str, path: str, auth: dict[str, str]) -> None:
    response = guarded.session.request(method, guarded.url + path, headers=auth, json={"scenario": "x"}, timeout=10)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"].startswith("missing or wrong token")
    assert TOKEN not in response.text


REST = [a for a in API if a[1] != "/api/stream"]


@pytest.mark.parametrize(("method", "path"), REST, ids=[f"{m} {p}" for m, p in REST])
def test_with_the_token_the_api_answers(guarded: Server, method: str, path: str) -> None:
    bearer = guarded.session.request(
        method, guarded.url + path, headers={"Authorization": f"Bearer {TOKEN}"}, json={"scenario": "x"}, timeout=10
    )
    query = guarded.session.request(method, guarded.url + path + f"?token={TOKEN}", json={"scenario": "x"}, timeout=10)
    for response in (bearer, query):
        assert response.status_code != 401, response.text
        assert response.status_code < 500
        assert TOKEN not in response.text and SECRET not in response.text
        assert all(TOKEN not in v and SECRET not in v for v in response.headers.values())


def test_the_token_protects_the_stream(guarded: Server) -> None:
    url = guarded.url.replace("http://", "ws://") + "/api/stream"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, proxy=None).__enter__()
    assert refused.value.response.status_code == 401
    with connect(f"{url}?token={TOKEN}&since=0", proxy=None) as ws:
        hello = json.loads(ws.recv(timeout=10))
    assert hello["type"] == "hello"
    with guarded.session.get(guarded.url + f"/api/stream?token={TOKEN}", stream=True, timeout=10) as sse:
        assert sse.status_code == 200 and sse.headers["content-type"].startswith("text/event-stream")


def test_the_page_loads_without_the_token_and_shows_no_secret(guarded: Server) -> None:
    page = guarded.get("/")
    assert page.status_code == 200
    info = guarded.get("/api/info", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert info["auth_required"] is True
    assert info["links"]["grafana"] == "http://127.0.0.1:3000/grafana"
    openapi = guarded.get("/api/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert set(openapi["components"]["securitySchemes"]) == {"bearer", "tokenQuery"}
    assert SECRET not in guarded.output and TOKEN not in guarded.output


def test_an_exposed_dashboard_starts_with_a_token_and_demands_it(tmp_path: Path) -> None:
    scenarios = scenario_dir(tmp_path / "scenarios", fixtures=("broken",))
    with serving(scenarios, tmp_path / "reports", extra=("--lazy-stack", "--host", "0.0.0.0"), token=TOKEN) as server:
        assert server.url.startswith("http://0.0.0.0:")
        local = server.url.replace("0.0.0.0", "127.0.0.1")
        assert server.session.get(local + "/api/info", timeout=10).status_code == 200  # the session has the token
        assert server.session.get(local + "/api/info", headers={"Authorization": ""}, timeout=10).status_code == 401
        assert "(token required)" in server.output
