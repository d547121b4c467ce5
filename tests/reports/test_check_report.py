"""The report of an ``obs-tests check`` run: JSON valid against the published schema, one section per
family, coverage computed from the run (and not claimed when a run did not exercise it), HTML that is
self-contained and escapes everything, a Markdown summary for CI."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from obs_tests.config.validation import load_schema
from obs_tests.reports.check_report import (
    FAMILIES,
    build_report,
    load_scenario_results,
    render_html,
    render_markdown,
    write_reports,
)
from obs_tests.workloads.load_report import load_report

SCHEMA = load_schema("report")


def _test(family: str, name: str, outcome: str = "passed", message: str = "", summary: str = "") -> dict[str, Any]:
    return {
        "nodeid": f"obs_tests/suite/test_{family}.py::{name}",
        "family": family,
        "name": name,
        "outcome": outcome,
        "duration": 0.25,
        "summary": summary,
        "message": message,
    }


def _summary(tests: list[dict[str, Any]], sections: dict[str, Any] | None = None) -> dict[str, Any]:
    counts = {o: sum(t["outcome"] == o for t in tests) for o in ("passed", "failed", "error", "skipped")}
    return {
        "counts": counts,
        "duration_seconds": 12.5,
        "tests": tests,
        "sections": sections or {},
        "contract": "obs.yaml",
        "stack": "embedded stack",
    }


def _scenario(alert: str, fired: bool = True, cleared: bool = True) -> dict[str, Any]:
    return {
        "scenario": {"name": f"{alert} scenario", "id": f"{alert.lower()}-scenario", "description": ""},
        "status": "passed" if cleared else "failed",
        "duration": 8.0,
        "alerts": [
            {
                "alert": alert,
                "fault": "kill-gateway",
                "firing_at": 3.7 if fired else None,
                "fired_after": 2.7 if fired else None,
                "notified_after": 0.9 if fired else None,
                "resolved_at": 4.7 if cleared else None,
                "resolved_after": 0.6 if cleared else None,
                "detection_overhead": 0.07,
            }
        ],
    }


SECTIONS = {
    "metrics_coverage": {
        "declared": ["a_total", "b"],
        "exported_count": 40,
        "referenced": {"a_total": ["rule X"], "c": ["panel Y"]},
        "declared_missing": [],
        "referenced_missing": ["c"],
        "exported_unused": [],
    },
    "dashboards_coverage": {"panels_total": 30, "panels_with_data": 27, "panels_declared_empty": 3},
    "health": {"summary": "HEALTH OK: 16 ok | targets_up=12", "status": "OK", "checks": []},
}


def test_full_report_is_valid_and_computes_coverage() -> None:
    tests = [_test(f, f"test_{f}") for f in FAMILIES]
    scenarios = [_scenario("GatewayDown"), _scenario("AgentStalled", cleared=False)]
    document = build_report(
        _summary(tests, SECTIONS),
        scenarios=scenarios,
        alerts=["GatewayDown", "AgentStalled", "NATSDown", "Watchdog"],
        always_firing=["Watchdog"],
    )
    jsonschema.validate(document, SCHEMA)
    assert document["status"] == "passed"
    assert list(document["families"])[: len(FAMILIES)] == list(FAMILIES)
    assert document["coverage"]["alerts"] == {
        "total": 3,
        "always_firing": ["Watchdog"],
        "exercised": 1,
        "exercised_alerts": ["GatewayDown"],
        "fired_not_cleared": ["AgentStalled"],
        "not_exercised": ["NATSDown"],
        "not_applicable": None,
    }
    assert "1/3 (33%) (always firing, not counted: Watchdog)" in render_markdown(document)
    assert document["coverage"]["panels"] == {"total": 30, "with_data": 27, "declared_empty": 3}
    assert document["coverage"]["metrics"] == {
        "declared": 2,
        "exported": 40,
        "referenced": 2,
        "declared_missing": [],
        "referenced_missing": ["c"],
    }
    assert document["health"]["status"] == "OK"
    assert "health" not in document["sections"]
    assert document["chaos"]["scenarios"][0]["alerts"][0]["fired_after"] == 2.7


def test_failed_test_fails_the_report_and_its_family() -> None:
    tests = [
        _test("targets", "test_job_targets_up[gateway]", "failed", "target 127.0.0.1:1 is DOWN"),
        _test("rules", "x"),
    ]
    document = build_report(_summary(tests))
    jsonschema.validate(document, SCHEMA)
    assert document["status"] == "failed"
    assert document["families"]["targets"]["status"] == "failed"
    assert document["families"]["rules"]["status"] == "passed"
    assert document["families"]["chaos"]["status"] == "not run"
    markdown = render_markdown(document)
    assert markdown.startswith("## obs-tests check — ❌ failed")
    assert "| targets | ❌ failed | 0 | 1 | 0 |" in markdown
    assert "- `targets: test_job_targets_up[gateway]` — target 127.0.0.1:1 is DOWN" in markdown


def test_nothing_measured_is_not_claimed() -> None:
    document = build_report(_summary([_test("targets", "t")]), alerts=["GatewayDown"])
    jsonschema.validate(document, SCHEMA)
    assert document["coverage"]["panels"] is None
    assert document["coverage"]["metrics"] is None
    assert document["coverage"]["alerts"]["exercised"] == 0
    markdown = render_markdown(document)
    assert "dashboard panels with data: not measured" in markdown
    assert "alerts exercised (fired and cleared): 0/1 (0%)" in markdown


def test_scenario_coverage_on_a_stack_where_scenarios_cannot_run_is_not_applicable() -> None:
    """Defect 3: a Prometheus of yours by URL runs no scenario: the report says why, not "0/74 exercised"."""
    reason = "the chaos scenarios inject faults into the embedded stack; this run checks http://prom:9090"
    sections = {"scenario_coverage": {"applicable": False, "reason": reason}}
    document = build_report(_summary([_test("chaos", "t", "skipped")], sections), alerts=["HostDown", "RedisDown"])
    jsonschema.validate(document, SCHEMA)
    assert document["coverage"]["alerts"]["not_applicable"] == reason
    markdown = render_markdown(document)
    assert f"alerts exercised (fired and cleared): not applicable — {reason}" in markdown
    assert "0/2" not in markdown
    page = render_html(document)
    assert "not applicable — the chaos scenarios inject faults" in page and "Alerts not exercised" not in page


def test_html_is_self_contained_and_escaped() -> None:
    evil = "<script>alert('x')</script>"
    tests = [_test("metrics", evil, "failed", message=f"value {evil} & more", summary=evil)]
    page = render_html(build_report(_summary(tests, SECTIONS), scenarios=[_scenario("GatewayDown")]))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page  # MarkupSafe writes ' as &#39;
    assert "http://" not in page and "https://" not in page  # no external assets
    assert "Chaos timings" in page and "2.70s" in page
    assert "HEALTH OK: 16 ok" in page


def test_every_user_string_on_the_page_is_escaped_by_the_template_engine() -> None:
    """Alert names, lane and scenario names, faults, bound sources, health checks, the contract and the stack:
    each is printed by the template engine, which escapes it — no hand-written escaping to forget."""
    evil = '<script>alert("x")</script>'
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    scenario = _laned(f"scenario {evil}", f"lane {evil}", 1_005.0, 1_020.0, "failed")
    scenario["alerts"][0].update(
        alert=f"Alert{evil}", fault=f"fault {evil}", limits={"fire": 10.0}, bound_source={"fire": evil}
    )
    health = {"summary": f"HEALTH {evil}", "status": evil, "checks": [{"name": evil, "status": "OK", "summary": evil}]}
    summary = _summary([_test("chaos", "t")], {"health": health}) | {"contract": evil, "stack": evil}
    alerts = [f"Alert{evil}", f"Never{evil}"]
    page = render_html(build_report(summary, scenarios=[scenario], alerts=alerts, started_at=1_000.0))
    assert "<script" not in page
    for shown in (
        f"{escaped} · contract {escaped} ·",  # the header: stack and contract
        f"never fired by a scenario: Never{escaped}</p>",
        f'font-size="12">lane {escaped}</text>',  # the lane chart
        f"<title>scenario {escaped} — failed on lane {escaped},",
        f"<td>scenario {escaped}<div class=muted>lane {escaped}</div></td>",  # the chaos timings
        f"<td>Alert{escaped}</td><td>fault {escaped}</td>",
        f"10.00s <span class=muted>{escaped}</span>",
        f'<span class="badge b-{escaped}">{escaped}</span> HEALTH {escaped}</p>',
        f"<td>{escaped}</td><td>{escaped}</td></tr>",  # a health check
    ):
        assert shown in page


def test_markdown_table_cells_and_list_items_stay_on_one_line() -> None:
    tests = [_test("targets", "t", "failed", "a | b\nsecond line")]
    summary = _summary(tests) | {"stack": "stack | with\nnewline"}
    markdown = render_markdown(build_report(summary))
    assert "· stack \\| with newline ·" in markdown
    assert "- `targets: t` — a \\| b\n" in markdown


def test_schema_rejects_a_wrong_document() -> None:
    document = build_report(_summary([]))
    del document["families"]["health"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA)


def test_scenario_results_of_this_run_only(tmp_path: Path) -> None:
    old = tmp_path / "scenarios" / "20260101-000000" / "gateway-down.json"
    new = tmp_path / "scenarios" / "20260102-000000" / "agent-stalled.json"
    for path, doc in ((old, _scenario("GatewayDown")), (new, _scenario("AgentStalled"))):
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(doc))
    (new.parent / "broken.json").write_text("{not json")
    start = time.time() - 5
    os.utime(old, (start - 100, start - 100))
    assert [d["scenario"]["id"] for d in load_scenario_results(tmp_path, since=start)] == ["agentstalled-scenario"]
    assert load_scenario_results(tmp_path / "nothing", since=0) == []


def test_write_reports(tmp_path: Path) -> None:
    written = write_reports(build_report(_summary([_test("targets", "t")])), tmp_path / "out")
    assert sorted(p.name for p in written) == ["report.html", "report.json", "summary.md"]
    jsonschema.validate(json.loads((tmp_path / "out" / "report.json").read_text()), SCHEMA)


def test_run_reports_from_the_contract(tmp_path: Path) -> None:
    from obs_tests.config.contract import load_contract  # noqa: PLC0415
    from obs_tests.reports.check_report import write_run_reports  # noqa: PLC0415

    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps(_summary([_test("targets", "t")])))
    contract = load_contract(Path(__file__).resolve().parents[2] / "obs.yaml")
    write_run_reports(summary, tmp_path, contract, since=0)
    document = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["coverage"]["alerts"]["always_firing"] == ["Watchdog"]
    assert document["coverage"]["alerts"]["total"] >= 10
    assert "GatewayDown" in document["coverage"]["alerts"]["not_exercised"]


def _laned(name: str, lane: str, began: float, finished: float, status: str = "passed") -> dict[str, Any]:
    doc = _scenario("GatewayDown")
    doc.update(scenario=name, status=status, lane=lane, began_at=began, started_at=began + 1, finished_at=finished)
    doc["duration"] = finished - began - 1
    return doc


def test_the_check_report_shows_which_stack_ran_which_scenario_and_when() -> None:
    """The check report had no timeline of the scenario lanes: which stack ran which scenario, from when to when."""
    start = 1_000.0
    scenarios = [
        _laned("gateway-down", "stack 2", start + 5, start + 25),
        _laned("exchange-down", "stack 3", start + 6, start + 20, "failed"),
        _laned("redis-<down>", "stack 2", start + 26, start + 40),
    ]
    document = build_report(_summary([_test("chaos", "t")]), scenarios=scenarios, started_at=start)
    jsonschema.validate(document, SCHEMA)
    rows = [
        (r["scenario"], r["lane"], r["started_offset_seconds"], r["ended_offset_seconds"])
        for r in document["chaos"]["scenarios"]
    ]
    assert rows == [
        ("gateway-down", "stack 2", 5.0, 25.0),
        ("exchange-down", "stack 3", 6.0, 20.0),
        ("redis-<down>", "stack 2", 26.0, 40.0),
    ]
    page = render_html(document)
    assert "<h2>Scenario lanes</h2>" in page
    svg = page[page.index('<svg xmlns="http://www.w3.org/2000/svg"') : page.index("</svg>") + 6]
    assert 'aria-label="scenario lanes"' in svg
    assert re.findall(r'<text x="4" y="\d+" font-size="12">([^<]*)</text>', svg) == ["stack 2", "stack 3"]
    bars = re.findall(r'<rect [^>]*fill="(#[0-9a-f]+)"[^>]*><title>([^<]*)</title>', svg)
    assert bars == [  # lane by lane
        ("#1f7a4d", "gateway-down — passed on stack 2, +5.0s to +25.0s (20.0s)"),
        ("#1f7a4d", "redis-&lt;down&gt; — passed on stack 2, +26.0s to +40.0s (14.0s)"),
        ("#b3261e", "exchange-down — failed on stack 3, +6.0s to +20.0s (14.0s)"),
    ]
    assert "<down>" not in page


def test_scenarios_without_recorded_times_draw_no_lanes() -> None:
    scenario = _scenario("GatewayDown")  # a result document without began_at/started_at
    document = build_report(_summary([_test("chaos", "t")]), scenarios=[scenario])
    jsonschema.validate(document, SCHEMA)
    assert document["chaos"]["scenarios"][0]["started_offset_seconds"] is None
    assert "Scenario lanes" not in render_html(document)


def test_the_check_report_carries_the_limit_and_its_source() -> None:
    scenario = _scenario("GatewayDown")
    scenario["alerts"][0].update(limits={"fire": 10.0}, bound_source={"fire": "within"})
    document = build_report(_summary([_test("chaos", "t")]), scenarios=[scenario])
    jsonschema.validate(document, SCHEMA)
    assert document["chaos"]["scenarios"][0]["alerts"][0]["bound_source"] == {"fire": "within"}
    assert "10.00s <span class=muted>set in the scenario</span>" in render_html(document)


def _load_section(gateway: dict[str, Any] | None) -> dict[str, Any]:
    stats = json.loads((Path(__file__).resolve().parent.parent / "fixtures" / "load" / "locust_mixed.json").read_text())
    return {"test_accounting_under_load": load_report(stats).to_json() | {"gateway": gateway}}


_GATEWAY = {"metric": "gateway_processing_duration_seconds", "started_at": 1.0, "ended_at": 6.0, "requests": 458.0,
            "p50_ms": 21.3, "p95_ms": 44.0, "p99_ms": 180.0, "note": ""}  # fmt: skip


def test_the_load_section_shows_locusts_table_next_to_the_gateway_histogram() -> None:
    tests = [_test("load", "test_accounting_under_load")]
    document = build_report(_summary(tests, {"load": _load_section(_GATEWAY)}))
    jsonschema.validate(document, SCHEMA)
    assert "load" not in document["sections"]
    (entry,) = document["load"]
    assert entry["check"] == "test_accounting_under_load"
    assert entry["report"]["total"]["requests"] == 460 and entry["report"]["gateway"]["requests"] == 458.0
    page = render_html(document)
    load = page[page.index('<section id="load-test_accounting_under_load">') :]
    assert re.search(r"<tr><td>signal</td><td class=num>414</td><td class=num>41</td><td class=num>90.1%</td>", load)
    assert "<td>gateway histogram gateway_processing_duration_seconds</td><td class=num>458</td>" in load
    markdown = render_markdown(document)
    assert "**Load: test_accounting_under_load**" in markdown
    assert "| Aggregated | 460 | 41 | 91.1% |" in markdown


def test_a_load_report_with_a_gateway_that_could_not_say_is_valid_and_says_why() -> None:
    missing = {**_GATEWAY, "requests": None, "p50_ms": None, "p95_ms": None, "p99_ms": None,
               "note": "PrometheusUnreachable: connection refused"}  # fmt: skip
    document = build_report(_summary([_test("load", "t")], {"load": _load_section(missing)}))
    jsonschema.validate(document, SCHEMA)
    assert "PrometheusUnreachable: connection refused" in render_html(document)


def test_the_schema_rejects_a_load_row_without_its_numbers() -> None:
    document = build_report(_summary([_test("load", "t")], {"load": _load_section(None)}))
    del document["load"][0]["report"]["rows"][0]["p99_ms"]
    with pytest.raises(jsonschema.ValidationError, match="p99_ms"):
        jsonschema.validate(document, SCHEMA)


def test_a_run_without_load_checks_has_no_load_section() -> None:
    document = build_report(_summary([_test("targets", "t")]))
    assert document["load"] == []
    assert "Load:" not in render_html(document) and "**Load" not in render_markdown(document)


def test_the_reports_say_which_checks_the_run_selected() -> None:
    """`obs-tests check -m 'integration and not load' -k alert`: a report of part of the checks says so."""
    summary = {
        **_summary([_test("alerting", "t")]),
        "selection": {"markers": "integration and not load", "keyword": "alert"},
    }
    document = build_report(summary)
    jsonschema.validate(document, SCHEMA)
    assert document["selection"] == {"markers": "integration and not load", "keyword": "alert"}
    assert "selected: `-m integration and not load` `-k alert`" in render_markdown(document)
    assert "selected: <code>-m integration and not load</code> <code>-k alert</code>" in render_html(document)
    everything = build_report({**_summary([_test("alerting", "t")]), "selection": {"markers": None, "keyword": None}})
    assert everything["selection"] == {"markers": None, "keyword": None}
    assert "selected:" not in render_markdown(everything) + render_html(everything)
    assert build_report(_summary([_test("alerting", "t")]))["selection"] == {"markers": None, "keyword": None}
