"""The dashboard page in headless Chromium (selenium) against the real server and its embedded stack.

Screenshots go to reports/web/ (a CI artifact)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from obs_tests.dashboards.browser import browser_available, chromium

from .helpers import BOT_EXAMPLES, ROOT, Server, scenario_dir, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.stack,
    pytest.mark.slow,
    pytest.mark.skipif(bool(browser_available()), reason=browser_available() or ""),
]
SHOTS = ROOT / "reports" / "web"


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(profile_parent=tmp_path_factory.mktemp("chromium")) as browser:
        browser.set_window_size(1400, 2000)
        yield browser


def by_testid(driver: Any, testid: str, extra: str = "") -> list[WebElement]:
    return list(driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]{extra}'))


def one(driver: Any, testid: str, extra: str = "") -> WebElement:
    found = by_testid(driver, testid, extra)
    assert found, f"no element [data-testid={testid}]{extra}"
    return found[0]


@dataclass(frozen=True)
class Shown:
    """One element as the page showed it at one moment: its text and attributes."""

    text: str
    attrs: dict[str, str]

    def __getitem__(self, name: str) -> str | None:
        return self.attrs.get(name)


# one script call reads every match: the page cannot re-render in the middle of it
_SHOWN = """
return Array.from(document.querySelectorAll(arguments[0]), (e) => {
  const attrs = {};
  for (const a of e.attributes) attrs[a.name] = a.value;
  return {text: e.innerText === undefined ? e.textContent : e.innerText, attrs: attrs};
});
"""


def shown(driver: Any, testid: str, extra: str = "") -> list[Shown]:
    """What the page shows for ``[data-testid=…]`` now. The page rebuilds its lists (faults, log, alerts,
    assertions, report links…) on every update of a run, so an element found earlier can be gone when it is
    read (a stale element): every read of a list's content goes through this snapshot instead."""
    raw = driver.execute_script(_SHOWN, f'[data-testid="{testid}"]{extra}') or []
    return [Shown(str(r["text"]), {str(k): str(v) for k, v in r["attrs"].items()}) for r in raw]


def shown_one(driver: Any, testid: str, extra: str = "") -> Shown:
    found = shown(driver, testid, extra)
    assert found, f"no element [data-testid={testid}]{extra}"
    return found[0]


def wait(driver: Any, condition: Any, what: str, timeout: float = 60) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message=f"waiting for {what}")


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    wait(driver, lambda d: len(by_testid(d, "scenario-item")) > 0, "the scenario list")
    wait(driver, lambda d: shown_one(d, "stream-state")["data-state"] == "connected", "the live stream")


