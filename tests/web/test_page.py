"""The dashboard page in headless Chromium (selenium) against the real server and its embedded stack.

Screenshots go to reports/web/ (a CI artifact)."""

from __future__ import annotations

from collections.abc import Iterator
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


def wait(driver: Any, condition: Any, what: str, timeout: float = 60) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message=f"waiting for {what}")


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    wait(driver, lambda d: len(by_testid(d, "scenario-item")) > 0, "the scenario list")
    wait(driver, lambda d: one(d, "stream-state").get_attribute("data-state") == "connected", "the live stream")


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
    wait(driver, lambda d: one(d, "scenario-detail").get_attribute("data-name") == name, f"the preview of {name}")


def status_is(value: str) -> Any:
    return lambda d: one(d, "run-status").get_attribute("data-status") == value


def test_scenarios_are_listed_and_previewed_with_inline_errors(server: Server, driver: Any) -> None:
    open_page(driver, server.url + "/")
    items = {e.get_attribute("data-name"): e.get_attribute("data-valid") for e in by_testid(driver, "scenario-item")}
    assert items == {"broken": "false", "exchange-down": "true", "long-pause": "true"} | dict.fromkeys(
        BOT_EXAMPLES, "true"
    )
    assert one(driver, "stack-state").get_attribute("data-state") == "ready"
    assert one(driver, "link-prometheus").get_attribute("href").endswith("/classic/alerts")
    assert one(driver, "link-alertmanager").get_attribute("href").endswith("/api/v2/alerts")

    select(driver, "broken")
    error = wait(driver, lambda d: by_testid(d, "yaml-error"), "the inline validation error")[0]
    assert error.get_attribute("data-line") == "6"
    assert "unknown alert 'GatewayDwn' (did you mean 'GatewayDown'?)" in error.text
    bad_line = one(driver, "yaml-preview").find_element(By.CSS_SELECTOR, ".line.bad")
    assert bad_line.get_attribute("data-line") == "6" and "GatewayDwn" in bad_line.text
    assert one(driver, "scenario-error").is_displayed()
    assert not one(driver, "run-button").is_enabled()
    screenshot(driver, "dashboard-broken-scenario")

    select(driver, "exchange-down")
    assert not by_testid(driver, "yaml-error")
    lines = one(driver, "yaml-preview").find_elements(By.CSS_SELECTOR, ".line")
    expected = (ROOT / "scenarios" / "exchange-down.yaml").read_text().splitlines()
    assert len(lines) == len(expected)
    assert "kind: kill, target: exchange" in one(driver, "yaml-preview").text
    assert one(driver, "run-button").is_enabled()
    assert severe_console_messages(driver) == []


