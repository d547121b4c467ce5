"""The scenario reports (HTML, Markdown) from hand-built results: a summary table over several scenarios,
a steady state told in a sentence instead of an empty chart, and the limit that judged each phase."""

from __future__ import annotations

import re
from typing import Any

from obs_tests.scenarios.bounds import AlertBounds
from obs_tests.scenarios.reports import render_html, render_markdown, render_timeline_svg
from obs_tests.scenarios.results import AlertTiming, AssertionResult, ScenarioResult

BOUNDS = AlertBounds("X", 1.0, 1.0, 1.0, 1, 3.0, 0.0, 0.0, 1.0, 2.0)  # fire bound 6.0s, clear bound 2.0s
START = 1_000.0


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
