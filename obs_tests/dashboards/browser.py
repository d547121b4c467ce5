"""Grafana in a real browser: headless Chromium driven by selenium logs in, opens a dashboard, waits until
every panel has rendered and reads what each panel shows (visualisation, "No data" or an error).

DOM hooks are Grafana's own end-to-end selectors, vendored below, never CSS classes. Chromium and its
driver are Debian's (``apt-get install chromium chromium-driver``).

Example::

    with chromium(profile_parent=tmp) as driver:
        grafana_login(driver, "http://localhost:3000", user, password)
        states = open_dashboard(driver, "http://localhost:3000", "obs-gateway", ["Requests/s", ...])
        driver.save_screenshot("gateway.png")
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ToolError, WaitTimeout

__all__ = [
    "CHROMEDRIVER",
    "CHROMIUM",
    "CHROMIUM_FLAGS",
    "DASHBOARD_URL",
    "E2E_SELECTORS_VERSION",
    "SELECTORS",
    "SELECTOR_SOURCES",
    "PanelState",
    "browser_available",
    "chromium",
    "chromium_options",
    "grafana_login",
    "open_dashboard",
    "panel_states",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
WINDOW = (1920, 3000)  # tall: Grafana renders panels lazily, only once they are in the viewport

#: The @grafana/e2e-selectors release the selectors below come from: the Grafana pinned in docker-compose.yml
#: (grafana/grafana:11.3.0). tests/dashboards/test_e2e_selectors.py installs it with npm and checks each one.
E2E_SELECTORS_VERSION = "11.3.0"

#: Where each selector is in @grafana/e2e-selectors (the path under ``selectors`` and, for a function, the
#: arguments it is called with); versioned selectors are resolved for :data:`E2E_SELECTORS_VERSION`.
SELECTOR_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "login_username": ("pages.Login.username", ()),
    "login_password": ("pages.Login.password", ()),
    "login_submit": ("pages.Login.submit", ()),
    "login_skip": ("pages.Login.skip", ()),
    "panel_title_prefix": ("components.Panels.Panel.title", ("",)),
    "panel_content": ("components.Panels.Panel.content", ()),
    "panel_status_error": ("components.Panels.Panel.status", ("error",)),
    "panel_no_data": ("components.Panels.Panel.PanelDataErrorMessage", ()),
    "panel_loading_bar": ("components.Panels.Panel.loadingBar", ()),
    "dashboard_url": ("pages.Dashboard.url", ("{uid}",)),
}

#: Vendored from @grafana/e2e-selectors (see :data:`SELECTOR_SOURCES`). All are values of the ``data-testid``
#: attribute except ``panel_loading_bar``, which is an ``aria-label``.
SELECTORS = {
    "login_username": "data-testid Username input field",
    "login_password": "data-testid Password input field",
    "login_submit": "data-testid Login button",
    "login_skip": "data-testid Skip change password button",
    "panel_title_prefix": "data-testid Panel header ",
    "panel_content": "data-testid panel content",
    "panel_status_error": "data-testid Panel status error",
    "panel_no_data": "data-testid Panel data error message",
    "panel_loading_bar": "Panel loading bar",
}
DASHBOARD_URL = "/d/{uid}"  # pages.Dashboard.url(uid)

# One round trip reads every panel: its title, error, "No data", loading bar and whether it drew anything.
_PANEL_STATE_SCRIPT = """
const s = arguments[0];
const out = [];
for (const root of document.querySelectorAll('[data-testid]')) {
  const id = root.getAttribute('data-testid');
  if (!id.startsWith(s.panel_title_prefix) || id.startsWith(s.panel_title_prefix + 'item ')) continue;
  const content = root.querySelector(`[data-testid="${s.panel_content}"]`);
  const error = root.querySelector(`[data-testid="${s.panel_status_error}"]`);
  const noData = root.querySelector(`[data-testid="${s.panel_no_data}"]`);
  const drawn = content && (content.querySelector('canvas, svg, table, [role="table"], [role="grid"]')
                            || (content.innerText || '').trim().length > 0);
  out.push({
    title: id.slice(s.panel_title_prefix.length),
    error: error ? (error.getAttribute('title') || error.getAttribute('aria-label') || 'error') : '',
    no_data: noData ? (noData.innerText || 'No data').trim() : '',
    loading: !!root.querySelector(`[aria-label="${s.panel_loading_bar}"]`),
    drawn: !!drawn,
  });
}
window.scrollTo(0, document.body.scrollHeight);
return out;
"""


@dataclass(frozen=True)
class PanelState:
    """What one panel shows in the browser."""

    title: str
    error: str
    no_data: str
    loading: bool
    drawn: bool

    @property
    def settled(self) -> bool:
        """Finished loading and showing something: a visualisation, "No data" or an error."""
        return not self.loading and bool(self.drawn or self.no_data or self.error)


def browser_available() -> str | None:
    """None when Chromium and chromedriver are installed, else what to install."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        return f"{', '.join(missing)} not found — apt-get install --no-install-recommends chromium chromium-driver"
    return None


