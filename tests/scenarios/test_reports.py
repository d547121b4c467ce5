"""The scenario reports (HTML, Markdown) from hand-built results: a summary table over several scenarios,
a steady state told in a sentence instead of an empty chart, and the limit that judged each phase."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from obs_tests.scenarios.bounds import AlertBounds
from obs_tests.scenarios.reports import render_html, render_markdown, render_timeline_svg
from obs_tests.scenarios.results import AlertTiming, AssertionResult, ScenarioResult
from obs_tests.workloads.load_report import load_report

BOUNDS = AlertBounds("X", 1.0, 1.0, 1.0, 1, 3.0, 0.0, 0.0, 1.0, 2.0)  # fire bound 6.0s, clear bound 2.0s
START = 1_000.0

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _timing(alert: str, fired: float, resolved: float, limits: dict[str, float], given: set[str]) -> AlertTiming:
    timing = AlertTiming(alert, "kill", BOUNDS, fault_at=START + 1, firing_at=START + 1 + fired)
    timing.reverted_at, timing.resolved_at = START + 20, START + 20 + resolved
    timing.limits, timing.given = limits, given
    return timing


def _silent(alert: str, fired_at: float | None = None) -> AssertionResult:
    if fired_at is None:
        return AssertionResult(f"{alert} must not fire", True, "never firing", "never firing")
    return AssertionResult(f"{alert} must not fire", False, "never firing", f"firing at +{fired_at}s", "fired")


def _doc(
    name: str,
    status: str = "passed",
    alerts: tuple[AlertTiming, ...] = (),
    assertions: tuple[AssertionResult, ...] = (),
    faults: tuple[str, ...] = ("kill",),
    error: str = "",
    kind: str = "chaos",
) -> dict[str, Any]:
    result = ScenarioResult(
        name,
        f"scenarios/{name}.yaml",
        "",
        status=status,
        type=kind,
        started_at=START,
        finished_at=START + 12.5,
        assertions=list(assertions),
        alerts=list(alerts),
        error=error,
        chaos={
            "applied": len(faults),
            "reverted": len(faults),
            "errors": [],
            "faults": [{"name": f, "what": f"{f} it", "applied_at": 1.0, "reverted_at": 20.0} for f in faults],
        },
    )
    return result.to_json()


def _gateway_down() -> dict[str, Any]:
    timing = _timing("GatewayDown", 5.1, 3.5, {"fire": 8.0, "clear": 4.0}, set())  # margins 2.9 and 0.5
    return _doc("gateway-down", alerts=(timing,), assertions=(AssertionResult("GatewayDown fires", True, "", ""),))


def _exchange_down() -> dict[str, Any]:
    timing = _timing("ExchangeDown", 12.0, 1.0, {"fire": 10.0, "clear": 4.0}, {"fire"})
    failed = AssertionResult("ExchangeDown fires", False, "", "", "fired, but 12.0s after the fault")
    return _doc("exchange-down", "failed", alerts=(timing,), assertions=(failed,))


def _steady(*assertions: AssertionResult, status: str = "passed") -> dict[str, Any]:
    return _doc("steady-state", status, assertions=assertions, faults=(), kind="steady_state")


def _section(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}">')
    return page[start : page.index("</section>", start)]


def test_several_scenarios_get_a_summary_table_linking_to_their_sections() -> None:
    evil = _doc("<b>evil</b>", "error", error="StackStartError: <script>x</script>", faults=())
    docs = [_gateway_down(), _exchange_down(), _steady(_silent("RedisDown")), evil]
    page = render_html(docs)
    top = page[: page.index("<section")]
    assert '<table class="summary">' in top
    rows = re.findall(r"<tr class=\"(?:ok|bad)\">(.*?)</tr>", top)
    assert len(rows) == 4
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in rows]
    assert cells[0][0] == '<a href="#s1-gateway-down">gateway-down</a>'
    assert cells[0][1:] == [
        '<span class="status passed">passed</span>',
        "12.5s",
        "1 must fire · 0 must not fire",
        "worst margin 0.50s (GatewayDown clear)",
    ]
    assert cells[1][1] == '<span class="status failed">failed</span>'
    assert cells[1][4] == "ExchangeDown fires: fired, but 12.0s after the fault"
    assert cells[2][3:] == ["0 must fire · 1 must not fire", "no timed phase"]
    assert cells[3][0] == '<a href="#s4-b-evil-b">&lt;b&gt;evil&lt;/b&gt;</a>'
    assert cells[3][4] == "StackStartError: &lt;script&gt;x&lt;/script&gt;"
    for anchor in re.findall(r'href="#([^"]+)"', top):  # every link lands on its scenario's section
        assert page.count(f'<section id="{anchor}">') == 1
    assert "<b>" not in page and "<script>" not in page


def test_a_single_scenario_report_has_no_summary_table() -> None:
    assert 'class="summary"' not in render_html([_gateway_down()])


def test_a_steady_state_says_what_it_asserted_instead_of_an_empty_chart() -> None:
    held = AssertionResult("signals accepted", True, "increase >= 100", "340")
    page = render_html([_steady(_silent("GatewayDown"), _silent("RedisDown"), held)])
    section = _section(page, "s1-steady-state")
    assert "<svg" not in section and "Alerts: measured" not in section and "<h3>Chaos</h3>" not in section
    assert (
        "Steady state: no fault was injected and no alert was expected to fire. None of the 2 alerts that must "
        "stay silent fired during the 12.5 s run; held: signals accepted." in section
    )
    assert "<h3>Assertions</h3>" in section  # the rows it judged are still listed


def test_a_steady_state_that_paged_says_which_alert_fired() -> None:
    broken = AssertionResult("no workflow failed", False, "increase <= 0", "3")
    page = render_html([_steady(_silent("GatewayDown"), _silent("RedisDown", 4.2), broken, status="failed")])
    assert (
        "1 of the 2 alerts that must stay silent fired during the 12.5 s run: RedisDown; did not hold: "
        "no workflow failed." in _section(page, "s1-steady-state")
    )


def test_a_scenario_with_alerts_keeps_its_chart_and_table() -> None:
    section = _section(render_html([_gateway_down()]), "s1-gateway-down")
    assert "<svg" in section and "Alerts: measured vs the limit that judged them" in section


def test_the_tables_show_the_limit_that_judged_and_its_source() -> None:
    """The tables showed the computed fire bound (6.00) although the scenario's within: 10 judged it."""
    docs = [_gateway_down(), _exchange_down()]
    page = render_html(docs)
    exchange = _section(page, "s2-exchange-down")
    assert "<td>10.00 (within, set in the scenario)</td>" in exchange
    assert "<td>8.00 (computed bound + tolerance)</td>" in _section(page, "s1-gateway-down")
    assert "<title>fire limit 10.00s (within, set in the scenario)</title>" in exchange
    markdown = render_markdown(docs)
    assert (
        "| exchange-down | ExchangeDown | 12.00 | 10.00 (within, set in the scenario) | 1.00 | "
        "4.00 (computed bound + tolerance) |" in markdown
    )
    assert "| gateway-down | GatewayDown | 5.10 | 8.00 (computed bound + tolerance) |" in markdown


