"""The browser side of the Grafana checks, as far as it can be checked without Grafana: Chromium's options,
the vendored @grafana/e2e-selectors values, and a clear reason when Chromium is not installed. The real
run (login, render, screenshot) is obs_tests/suite/test_grafana.py::test_dashboard_renders_in_browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.dashboards import browser
from obs_tests.dashboards.browser import (
    CHROMIUM_FLAGS,
    SELECTORS,
    PanelState,
    browser_available,
    chromium,
    chromium_options,
)
from obs_tests.errors import ToolError


def test_chromium_options(tmp_path: Path) -> None:
    options = chromium_options(tmp_path)
    assert options.binary_location == "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path}",
    ):
        assert flag in options.arguments
    assert len(CHROMIUM_FLAGS) == 8


def test_selectors_are_grafana_e2e_selectors() -> None:
    # @grafana/e2e-selectors, resolved for Grafana 11.3.0 (docker-compose.yml pins grafana/grafana:11.3.0)
    assert SELECTORS["panel_title_prefix"] == "data-testid Panel header "
    assert SELECTORS["panel_status_error"] == "data-testid Panel status error"
    assert SELECTORS["panel_content"] == "data-testid panel content"
    assert SELECTORS["login_username"] == "data-testid Username input field"
    assert "grafana/grafana:11.3.0" in (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()


def test_missing_chromium_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    reason = browser_available()
    assert reason is not None and "apt-get install --no-install-recommends chromium chromium-driver" in reason
    with pytest.raises(ToolError, match="no-chromium"), chromium(tmp_path):
        pass


def test_a_panel_is_settled_when_it_shows_something_and_is_not_loading() -> None:
    assert PanelState("a", "", "", loading=False, drawn=True).settled
    assert PanelState("a", "", "No data", loading=False, drawn=False).settled
    assert not PanelState("a", "", "", loading=True, drawn=True).settled
    assert not PanelState("a", "", "", loading=False, drawn=False).settled