def chromium_options(profile_dir: Path) -> Any:
    """Headless Chromium options: fixed flags, a private profile directory, a tall window."""
    from selenium.webdriver.chrome.options import Options  # noqa: PLC0415 - selenium only when a browser is used

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    return options


@contextlib.contextmanager
def chromium(profile_parent: Path | None = None, page_timeout: float = 60.0) -> Iterator[Any]:
    """A headless Chromium WebDriver, always quit (and its profile removed) on exit."""
    problem = browser_available()
    if problem:
        raise ToolError(problem)
    from selenium import webdriver  # noqa: PLC0415 - selenium only when a browser is used
    from selenium.common.exceptions import WebDriverException  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    profile = Path(tempfile.mkdtemp(prefix="obs-chromium-", dir=profile_parent))
    try:
        try:
            driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=chromium_options(profile))
        except WebDriverException as exc:
            raise ToolError(f"Chromium did not start: {str(exc.msg or exc).splitlines()[0]}") from None
        try:
            driver.set_page_load_timeout(page_timeout)
            yield driver
        finally:
            with contextlib.suppress(Exception):
                driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _by_testid(driver: Any, testid: str) -> list[Any]:
    from selenium.webdriver.common.by import By  # noqa: PLC0415 - selenium only when a browser is used

    return list(driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]'))


def grafana_login(driver: Any, base_url: str, user: str, password: str, timeout: float = 30.0) -> None:
    """Log in through Grafana's login form (skipping the change-password prompt). Raises
    :class:`WaitTimeout` when the form does not appear or the login does not succeed."""
    driver.get(f"{base_url}/login")

    def form() -> Poll[list[Any]]:
        fields = _by_testid(driver, SELECTORS["login_username"])
        return Poll(bool(fields), fields, f"page {driver.current_url!r} has no login form yet")

    wait_for(form, timeout=timeout, interval=0.25, expected="Grafana's login form", bound="page load")
    _by_testid(driver, SELECTORS["login_username"])[0].send_keys(user)
    _by_testid(driver, SELECTORS["login_password"])[0].send_keys(password)
    _by_testid(driver, SELECTORS["login_submit"])[0].click()

    def logged_in() -> Poll[bool]:
        skip = _by_testid(driver, SELECTORS["login_skip"])
        if skip:
            skip[0].click()
        done = "/login" not in driver.current_url
        return Poll(done, done, f"still at {driver.current_url!r} (wrong OBS_GRAFANA_USER/OBS_GRAFANA_PASSWORD?)")

    wait_for(logged_in, timeout=timeout, interval=0.25, expected="logged in to Grafana", bound="one login round trip")


def panel_states(driver: Any) -> list[PanelState]:
    """Every panel on the page, as the browser shows it now."""
    raw = driver.execute_script(_PANEL_STATE_SCRIPT, SELECTORS) or []
    return [
        PanelState(str(r["title"]), str(r["error"]), str(r["no_data"]), bool(r["loading"]), bool(r["drawn"]))
        for r in raw
    ]


def open_dashboard(
    driver: Any,
    base_url: str,
    uid: str,
    expected_titles: Sequence[str],
    *,
    params: dict[str, str] | None = None,
    timeout: float = 60.0,
    stable_polls: int = 3,
) -> list[PanelState]:
    """Open a dashboard (kiosk mode) and wait until every expected panel is on the page and settled — the
    same for ``stable_polls`` polls in a row; returns the panel states."""
    query = urlencode({"orgId": "1", **(params or {})})
    driver.get(f"{base_url}{DASHBOARD_URL.format(uid=uid)}?{query}&kiosk")
    history: list[list[PanelState]] = []

    def probe() -> Poll[list[PanelState]]:
        states = panel_states(driver)
        history.append(states)
        titles = {s.title for s in states}
        missing = [t for t in expected_titles if t not in titles]
        busy = [s.title for s in states if not s.settled]
        recent = history[-stable_polls:]
        stable = len(recent) == stable_polls and all(r == recent[0] for r in recent)
        seen = f"missing panels {missing}" if missing else f"still loading: {busy}" if busy else "not stable yet"
        return Poll(not missing and not busy and stable, states, seen)

    try:
        return wait_for(
            probe,
            timeout=timeout,
            interval=0.25,
            expected=f"every panel of dashboard {uid} rendered",
            bound="the slowest panel query + rendering",
        )
    except WaitTimeout:
        if "/login" in driver.current_url:
            raise WaitTimeout(
                f"Grafana sent the browser to the login page instead of dashboard {uid} — log in first"
            ) from None
        raise