def test_a_report_without_limits_falls_back_to_the_computed_bound() -> None:
    doc = _gateway_down()
    for alert in doc["alerts"]:
        del alert["limits"], alert["bound_source"]
    assert "<td>6.00 (computed bound)</td>" in render_html([doc])


def test_every_user_string_in_the_report_and_its_chart_is_escaped_by_the_template_engine() -> None:
    """Scenario, alert, fault and assertion texts are printed by the template engine, which escapes them —
    in an attribute (the chart's aria-label) as well as in text."""
    evil = '<script>alert("x")</script>'
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    timing = _timing(f"Alert{evil}", 5.1, 3.5, {"fire": 8.0}, set())
    timing.fault = f"fault {evil}"
    failed = AssertionResult(f"name {evil}", False, f"expected {evil}", f"actual {evil}", f"message {evil}")
    doc = _doc(f"scenario {evil}", "failed", alerts=(timing,), assertions=(failed,), faults=(f"kill {evil}",))
    doc["scenario"]["description"] = f"description {evil}"
    page = render_html([doc, _gateway_down()])
    svg = render_timeline_svg(doc)
    assert svg.startswith("<svg")
    assert "<script" not in page and "<script" not in svg
    assert f'aria-label="timeline of scenario {escaped}"' in svg
    assert f'font-size="12">Alert{escaped}</text>' in svg
    for shown in (
        f'<td><a href="#s1-scenario-script-alert-x-script">scenario {escaped}</a></td>',
        f"<td>name {escaped}: message {escaped}</td>",  # why it failed, in the summary table
        f"<p>description {escaped}</p>",
        f"<tr><td>Alert{escaped}</td><td>fault {escaped}</td>",
        f"<td>name {escaped}</td><td>expected {escaped}</td><td>actual {escaped}</td><td>message {escaped}</td>",
        f"<li>kill {escaped}: kill {escaped} it — applied +1.00, reverted +20.00</li>",
    ):
        assert shown in page


