"""The browser check's DOM hooks are Grafana's own: each selector obs-tests uses
(``browser.SELECTORS``, ``browser.DASHBOARD_URL``) is looked up in the @grafana/e2e-selectors npm package of
the pinned Grafana version, installed here with npm (once per session, into a temporary directory), and
must exist there with the same value. Versioned selectors (an object keyed by Grafana versions, as later
releases store them) are resolved for the pinned version.

Without npm the package tests are skipped with the reason, except under CI (``CI`` set), where
``make deps`` installs npm and a missing npm is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from obs_tests.dashboards import browser

PACKAGE = "@grafana/e2e-selectors"
ROOT = Path(__file__).parents[2]

#: Resolves ``{key: [path, args]}`` against the installed package: prints ``{key: value or null}``.
RESOLVE_JS = r"""
const [pkgDir, target, wantedJson] = process.argv.slice(1);
const { selectors } = require(pkgDir);
const num = (v) => v.split(/[.-]/).slice(0, 3).map(Number);
const cmp = (a, b) => {
  const x = num(a), y = num(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
};
const versioned = (v) => v !== null && typeof v === 'object' && Object.keys(v).length > 0
  && Object.keys(v).every((k) => /^\d+\.\d+\.\d+/.test(k));
const out = {};
for (const [key, [path, args]] of Object.entries(JSON.parse(wantedJson))) {
  let value = selectors;
  for (const part of path.split('.')) {
    value = (value !== null && typeof value === 'object' && part in value) ? value[part] : undefined;
  }
  if (versioned(value)) {
    const usable = Object.keys(value).filter((k) => cmp(k, target) <= 0).sort(cmp);
    value = usable.length ? value[usable[usable.length - 1]] : undefined;
  }
  if (typeof value === 'function') value = value(...args);
  out[key] = typeof value === 'string' ? value : null;
}
console.log(JSON.stringify(out));
"""


def expected_selectors() -> dict[str, str]:
    """Every selector value obs-tests uses, by the key of :data:`browser.SELECTOR_SOURCES`."""
    return {**browser.SELECTORS, "dashboard_url": browser.DASHBOARD_URL}


def selector_problems(resolved: Mapping[str, str | None], expected: Mapping[str, str]) -> list[str]:
    """What differs between the package (``resolved``) and obs-tests (``expected``)."""
    problems = []
    for key, value in expected.items():
        path, args = browser.SELECTOR_SOURCES[key]
        call = f"{path}({', '.join(map(repr, args))})" if args else path
        found = resolved.get(key)
        if found is None:
            problems.append(f"{key}: {call} is missing from {PACKAGE}@{browser.E2E_SELECTORS_VERSION}")
        elif found != value:
            problems.append(
                f"{key}: {call} is {found!r} in {PACKAGE}@{browser.E2E_SELECTORS_VERSION}, obs-tests uses {value!r}"
            )
    return problems


def test_every_selector_names_its_source() -> None:
    assert set(browser.SELECTOR_SOURCES) == set(expected_selectors())


def test_selector_version_is_the_compose_grafana() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert f"grafana/grafana:{browser.E2E_SELECTORS_VERSION}" in compose


@pytest.mark.parametrize(
    ("resolved", "message"),
    [
        pytest.param({"login_submit": None}, r"login_submit: pages\.Login\.submit is missing from", id="missing"),
        pytest.param(
            {"panel_status_error": "data-testid Panel status failed"},
            r"panel_status_error: components\.Panels\.Panel\.status\('error'\) is 'data-testid Panel status failed'",
            id="changed",
        ),
    ],
)
def test_selector_problems_on_broken_input(resolved: dict[str, str | None], message: str) -> None:
    expected = expected_selectors()
    assert selector_problems(expected, expected) == []
    problems = selector_problems({**expected, **resolved}, expected)
    assert len(problems) == 1 and re.search(message, problems[0]), problems


@pytest.fixture(scope="session")
def e2e_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """@grafana/e2e-selectors at the pinned version, installed once per session."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if not (npm and node):
        if os.environ.get("CI"):
            pytest.fail("npm/node not found under CI — `make deps` installs the Debian package npm")
        pytest.skip("npm not found — apt-get install --no-install-recommends npm (make deps does)")
    where = tmp_path_factory.mktemp("e2e-selectors")
    (where / "package.json").write_text('{"name": "obs-tests-e2e-selectors-check", "private": true}\n')
    spec = f"{PACKAGE}@{browser.E2E_SELECTORS_VERSION}"
    cmd = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock", spec]
    done = subprocess.run(cmd, cwd=where, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        pytest.fail(f"npm install {spec} failed (exit {done.returncode}): {done.stderr.strip()[-800:]}")
    return where / "node_modules" / PACKAGE


def resolve(package: Path, sources: Mapping[str, tuple[str, tuple[str, ...]]]) -> dict[str, str | None]:
    wanted = json.dumps({k: [path, list(args)] for k, (path, args) in sources.items()})
    node = shutil.which("node") or "node"
    cmd = [node, "-e", RESOLVE_JS, str(package), browser.E2E_SELECTORS_VERSION, wanted]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, str | None] = json.loads(done.stdout)
    return result


@pytest.mark.slow
def test_selectors_exist_in_the_pinned_package(e2e_package: Path) -> None:
    installed = json.loads((e2e_package / "package.json").read_text())
    assert installed["version"] == browser.E2E_SELECTORS_VERSION
    assert selector_problems(resolve(e2e_package, browser.SELECTOR_SOURCES), expected_selectors()) == []


@pytest.mark.slow
def test_a_selector_missing_from_the_package_fails(e2e_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same check against the real package, with one selector renamed and one path that does not exist."""
    monkeypatch.setitem(browser.SELECTORS, "login_submit", "data-testid Sign in button")
    monkeypatch.setitem(browser.SELECTOR_SOURCES, "panel_content", ("components.Panels.Panel.body", ()))
    problems = selector_problems(resolve(e2e_package, browser.SELECTOR_SOURCES), expected_selectors())
    assert problems == [
        f"login_submit: pages.Login.submit is 'data-testid Login button' in {PACKAGE}@11.3.0, "
        "obs-tests uses 'data-testid Sign in button'",
        f"panel_content: components.Panels.Panel.body is missing from {PACKAGE}@11.3.0",
    ]


@pytest.mark.slow
def test_versioned_selectors_resolve_for_the_pinned_version(e2e_package: Path, tmp_path: Path) -> None:
    """Later releases store a selector as {minimum Grafana version: value}: the newest one not above the
    pinned version is the one that applies."""
    fake = tmp_path / "fake-selectors"
    fake.mkdir()
    (fake / "index.js").write_text(
        "exports.selectors = {pages: {Login: {submit: {'12.0.0': 'new', '10.2.3': 'data-testid Login button',"
        " '8.5.0': 'old'}}}};\n"
    )
    assert resolve(fake, {"login_submit": ("pages.Login.submit", ())}) == {"login_submit": "data-testid Login button"}
