"""Dashboard queries read without a server: Grafana's variables and macros replaced by placeholders, so
the PromQL parses — a variable in a range or offset position by a distinct sentinel duration (its window
known again after parsing), elsewhere by ``obs_var_<name>``.

Example::

    text, windows = placeholder_expr('rate(x{job="$job"}[$__rate_interval])')
    # 'rate(x{job="obs_var_job"}[1000003s])', {1000003.0: "$__rate_interval"}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from obs_tests.dashboards.datasources import PromTarget
from obs_tests.dashboards.templating import VARIABLE_SYNTAX
from obs_tests.errors import PromQLSyntaxError
from obs_tests.rules.promql import Selector, selectors

__all__ = [
    "PLACEHOLDER",
    "ParsedQuery",
    "parse_placeholders",
    "parse_target",
    "placeholder_expr",
    "uses_variable",
]

#: what a variable outside a range or offset becomes: ``$job`` -> ``obs_var_job``
PLACEHOLDER = "obs_var_"
_SENTINEL = 1_000_003  # seconds; a window no dashboard writes by hand


def placeholder_expr(expr: str) -> tuple[str, dict[float, str]]:
    """``expr`` made parseable without a server: each variable in a range/offset position becomes a distinct
    sentinel duration (returned: seconds -> the variable as written), elsewhere ``obs_var_<name>``."""
    windows: dict[float, str] = {}
    tokens: dict[str, int] = {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4) or ""
        before = expr[: match.start()].rstrip()
        after = expr[match.end() :].lstrip()[:1]
        if (before[-1:] in ("[", ":") and after in ("]", ":")) or before.endswith("offset"):
            token = match.group(0)
            seconds = tokens.setdefault(token, _SENTINEL + len(tokens))
            windows[float(seconds)] = token
            return f"{seconds}s"
        if name.endswith(("_ms", "_s")) and name.startswith("__"):
            return "60"
        return f"{PLACEHOLDER}{name}"

    return VARIABLE_SYNTAX.sub(replace, expr), windows


def parse_placeholders(expr: str) -> tuple[list[Selector], dict[float, str]]:
    """The selectors of ``expr`` with placeholders (:func:`placeholder_expr`) and its windows (raises
    :class:`PromQLSyntaxError`)."""
    text, windows = placeholder_expr(expr)
    return selectors(text), windows


def uses_variable(value: str, name: str) -> bool:
    """``value`` (a matcher value with placeholders) uses ``$name`` — not a longer name starting with it."""
    return re.search(rf"{PLACEHOLDER}{re.escape(name)}(?!\w)", value) is not None


@dataclass(frozen=True)
class ParsedQuery:
    """A Prometheus query of a panel, parsed with placeholders: its selectors and windows, or the error."""

    item: PromTarget
    selectors: tuple[Selector, ...] = ()
    windows: Mapping[float, str] | None = None
    error: PromQLSyntaxError | None = None


def parse_target(item: PromTarget) -> ParsedQuery:
    """``item``'s query parsed with placeholders; a syntax error is kept, not raised."""
    try:
        sels, windows = parse_placeholders(item.target.expr or "")
    except PromQLSyntaxError as exc:
        return ParsedQuery(item, error=exc)
    return ParsedQuery(item, tuple(sels), windows)