def _with_load(doc: dict[str, Any], gateway: dict[str, Any] | None) -> dict[str, Any]:
    """``doc`` with the setup load of a recorded Locust run (with failures) and the gateway's view of it."""
    stats = json.loads((FIXTURES / "load" / "locust_mixed.json").read_text())
    report = load_report(stats).to_json() | {"gateway": gateway}
    return doc | {"load": {"requests": report["total"]["requests"], "failures": 41, "report": report}}


_GATEWAY = {"metric": "gateway_processing_duration_seconds", "started_at": 1.0, "ended_at": 6.0, "requests": 458.0,
            "p50_ms": 21.3, "p95_ms": 44.0, "p99_ms": 180.0, "note": ""}  # fmt: skip


def test_a_scenario_with_load_shows_locusts_table_next_to_the_gateway_histogram() -> None:
    doc = _with_load(_gateway_down(), _GATEWAY)
    page = render_html([doc])
    load = page[page.index("<h3>Load (Locust): 460 requests, 41 failures</h3>") :]
    signal = re.search(r"<tr><td>signal</td>(.*?)</tr>", load)
    assert signal is not None
    cells = re.findall(r"<td class=num>(.*?)</td>", signal.group(1))
    assert cells == ["414", "41", "90.1%", "24", "21", "43", "190", "326", "100.6"]
    assert '<tr class="total"><td>Aggregated</td><td class=num>460</td><td class=num>41</td>' in load
    assert "<td>gateway histogram gateway_processing_duration_seconds</td><td class=num>458</td>" in load
    markdown = render_markdown([doc])
    assert "| signal | 414 | 41 | 90.1% | 24 | 21 | 43 | 190 | 326 | 100.6 |" in markdown
    assert "| gateway histogram `gateway_processing_duration_seconds` | 458 | 21 | 44 | 180 |" in markdown


def test_a_scenario_whose_load_sent_nothing_says_so() -> None:
    empty = load_report([]).to_json()
    doc = _gateway_down() | {"load": {"requests": 0, "failures": 0, "report": empty}}
    assert "Locust sent no request: no response time or rate to report (0 requests)." in render_html([doc])
    assert "Locust sent no request" in render_markdown([doc])


def test_a_gateway_histogram_that_could_not_be_read_says_why() -> None:
    missing = {**_GATEWAY, "requests": None, "p50_ms": None, "p95_ms": None, "p99_ms": None,
               "note": "Prometheus has no series gateway_processing_duration_seconds_count"}  # fmt: skip
    page = render_html([_with_load(_gateway_down(), missing)])
    assert "<td>gateway histogram gateway_processing_duration_seconds</td><td class=num>—</td>" in page
    assert "Prometheus has no series gateway_processing_duration_seconds_count" in page


def test_a_scenario_without_load_has_no_load_section() -> None:
    assert "Load (Locust)" not in render_html([_gateway_down()])
    assert "## Load" not in render_markdown([_gateway_down()])


def test_a_scenarios_load_steps_each_get_their_table() -> None:
    stats = json.loads((FIXTURES / "load" / "locust_clean.json").read_text())
    step = {"users": 4, "requests": 390, "failures": 0, "report": load_report(stats).to_json()}
    doc = _gateway_down() | {"load_steps": [step]}
    page = render_html([doc])
    assert "<h3>Load step 1 (Locust, 4 users): 390 requests, 0 failures</h3>" in page
    assert '<tr class="total"><td>Aggregated</td><td class=num>390</td>' in page
    assert "## Load step 1: gateway-down" in render_markdown([doc])
    assert "| Aggregated | 390 | 0 | 100.0% |" in render_markdown([doc])
    background = _gateway_down() | {"load_steps": [step | {"background": True}]}
    assert "(Locust, 4 users, in the background until the scenario stopped it)" in render_html([background])
    assert "gateway-down (in the background until the scenario stopped it)" in render_markdown([background])