def test_a_run_goes_running_then_passed_with_live_log_and_timeline(server: Server, driver: Any) -> None:
    open_page(driver, server.url + "/")
    select(driver, "exchange-down")
    one(driver, "opt-verbose").click()
    one(driver, "run-button").click()
    wait(driver, status_is("running"), "status running")
    assert one(driver, "stop-button").is_displayed()
    wait(driver, lambda d: len(by_testid(d, "log-entry")) >= 3, "live log lines")
    wait(driver, lambda d: by_testid(d, "timeline-marker", '[data-kind="fault"]'), "the fault on the live timeline")
    wait(driver, status_is("passed"), "status passed", timeout=150)

    count = one(driver, "assertions-count")
    passed, total = int(count.get_attribute("data-passed")), int(count.get_attribute("data-total"))
    assert passed == total > 10
    assert count.text == f"{passed}/{total}"
    rows = by_testid(driver, "assertion-row")
    assert len(rows) == total and {r.get_attribute("data-passed") for r in rows} == {"true"}
    levels = {e.get_attribute("data-level") for e in by_testid(driver, "log-entry")}
    assert {"INFO", "WARNING", "SUCCESS"} <= levels
    assert any("passed" in e.text for e in by_testid(driver, "log-entry", '[data-level="SUCCESS"]'))
    markers = by_testid(driver, "timeline-marker")
    kinds = {(m.get_attribute("data-kind"), m.get_attribute("data-state")) for m in markers}
    assert {("fault", "applied"), ("revert", "reverted"), ("alert", "firing"), ("alert", "resolved")} <= kinds
    report_chart = wait(driver, lambda d: by_testid(d, "timeline-report", " svg"), "the report's timeline chart")[0]
    assert "ExchangeDown" in report_chart.get_attribute("innerHTML")
    alert = one(driver, "alert-row", '[data-alert="ExchangeDown"]')
    assert alert.get_attribute("data-state") == "resolved"
    chaos = one(driver, "chaos-summary")
    assert (chaos.get_attribute("data-applied"), chaos.get_attribute("data-reverted")) == ("1", "1")
    assert chaos.get_attribute("data-active") == "0"
    assert not one(driver, "stop-button").is_displayed()
    assert not one(driver, "bot-panel").is_displayed()  # no trading bot in this scenario
    assert one(driver, "report-html").get_attribute("href").endswith(".html")
    test_id = one(driver, "run-panel").get_attribute("data-test-id")
    wait(
        driver,
        lambda d: by_testid(d, "history-row", f'[data-test-id="{test_id}"][data-status="passed"]'),
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
        return shown and int(one(d, "bot-events-total").get_attribute("data-value") or 0) > 0

    wait(driver, live_count, "the bot's events counted live", timeout=120)
    wait(driver, status_is("passed"), "status passed", timeout=240)
    assert not one(driver, "bot-live").is_displayed()
    total = int(one(driver, "bot-events-total").get_attribute("data-value"))
    rows = {
        r.get_attribute("data-event"): int(r.get_attribute("data-count")) for r in by_testid(driver, "bot-event-row")
    }
    assert sum(rows.values()) == total > 0
    assert rows["MarketPriceFetchFailed"] == 1 and rows["PositionPurchased"] >= 3
    assert int(one(driver, "bot-cycles").get_attribute("data-value")) >= 50
    assert one(driver, "bot-chaos-injected").get_attribute("data-value") == "1"
    assert int(one(driver, "bot-chaos-modified").get_attribute("data-value")) >= 1
    assert int(one(driver, "bot-chaos-delayed").get_attribute("data-value")) >= 1
    assert int(one(driver, "bot-corrupted").get_attribute("data-value")) >= 1
    assert one(driver, "bot-corrupted").get_attribute("data-bad") == "true"
    assert one(driver, "bot-recording").text == "recordings/page-flash_crash_recovery_test.json"
    assert one(driver, "report-events").get_attribute("href").endswith(".events")
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
        lambda d: by_testid(d, "fault-item", '[data-fault="pause-exchange"][data-state="active"]'),
        "the pause fault active",
        timeout=120,
    )[0]
    assert "ACTIVE" in fault.text
    assert one(driver, "chaos-summary").get_attribute("data-active") == "1"
    one(driver, "stop-button").click()
    wait(driver, status_is("stopped"), "status stopped", timeout=90)
    wait(
        driver,
        lambda d: by_testid(d, "fault-item", '[data-fault="pause-exchange"][data-state="reverted"]'),
        "the pause fault reverted",
    )
    chaos = one(driver, "chaos-summary")
    assert chaos.get_attribute("data-active") == "0"
    assert chaos.get_attribute("data-applied") == chaos.get_attribute("data-reverted")
    assert "stopped before the end (faults reverted)" in one(driver, "run-message").text
    assert any("stop requested" in e.text for e in by_testid(driver, "log-entry", '[data-level="WARNING"]'))
    states = {c["name"]: c["state"] for c in server.info()["stack"]["components"]}
    assert states["exchange"] == "running"
    screenshot(driver, "dashboard-run-stopped")


def test_a_token_protected_dashboard_works_with_the_token_in_the_link(driver: Any, tmp_path: Path) -> None:
    token = "page-test-token-0123456789"
    scenarios = scenario_dir(tmp_path / "scenarios", fixtures=("broken",))
    with serving(scenarios, tmp_path / "reports", extra=("--lazy-stack",), token=token) as server:
        driver.get(server.url + "/")
        wait(driver, lambda d: one(d, "auth-panel").is_displayed(), "the token prompt without a token")
        assert not by_testid(driver, "scenario-item")
        driver.get("about:blank")
        open_page(driver, f"{server.url}/#token={token}")
        assert "token" not in driver.current_url  # taken out of the address bar
        assert [e.get_attribute("data-name") for e in by_testid(driver, "scenario-item")] == ["broken", "exchange-down"]
        assert token not in driver.page_source