def screenshot(driver: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    return path


def severe_console_messages(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def select(driver: Any, name: str) -> None:
    one(driver, "scenario-item", f'[data-name="{name}"]').click()
    wait(driver, lambda d: shown_one(d, "scenario-detail")["data-name"] == name, f"the preview of {name}")


def status_is(value: str) -> Any:
    return lambda d: shown_one(d, "run-status")["data-status"] == value


def test_scenarios_are_listed_and_previewed_with_inline_errors(server: Server, driver: Any) -> None:
    open_page(driver, server.url + "/")
    items = {e["data-name"]: e["data-valid"] for e in shown(driver, "scenario-item")}
    assert items == {"broken": "false", "exchange-down": "true", "long-pause": "true"} | dict.fromkeys(
        BOT_EXAMPLES, "true"
    )
    assert shown_one(driver, "stack-state")["data-state"] == "ready"
    assert str(shown_one(driver, "link-prometheus")["href"]).endswith("/classic/alerts")
    assert str(shown_one(driver, "link-alertmanager")["href"]).endswith("/api/v2/alerts")

    select(driver, "broken")
    error = wait(driver, lambda d: shown(d, "yaml-error"), "the inline validation error")[0]
    assert error["data-line"] == "6"
    assert "unknown alert 'GatewayDwn' (did you mean 'GatewayDown'?)" in error.text
    bad_line = shown_one(driver, "yaml-preview", " .line.bad")
    assert bad_line["data-line"] == "6" and "GatewayDwn" in bad_line.text
    assert one(driver, "scenario-error").is_displayed()
    assert not one(driver, "run-button").is_enabled()
    screenshot(driver, "dashboard-broken-scenario")

    select(driver, "exchange-down")
    assert not shown(driver, "yaml-error")
    lines = shown(driver, "yaml-preview", " .line")
    expected = (ROOT / "scenarios" / "exchange-down.yaml").read_text().splitlines()
    assert len(lines) == len(expected)
    assert "kind: kill, target: exchange" in shown_one(driver, "yaml-preview").text
    assert one(driver, "run-button").is_enabled()
    assert severe_console_messages(driver) == []


def test_a_run_goes_running_then_passed_with_live_log_and_timeline(server: Server, driver: Any) -> None:
    open_page(driver, server.url + "/")
    select(driver, "exchange-down")
    one(driver, "opt-verbose").click()
    one(driver, "run-button").click()
    wait(driver, status_is("running"), "status running")
    assert one(driver, "stop-button").is_displayed()
    wait(driver, lambda d: len(shown(d, "log-entry")) >= 3, "live log lines")
    wait(driver, lambda d: shown(d, "timeline-marker", '[data-kind="fault"]'), "the fault on the live timeline")
    wait(driver, status_is("passed"), "status passed", timeout=150)

    count = shown_one(driver, "assertions-count")
    passed, total = int(count["data-passed"] or 0), int(count["data-total"] or 0)
    assert passed == total > 10
    assert count.text == f"{passed}/{total}"
    rows = shown(driver, "assertion-row")
    assert len(rows) == total and {r["data-passed"] for r in rows} == {"true"}
    levels = {e["data-level"] for e in shown(driver, "log-entry")}
    assert {"INFO", "WARNING", "SUCCESS"} <= levels
    assert any("passed" in e.text for e in shown(driver, "log-entry", '[data-level="SUCCESS"]'))
    kinds = {(m["data-kind"], m["data-state"]) for m in shown(driver, "timeline-marker")}
    assert {("fault", "applied"), ("revert", "reverted"), ("alert", "firing"), ("alert", "resolved")} <= kinds
    report_chart = wait(driver, lambda d: shown(d, "timeline-report", " svg"), "the report's timeline chart")[0]
    assert "ExchangeDown" in report_chart.text
    assert shown_one(driver, "alert-row", '[data-alert="ExchangeDown"]')["data-state"] == "resolved"
    chaos = shown_one(driver, "chaos-summary")
    assert (chaos["data-applied"], chaos["data-reverted"], chaos["data-active"]) == ("1", "1", "0")
    assert not one(driver, "stop-button").is_displayed()
    assert not one(driver, "bot-panel").is_displayed()  # no trading bot in this scenario
    assert str(shown_one(driver, "report-html")["href"]).endswith(".html")
    test_id = shown_one(driver, "run-panel")["data-test-id"]
    wait(
        driver,
        lambda d: shown(d, "history-row", f'[data-test-id="{test_id}"][data-status="passed"]'),
        "the run in the history",
    )
    path = screenshot(driver, "dashboard-run-passed")
    print(f"\nscreenshot: {path}")
    assert severe_console_messages(driver) == []


def test_a_bot_run_shows_its_events_and_event_chaos_live_and_when_done(server: Server, driver: Any) -> None:
    open_page(driver, server.url + "/")
    select(driver, "trading-flash-crash-recovery")
    Select(one(driver, "opt-recording")).select_by_value("on")
    one(driver, "opt-recording-file").send_keys("page-{scenario_name}.json")
    one(driver, "run-button").click()
    wait(driver, status_is("running"), "status running")

    def live_count(d: Any) -> bool:
        shown = one(d, "bot-panel").is_displayed() and one(d, "bot-live").is_displayed()
        return shown and int(shown_one(d, "bot-events-total")["data-value"] or 0) > 0

    wait(driver, live_count, "the bot's events counted live", timeout=120)
    wait(driver, status_is("passed"), "status passed", timeout=240)
    assert not one(driver, "bot-live").is_displayed()
    total = int(shown_one(driver, "bot-events-total")["data-value"] or 0)
    rows = {str(r["data-event"]): int(r["data-count"] or 0) for r in shown(driver, "bot-event-row")}
    assert sum(rows.values()) == total > 0
    assert rows["MarketPriceFetchFailed"] == 1 and rows["PositionPurchased"] >= 3

    def value(testid: str) -> int:
        return int(shown_one(driver, testid)["data-value"] or 0)

    assert value("bot-cycles") >= 50
    assert value("bot-chaos-injected") == 1
    assert value("bot-chaos-modified") >= 1 and value("bot-chaos-delayed") >= 1
    assert value("bot-corrupted") >= 1 and shown_one(driver, "bot-corrupted")["data-bad"] == "true"
    assert shown_one(driver, "bot-recording").text == "recordings/page-flash_crash_recovery_test.json"
    assert str(shown_one(driver, "report-events")["href"]).endswith(".events")
    path = screenshot(driver, "dashboard-bot-run")
    print(f"\nscreenshot: {path}")
    assert severe_console_messages(driver) == []


def test_stopping_a_long_run_reverts_its_faults(server: Server, driver: Any) -> None:
    open_page(driver, server.url + "/")
    select(driver, "long-pause")
    one(driver, "run-button").click()
    wait(driver, status_is("running"), "status running")
    fault = wait(
        driver,
        lambda d: shown(d, "fault-item", '[data-fault="pause-exchange"][data-state="active"]'),
        "the pause fault active",
        timeout=120,
    )[0]
    assert "ACTIVE" in fault.text
    assert shown_one(driver, "chaos-summary")["data-active"] == "1"
    one(driver, "stop-button").click()
    wait(driver, status_is("stopped"), "status stopped", timeout=90)
    wait(
        driver,
        lambda d: shown(d, "fault-item", '[data-fault="pause-exchange"][data-state="reverted"]'),
        "the pause fault reverted",
    )
    chaos = shown_one(driver, "chaos-summary")
    assert chaos["data-active"] == "0"
    assert chaos["data-applied"] == chaos["data-reverted"]
    assert "stopped before the end (faults reverted)" in shown_one(driver, "run-message").text
    assert any("stop requested" in e.text for e in shown(driver, "log-entry", '[data-level="WARNING"]'))
    states = {c["name"]: c["state"] for c in server.info()["stack"]["components"]}
    assert states["exchange"] == "running"
    screenshot(driver, "dashboard-run-stopped")


def test_a_token_protected_dashboard_works_with_the_token_in_the_link(driver: Any, tmp_path: Path) -> None:
    token = "page-test-token-0123456789"
    scenarios = scenario_dir(tmp_path / "scenarios", fixtures=("broken",))
    with serving(scenarios, tmp_path / "reports", extra=("--lazy-stack",), token=token) as server:
        driver.get(server.url + "/")
        wait(driver, lambda d: one(d, "auth-panel").is_displayed(), "the token prompt without a token")
        assert not shown(driver, "scenario-item")
        driver.get("about:blank")
        open_page(driver, f"{server.url}/#token={token}")
        assert "token" not in driver.current_url  # taken out of the address bar
        assert [e["data-name"] for e in shown(driver, "scenario-item")] == ["broken", "exchange-down"]
        assert token not in driver.page_source
