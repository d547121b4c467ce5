"""The Jinja2 templates the reports are written from (``obs_tests/templates/``, shipped as package data).

HTML and SVG templates (``*.html.j2``, ``*.svg.j2``) are autoescaped: every value a template prints — an
alert name, a label value, a test's message — is escaped by the engine, so Python hands templates plain
text, never markup. Markdown templates (``*.md.j2``) are not; they escape table cells with the ``md``
filter. Any other template is escaped too, until it is named for what it writes. A misspelt variable
fails the rendering (``StrictUndefined``) instead of printing nothing.

Filters: ``seconds`` (2.7 → ``2.70s``), ``number`` (2.7 → ``2.70``), ``ms`` (a response time: 4.27 → ``4.3``,
182.4 → ``182``), ``percent`` (99.91 → ``99.9%``), all ``—`` for a missing value, and ``md`` (a Markdown table
cell: ``|`` escaped, on one line).

Example::

    page = render("check_report.html.j2", document=document)
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2

__all__ = ["environment", "format_ms", "render"]


def _number(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}"


def _seconds(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}s"


def format_ms(value: Any) -> str:
    """A response time in ms as the load tables show it: ``—`` for none, 1 decimal below 10 ms, else whole ms."""
    return "—" if value is None else f"{float(value):.0f}" if float(value) >= 10 else f"{float(value):.1f}"


def _percent(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1f}%"


def _md(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


@functools.cache
def environment() -> jinja2.Environment:
    """The environment of the report templates (built once)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("obs_tests", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2", "svg.j2"), disabled_extensions=("md.j2",), default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(number=_number, seconds=_seconds, ms=format_ms, percent=_percent, md=_md)
    return env


def render(name: str, **context: Any) -> str:
    """The template ``name`` of ``obs_tests/templates/`` rendered with ``context``."""
    return environment().get_template(name).render(**context)
