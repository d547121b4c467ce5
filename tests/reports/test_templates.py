"""The report templates: every one the code names is in ``obs_tests/templates`` and ships with the package,
HTML and SVG are escaped by the engine (Markdown is not), and a misspelt variable fails the rendering."""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from pathlib import Path

import jinja2
import jinja2.meta
import pytest

from obs_tests.reports.templates import environment, render

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "obs_tests"
TEMPLATES = PACKAGE / "templates"


def _named_in_code() -> dict[str, list[str]]:
    """Template name -> the modules naming it (a string literal ``<name>.<kind>.j2``)."""
    named: dict[str, list[str]] = {}
    for module in sorted(PACKAGE.rglob("*.py")):
        for name in re.findall(r"""["']([\w-]+\.\w+\.j2)["']""", module.read_text(encoding="utf-8")):
            named.setdefault(name, []).append(str(module.relative_to(ROOT)))
    return named


def _named_in_templates() -> dict[str, list[str]]:
    """Template name -> the templates importing or including it."""
    named: dict[str, list[str]] = {}
    for path in sorted(TEMPLATES.glob("*.j2")):
        for name in jinja2.meta.find_referenced_templates(environment().parse(path.read_text(encoding="utf-8"))):
            assert name is not None, f"{path.name}: a template named by a variable cannot be checked here"
            named.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return named


def test_every_template_named_is_in_the_package_and_parses() -> None:
    named = _named_in_code() | _named_in_templates()
    assert {"check_report.html.j2", "check_report.md.j2", "scenarios.html.j2", "scenarios.md.j2"} <= set(named)
    for name, where in named.items():
        assert (TEMPLATES / name).is_file(), f"{', '.join(where)}: template {name} is not in obs_tests/templates"
        environment().parse((TEMPLATES / name).read_text(encoding="utf-8"))  # a syntax error fails here, not in a run


def test_every_template_in_the_package_is_used() -> None:
    named = set(_named_in_code()) | set(_named_in_templates())
    unused = sorted(p.name for p in TEMPLATES.iterdir() if p.name not in named)
    assert not unused, f"obs_tests/templates: {unused} named by no module and no template — remove them"


def test_the_templates_ship_with_the_package() -> None:
    """``[tool.setuptools.package-data]`` globs (relative to the package, as setuptools reads them) take in
    every template: one in a subdirectory or under a new name would be missing from a wheel."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["obs_tests"]
    shipped = {path for pattern in globs for path in PACKAGE.glob(pattern) if path.is_file()}
    missing = sorted(str(p.relative_to(PACKAGE)) for p in TEMPLATES.rglob("*") if p.is_file() and p not in shipped)
    assert not missing, f"not in the package data of pyproject.toml: {missing}"


def test_the_loader_finds_the_templates_where_the_package_is_installed() -> None:
    installed = importlib.resources.files("obs_tests") / "templates"
    assert isinstance(environment().loader, jinja2.PackageLoader)
    listed = environment().list_templates()
    assert listed == sorted(p.name for p in TEMPLATES.iterdir() if p.is_file())
    for name in listed:
        assert installed.joinpath(name).is_file(), name


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        pytest.param("check_report.html.j2", True, id="html"),
        pytest.param("scenario_timeline.svg.j2", True, id="svg"),
        pytest.param("check_report.md.j2", False, id="markdown"),
        pytest.param("notes.txt.j2", True, id="unknown-kind-escaped"),
    ],
)
def test_html_and_svg_are_escaped_markdown_is_not(name: str, escaped: bool) -> None:
    autoescape = environment().autoescape
    assert callable(autoescape)
    assert autoescape(name) is escaped


def test_an_undefined_variable_fails_the_rendering() -> None:
    with pytest.raises(jinja2.UndefinedError, match="document"):
        render("check_report.html.j2")


def test_a_missing_value_is_a_dash() -> None:
    template = environment().from_string("{{ none|seconds }} {{ 2.7|seconds }} {{ none|number }} {{ 2.7|number }}")
    assert template.render() == "— 2.70s — 2.70"


@pytest.mark.parametrize(
    ("value", "ms", "percent"),
    [
        pytest.param(None, "—", "—", id="missing"),
        pytest.param(4.27, "4.3", "4.3%", id="below-10"),
        pytest.param(182.4, "182", "182.4%", id="whole-ms"),
        pytest.param(99.95, "100", "100.0%", id="rounded"),
    ],
)
def test_load_table_filters(value: float | None, ms: str, percent: str) -> None:
    filters = environment().filters
    assert (filters["ms"](value), filters["percent"](value)) == (ms, percent)
