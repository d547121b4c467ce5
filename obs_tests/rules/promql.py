"""What a PromQL expression reads: its series selectors, their range windows and the functions over them.

Parsing is done by ``promql-parser`` (a port of Prometheus' own parser); this module only walks the
tree. Example::

    >>> [s.metric for s in selectors('sum(rate(http_requests_total{job="api"}[5m]))')]
    ['http_requests_total']
    >>> selectors('rate(x[2s])')[0].range_seconds, selectors('rate(x[2s])')[0].function
    (2.0, 'rate')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import promql_parser

from obs_tests.errors import PromQLSyntaxError

__all__ = ["Selector", "metric_names", "parse", "selectors"]

_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


@dataclass(frozen=True)
class Selector:
    """One series selector of an expression."""

    metric: str | None
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value), without the metric name
    range_seconds: float | None = None  # set for m[5m] and subqueries
    function: str | None = None  # the function the selector is (directly) an argument of
    subquery: bool = False

    def text(self) -> str:
        """The selector as PromQL (``name{a="b"}``)."""
        inner = ", ".join(f'{k}{op}"{v}"' for k, op, v in self.matchers)
        return f"{self.metric or ''}{{{inner}}}" if inner or not self.metric else self.metric


def parse(expr: str) -> Any:
    """Parse ``expr`` into promql-parser's AST (raises :class:`PromQLSyntaxError`)."""
    try:
        return promql_parser.parse(expr)
    except ValueError as exc:
        raise PromQLSyntaxError(str(exc)) from None


def _op(op: Any) -> str:
    return _OPS.get(str(op).rsplit(".", 1)[-1], str(op))


def _vector(node: Any, range_seconds: float | None, function: str | None, subquery: bool) -> Selector:
    name = node.name
    matchers = []
    for m in node.matchers.matchers:
        op = _op(m.op)
        if m.name == "__name__" and op == "=" and not name:
            name = m.value
        else:
            matchers.append((m.name, op, m.value))
    return Selector(name or None, tuple(matchers), range_seconds, function, subquery)


def selectors(expr: str) -> list[Selector]:
    """Every series selector in ``expr``, with its range and enclosing function, in source order."""
    tree = parse(expr)
    found: list[Selector] = []

    def visit(node: Any, function: str | None) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(_vector(node, None, function, False))
        elif isinstance(node, promql_parser.MatrixSelector):
            found.append(_vector(node.vector_selector, node.range.total_seconds(), function, False))
        elif isinstance(node, promql_parser.SubqueryExpr):
            inner = node.expr
            window = node.range.total_seconds() if node.range is not None else None
            if isinstance(inner, promql_parser.VectorSelector):
                found.append(_vector(inner, window, function, True))
            else:
                visit(inner, None)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                visit(arg, node.func.name)
        elif isinstance(node, promql_parser.AggregateExpr):
            visit(node.expr, None)
            if node.param is not None:
                visit(node.param, None)
        elif isinstance(node, promql_parser.BinaryExpr):
            visit(node.lhs, None)
            visit(node.rhs, None)
        elif isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr):
            visit(node.expr, function if isinstance(node, promql_parser.ParenExpr) else None)

    visit(tree, None)
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` reads (selectors without a fixed name are left out)."""
    return {s.metric for s in selectors(expr) if s.metric}
