"""The dashboard's REST API against the real server and its embedded stack: every endpoint, its errors."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from obs_tests.config.contract import load_contract
from obs_tests.config.validation import load_schema

from .helpers import BOT_EXAMPLES, ROOT, Server

CONTRACT_SCALE = load_contract(ROOT / "obs.yaml").stack.time_scale  # the server's default

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def finished_run(server: Server) -> dict[str, Any]:
    """exchange-down, run once (verbose, recorded) to the end: its status document."""
    test_id = server.run("exchange-down", verbose=True, recording=True)
    return server.wait_finished(test_id)


def test_openapi_is_published_and_lists_every_endpoint(server: Server) -> None:
    doc = server.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/api/info",
        "/api/scenarios",
        "/api/scenarios/{name}",
        "/api/run",
        "/api/status/{test_id}",
        "/api/stop/{test_id}",
        "/api/runs",
        "/api/report/{test_id}.{format}",
        "/api/stream",
        "/api/stream.schema.json",
    }
    run_request = doc["components"]["schemas"]["RunRequest"]
    assert run_request["required"] == ["scenario"] and run_request["additionalProperties"] is False
    assert "security" not in doc  # no token on this server
    assert server.get("/api/stream.schema.json").json() == load_schema("stream")


def test_info_has_the_stack_links_and_every_component_running(server: Server) -> None:
    info = server.info()
    assert info["stack"]["state"] == "ready"
    assert info["stack"]["time_scale"] == pytest.approx(CONTRACT_SCALE)
    names = {c["name"]: c["state"] for c in info["stack"]["components"]}
    assert {"prometheus", "alertmanager", "exchange", "gateway"} <= set(names)
    assert set(names.values()) == {"running"}
    links = info["links"]
    assert links["prometheus_alerts"].endswith("/classic/alerts")
    assert links["alertmanager_api"].endswith("/api/v2/alerts")
    assert links["grafana"] is None
    assert info["auth_required"] is False


def test_scenarios_are_listed_with_their_validity(server: Server) -> None:
    doc = server.get("/api/scenarios").json()
    by_name = {s["name"]: s for s in doc["scenarios"]}
    assert set(by_name) == {"broken", "exchange-down", "long-pause", *BOT_EXAMPLES}
    assert by_name["exchange-down"]["valid"] is True
    assert by_name["exchange-down"]["must_fire"] == ["ExchangeDown", "BotPriceFetchFailing"]
    assert by_name["exchange-down"]["faults"] == [{"name": "kill-exchange", "kind": "kill", "target": "exchange"}]
    broken = by_name["broken"]
    assert broken["valid"] is False
    assert broken["error"]["line"] == 6
    assert broken["error"]["message"].startswith(
        "broken.yaml:6: steps[0].wait_for_alert.name: unknown alert 'GatewayDwn'"
    )
    assert doc["directory"] == "scenarios"  # the directory's name, never the server's paths
    assert str(ROOT) not in json.dumps(doc) and "/tmp" not in json.dumps(doc)


def test_scenario_preview_has_the_yaml(server: Server) -> None:
    doc = server.get("/api/scenarios/exchange-down").json()
    assert doc["valid"] is True and doc["error"] is None
    assert doc["yaml"] == (ROOT / "scenarios" / "exchange-down.yaml").read_text()
    assert server.get("/api/scenarios/exchange-down.yaml").json()["name"] == "exchange-down"


def test_broken_scenario_preview_names_the_line(server: Server) -> None:
    doc = server.get("/api/scenarios/broken").json()
    assert doc["valid"] is False
    assert doc["error"]["line"] == 6
    assert "did you mean 'GatewayDown'?" in doc["error"]["message"]
    assert doc["yaml"].splitlines()[5].strip().startswith("- wait_for_alert: {name: GatewayDwn")


def test_unknown_scenario_is_404(server: Server) -> None:
    response = server.get("/api/scenarios/no-such-scenario")
    assert response.status_code == 404
    assert response.json() == {
        "error": "no scenario 'no-such-scenario' — known: "
        + ", ".join(sorted(("broken", "exchange-down", "long-pause", *BOT_EXAMPLES))),
        "status": 404,
    }


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/scenarios/..%2F..%2Fobs.yaml", id="encoded-dotdot"),
        pytest.param("/api/scenarios/../../obs", id="dotdot"),
        pytest.param("/api/scenarios/%2Fetc%2Fpasswd", id="encoded-absolute"),
        pytest.param("/api/scenarios//etc/passwd", id="absolute"),
        pytest.param("/api/scenarios/scenarios%2Fexchange-down", id="subdirectory"),
        pytest.param("/api/scenarios/..", id="parent"),
        pytest.param("/api/scenarios/exchange-down.yaml%00.txt", id="nul-byte"),
        pytest.param("/api/scenarios/~root", id="tilde"),
    ],
)
def test_path_traversal_is_refused(server: Server, path: str) -> None:
    response = server.get(path)
    assert response.status_code in (400, 404), response.text
    body = response.json()
    assert body["status"] == response.status_code
    assert "root:" not in response.text and "version: 1" not in response.text


ED = "exchange-down"


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        pytest.param([], 400, "[] is not of type 'object'", id="not-an-object"),
        pytest.param({}, 400, "'scenario' is a required property", id="no-scenario"),
        pytest.param({"scenario": ED, "speed": 2}, 400, "'speed' was unexpected", id="unknown-field"),
        pytest.param({"scenario": ED, "verbose": "yes"}, 400, "verbose: 'yes' is not of type", id="verbose"),
        pytest.param({"scenario": ED, "time_scale": 0}, 400, "time_scale: 0 is out of range — allowed: 0 <", id="zero"),
        pytest.param({"scenario": ED, "time_scale": 2}, 400, "time_scale: 2 is out of range", id="scale-2"),
        pytest.param({"scenario": ED, "time_scale": "fast"}, 400, "time_scale: 'fast'", id="scale-text"),
        pytest.param({"scenario": ED, "load": "extreme"}, 400, "load: 'extreme' is not one of", id="load"),
        pytest.param({"scenario": "../obs"}, 400, "scenario: '../obs' does not match", id="traversal"),
        pytest.param({"scenario": "/etc/passwd"}, 400, "scenario: '/etc/passwd' does not match", id="absolute"),
        pytest.param({"scenario": 7}, 400, "scenario: 7 is not of type 'string'", id="number"),
        pytest.param({"scenario": "nope"}, 404, "no scenario 'nope'", id="unknown"),
        pytest.param({"scenario": "broken"}, 422, "broken.yaml:6: steps[0].wait_for_alert.name", id="invalid-file"),
    ],
)
def test_bad_run_requests_say_why(server: Server, body: Any, status: int, reason: str) -> None:
    response = server.post("/api/run", body)
    assert response.status_code == status, response.text
    assert reason in response.json()["error"]
    assert server.info()["active_run"] is None


def test_run_request_must_be_json(server: Server) -> None:
    form = server.post("/api/run", data="scenario=exchange-down")
    assert form.status_code == 415
    assert "application/json" in form.json()["error"]
    garbled = server.post("/api/run", data="{not json", headers={"Content-Type": "application/json"})
    assert garbled.status_code == 400
    assert garbled.json()["error"].startswith("request body is not valid JSON")
    huge = server.post("/api/run", data=b" " * 70_000, headers={"Content-Type": "application/json"})
    assert huge.status_code == 413


def test_a_run_passes_with_assertions_alerts_chaos_and_reports(server: Server, finished_run: dict[str, Any]) -> None:
    doc = finished_run
    assert doc["status"] == "passed", doc["error"] or doc["log"][-5:]
    assert doc["phase"] == "finished"
    assert doc["assertions_total"] == doc["assertions_passed"] > 10
    assert all(a["passed"] for a in doc["assertions"])
    (alert,) = [a for a in doc["alerts"] if a["alert"] == "ExchangeDown"]
    assert alert["expected"] is True and alert["state"] == "resolved"
    assert alert["fired_after"] <= alert["fire_bound"] + 2.0
    assert alert["firing_at"] is not None and alert["resolved_at"] > alert["firing_at"]
    assert doc["chaos"]["applied"] == doc["chaos"]["reverted"] == 1
    assert doc["chaos"]["active"] == []
    assert [f["name"] for f in doc["chaos"]["faults"]] == ["kill-exchange"]
    levels = {entry["level"] for entry in doc["log"]}
    assert {"INFO", "WARNING", "SUCCESS"} <= levels
    assert any(entry["message"].startswith("alert ExchangeDown") for entry in doc["log"])  # verbose
    kinds = {e["kind"] for e in doc["events"]}
    assert {"fault", "revert", "alert", "notification", "step"} <= kinds
    assert doc["options"] == {"verbose": True, "recording": True, "time_scale": None, "load": "scenario"}
    assert doc["time_scale"] == pytest.approx(CONTRACT_SCALE)


def test_reports_of_a_finished_run(server: Server, finished_run: dict[str, Any]) -> None:
    test_id = finished_run["test_id"]
    links = finished_run["report"]
    assert links == {
        "json": f"/api/report/{test_id}.json",
        "html": f"/api/report/{test_id}.html",
        "svg": f"/api/report/{test_id}.svg",
        "recording": f"/api/report/{test_id}.yml",
        "events": None,  # no bus events: exchange-down is no trading-bot scenario
    }
    assert finished_run["bot"] is None
    report = server.get(links["json"]).json()
    assert report["status"] == "passed" and report["test_id"] == test_id
    assert report["path"] == "exchange-down.yaml"
    assert report["assertions"]["passed"] == finished_run["assertions_passed"]
    html = server.get(links["html"])
    assert html.headers["content-type"].startswith("text/html")
    assert "<svg" in html.text and "ExchangeDown" in html.text
    assert "http://" not in html.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    svg = server.get(links["svg"])
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<svg") and "ExchangeDown" in svg.text
    recording = server.get(links["recording"])
    assert recording.status_code == 200
    assert "input_series:" in recording.text and "alertname: ExchangeDown" in recording.text
    assert "promtool test rules passes" in json.dumps(finished_run["log"])
    on_disk = server.report_dir / "dashboard" / test_id
    assert {p.name for p in on_disk.iterdir()} == {"report.json", "report.html", "recorded.yml"}


def test_runs_lists_the_history_newest_first(server: Server, finished_run: dict[str, Any]) -> None:
    doc = server.get("/api/runs").json()
    ids = [r["test_id"] for r in doc["runs"]]
    assert finished_run["test_id"] in ids
    assert ids == sorted(ids, reverse=True)
    (row,) = [r for r in doc["runs"] if r["test_id"] == finished_run["test_id"]]
    assert row["status"] == "passed" and row["assertions_total"] == finished_run["assertions_total"]
    assert server.get("/api/runs?limit=1").json()["runs"][0]["test_id"] == ids[0]
    assert server.get("/api/runs?limit=0").status_code == 400
    assert server.get("/api/runs?limit=abc").status_code == 400


def test_a_finished_run_cannot_be_stopped(server: Server, finished_run: dict[str, Any]) -> None:
    response = server.post(f"/api/stop/{finished_run['test_id']}")
    assert response.status_code == 409
    assert "already finished (passed)" in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/api/status/20200101-000000-abcdef", 404, id="status-unknown"),
        pytest.param("/api/status/not-an-id", 400, id="status-malformed"),
        pytest.param("/api/report/20200101-000000-abcdef.json", 404, id="report-unknown"),
        pytest.param("/api/report/..%2F..%2Fobs.json", 400, id="report-traversal"),
        pytest.param("/api/report/20200101-000000-abcdef.exe", 400, id="report-format"),
        pytest.param("/api/report/nothing", 400, id="report-malformed"),
        pytest.param("/api/nothing", 404, id="no-route"),
    ],
)
def test_unknown_and_malformed_ids(server: Server, path: str, status: int) -> None:
    response = server.get(path)
    assert response.status_code == status, response.text
    assert response.json()["status"] == status


def test_stop_unknown_run_is_404_and_get_on_post_routes_is_405(server: Server) -> None:
    assert server.post("/api/stop/20200101-000000-abcdef").status_code == 404
    response = server.get("/api/run")
    assert response.status_code == 405
    assert response.json()["status"] == 405


def test_second_run_is_409_and_stop_reverts_the_faults(idle: Server) -> None:
    server = idle
    test_id = server.run("long-pause")
    running = server.wait_fault_active(test_id)
    assert running["status"] == "running"
    assert running["chaos"]["active"] == ["pause-exchange"]
    states = {c["name"]: c["state"] for c in server.info()["stack"]["components"]}
    assert states["exchange"] == "paused"
    second = server.post("/api/run", {"scenario": "exchange-down"})
    assert second.status_code == 409
    assert second.json()["error"] == (
        f"run {test_id} (long-pause) is still going on this stack — one run at a time: wait for it to finish "
        f"or stop it (POST /api/stop/{test_id})"
    )
    report = server.get(f"/api/report/{test_id}.json")
    assert report.status_code == 409 and "still going" in report.json()["error"]

    stopped = server.post(f"/api/stop/{test_id}")
    assert stopped.status_code == 200, stopped.text
    doc = stopped.json()
    assert doc["status"] == "stopped" and doc["stopped"] is True and doc["faults_reverted"] is True
    assert doc["chaos"]["applied"] == doc["chaos"]["reverted"] >= 1
    assert doc["chaos"]["active"] == []
    assert doc["error"] == "stopped before the end (faults reverted)"
    assert any("stop requested" in e["message"] for e in doc["log"])
    states = {c["name"]: c["state"] for c in server.info()["stack"]["components"]}
    assert states["exchange"] == "running"
    assert server.info()["active_run"] is None
    assert server.get(f"/api/report/{test_id}.json").json()["status"] == "stopped"


def test_security_headers(server: Server) -> None:
    page = server.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    api = server.get("/api/info")
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["x-frame-options"] == "DENY"


def test_the_page_needs_nothing_from_the_network(server: Server) -> None:
    page = server.get("/").text
    script = server.get("/static/app.js")
    style = server.get("/static/app.css")
    assert script.status_code == style.status_code == 200
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    for text in (page, script.text, style.text):
        for needle in ("https://", "http://", "//cdn", "@import", "fonts.g"):
            assert needle not in text.replace("http://www.w3.org/2000/svg", ""), needle


def test_dns_rebinding_and_cross_origin_posts_are_refused(server: Server) -> None:
    rebound = server.get("/api/info", headers={"Host": "attacker.example:5558"})
    assert rebound.status_code == 403
    assert "loopback Host" in rebound.json()["error"]
    forged = server.post("/api/run", {"scenario": "exchange-down"}, headers={"Origin": "http://attacker.example"})
    assert forged.status_code == 403
    assert "cross-origin" in forged.json()["error"]
    assert server.info()["active_run"] is None


def test_stream_messages_of_the_run_are_valid(server: Server, finished_run: dict[str, Any]) -> None:
    """Replaying the finished run from the stream buffer: every message valid, consecutive numbers."""
    validator = jsonschema.Draft202012Validator(server.get("/api/stream.schema.json").json())
    from .helpers import sse_messages  # noqa: PLC0415

    seqs = []
    with server.session.get(
        server.url + f"/api/stream?since=0&test_id={finished_run['test_id']}", stream=True, timeout=30
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in sse_messages(response):
            validator.validate({k: v for k, v in message.items() if not k.startswith("_")})
            assert message["_id"] == str(message["seq"])
            seqs.append(message["seq"])
            if message["type"] == "run" and message["data"]["status"] != "running":
                break
    assert len(seqs) > 20 and seqs == sorted(seqs)


def test_changing_the_time_scale_restarts_the_stack(idle: Server) -> None:
    """Last of the module: leaves the stack at 0.05 (the next run at the default scale restarts it)."""
    server = idle
    test_id = server.run("long-pause", time_scale=0.05, load="none")
    running = server.wait_fault_active(test_id, timeout=150)
    assert running["time_scale"] == pytest.approx(0.05)
    assert any("waiting for the embedded stack at time scale 0.05" in e["message"] for e in running["log"])
    info = server.info()
    assert info["stack"]["time_scale"] == pytest.approx(0.05) and info["stack"]["state"] == "ready"
    doc = server.post(f"/api/stop/{test_id}").json()
    assert doc["status"] == "stopped" and doc["faults_reverted"] is True
