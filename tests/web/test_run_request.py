"""``POST /api/run``'s ``verbose`` and ``recording`` against the real server, with no stack: every bad value
is refused with 400 naming the field and what is wrong, before anything runs; good values get past the
body's validation (the scenario is then unknown, 404, or invalid, 422 — so nothing starts)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from .helpers import FIXTURES, ROOT, Server, serving

pytestmark = pytest.mark.slow

BOT = "trading-flash-crash-recovery"


@pytest.fixture(scope="module")
def lazy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("run-request")
    scenarios = root / "scenarios"
    scenarios.mkdir()
    shutil.copy(FIXTURES / "broken.yaml", scenarios / "broken.yaml")
    for name in (BOT, "exchange-down"):
        shutil.copy(ROOT / "scenarios" / f"{name}.yaml", scenarios / f"{name}.yaml")
    with serving(scenarios, root / "reports", extra=("--lazy-stack",)) as server:
        yield server
        info = server.info()
        assert info["stack"]["state"] == "stopped" and info["active_run"] is None  # nothing ever started
        assert server.get("/api/runs").json()["runs"] == []
        assert not (root / "reports" / "dashboard").exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(
            {"recording": "../../../etc/cron.d/x.json"},
            "recording: '../../../etc/cron.d/x.json' — give a file name, not a path: the recording goes to the "
            "run's recordings/ directory",
            id="traversal",
        ),
        pytest.param({"recording": "/tmp/x.json"}, "recording: '/tmp/x.json' — give a file name", id="absolute"),
        pytest.param({"recording": "..\\x.json"}, "give a file name, not a path", id="backslash"),
        pytest.param({"recording": ".x.json"}, "recording: '.x.json' — a file name may not start with a dot", id="dot"),
        pytest.param({"recording": "x.yml"}, "recording: 'x.yml' — a recording is JSON: end the file name with .json"),
        pytest.param({"recording": ""}, "recording: an empty file name", id="empty"),
        pytest.param({"recording": "a b.json"}, "use letters, digits, '.', '_', '-' and {scenario_name} only"),
        pytest.param({"recording": "x" * 300 + ".json"}, "is 305 characters long — at most 120", id="long"),
        pytest.param({"recording": 1}, "recording: 1 is not of type 'boolean', 'string', 'null'", id="number"),
        pytest.param({"recording": ["x.json"]}, "recording: ['x.json'] is not of type", id="list"),
        pytest.param({"verbose": "yes"}, "verbose: 'yes' is not of type 'boolean'", id="verbose-text"),
        pytest.param({"verbose": None}, "verbose: None is not of type 'boolean'", id="verbose-null"),
    ],
)
def test_bad_verbose_and_recording_are_refused_with_the_reason(
    lazy_server: Server, body: dict[str, Any], error: str
) -> None:
    response = lazy_server.post("/api/run", {"scenario": BOT, **body})
    assert response.status_code == 400, response.text
    assert response.json() == {"error": response.json()["error"], "status": 400}
    assert error in response.json()["error"]
    assert "Traceback" not in response.text


def test_a_file_name_for_a_scenario_without_bot_events_is_refused(lazy_server: Server) -> None:
    response = lazy_server.post("/api/run", {"scenario": "exchange-down", "recording": "x.json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == (
        "recording: a file name records a trading-bot scenario's bus events — exchange-down.yaml has no "
        "setup.bot or setup.replay (true records its alerts as a promtool test)"
    )


@pytest.mark.parametrize(
    "options",
    [
        {"verbose": True, "recording": True},
        {"verbose": False, "recording": False},
        {"recording": None},
        {"verbose": True, "recording": "crash-{scenario_name}.json"},
    ],
)
def test_good_verbose_and_recording_pass_the_body_validation(lazy_server: Server, options: dict[str, Any]) -> None:
    unknown = lazy_server.post("/api/run", {"scenario": "nope", **options})
    assert unknown.status_code == 404, unknown.text  # past the body: the scenario is looked up
    invalid = lazy_server.post("/api/run", {"scenario": "broken", **options})
    assert invalid.status_code == 422, invalid.text


def test_the_published_request_schema_states_the_recording_rule(lazy_server: Server) -> None:
    schema = lazy_server.get("/api/openapi.json").json()["components"]["schemas"]["RunRequest"]
    recording = schema["properties"]["recording"]
    assert recording["type"] == ["boolean", "string", "null"] and recording["maxLength"] == 120
    assert "never outside it" in recording["description"]
    assert "bus event" in schema["properties"]["verbose"]["description"]
    assert recording["pattern"].endswith(r"\.json$") and "/" not in recording["pattern"]
