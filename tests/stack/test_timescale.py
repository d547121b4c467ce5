from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from obs_tests.config.contract import load_contract
from obs_tests.core.durations import format_duration, parse_duration
from obs_tests.errors import ToolError, UsageError
from obs_tests.rules.promql import parse
from obs_tests.stack.timescale import scale_duration, scale_expr, scale_rule_files

ROOT = Path(__file__).resolve().parents[2]

#: expressions a text edit can get wrong: durations inside strings and comments, nested subqueries, @ and
#: negative offsets, keywords in capitals, odd spacing — each with its scaled form at 0.1, ranges >= 4 s
TRICKY = [
    pytest.param('x{a="offset 5m"} offset 5m', 'x{a="offset 5m"} offset 30s', id="offset-in-label-value"),
    pytest.param('rate(x{a="[1m]"}[1m])', 'rate(x{a="[1m]"}[6s])', id="range-in-label-value"),
    pytest.param('x{a="a\\"b[1m]"}[1m]', 'x{a="a\\"b[1m]"}[6s]', id="escaped-quote-in-label-value"),
    pytest.param('x{a="\\\\"}[1m] offset 1m', 'x{a="\\\\"}[6s] offset 6s', id="escaped-backslash-ends-string"),
    pytest.param("x{a='it\\'s [1m]'}[1m]", "x{a='it\\'s [1m]'}[6s]", id="single-quoted"),
    pytest.param("x{a=`raw [1m] offset 1m`}[1m]", "x{a=`raw [1m] offset 1m`}[6s]", id="raw-string"),
    pytest.param(
        'label_replace(rate(x[1m]), "a", "offset 1m", "b", "(.*)")',
        'label_replace(rate(x[6s]), "a", "offset 1m", "b", "(.*)")',
        id="offset-in-string-argument",
    ),
    pytest.param(
        "max_over_time(max_over_time(rate(x[1m])[5m:30s])[1h:])",
        "max_over_time(max_over_time(rate(x[6s])[30s:3s])[6m:])",
        id="nested-subqueries",
    ),
    pytest.param("max_over_time(x[10m : 1m])", "max_over_time(x[1m:6s])", id="subquery-spaces"),
    pytest.param("x[5m:] offset -1m @ start()", "x[30s:] offset -6s @ start()", id="subquery-offset-at"),
    pytest.param("rate(x[5m] @ 1609746000)", "rate(x[30s] @ 1609746000)", id="at-timestamp"),
    pytest.param("x @ end() offset 5m", "x @ end() offset 30s", id="at-then-offset"),
    pytest.param("x offset 5m @ start()", "x offset 30s @ start()", id="offset-then-at"),
    pytest.param("rate(x[5m] offset -5m)", "rate(x[30s] offset -30s)", id="negative-offset"),
    pytest.param("x offset -1h30m", "x offset -9m", id="negative-compound-offset"),
    pytest.param("x OFFSET 5m", "x OFFSET 30s", id="offset-in-capitals"),
    pytest.param("rate(x[5m]offset 1m)", "rate(x[30s]offset 6s)", id="offset-without-space"),
    pytest.param(
        "sum(\n  rate(x[5m]\n    offset\n    1m)\n)", "sum(\n  rate(x[30s]\n    offset\n    6s)\n)", id="multi-line"
    ),
    pytest.param(
        "# don't page\nrate(x[5m])\n# it's fine [1m]", "# don't page\nrate(x[30s])\n# it's fine [1m]", id="comments"
    ),
    pytest.param(
        'rate(x[5m]) # a "quote\n+ rate(y[5m])', 'rate(x[30s]) # a "quote\n+ rate(y[30s])', id="quote-in-comment"
    ),
    pytest.param('x{a="#"}[5m]', 'x{a="#"}[30s]', id="hash-in-string"),
]


@pytest.mark.parametrize(
    ("expr", "factor", "scaled"),
    [
        ("rate(x[5m])", 0.02, "rate(x[6s])"),
        ("rate(x[1m])", 0.02, "rate(x[4s])"),  # never below min_range
        ("max_over_time(x[10m:1m])", 0.01, "max_over_time(x[6s:600ms])"),
        ("max_over_time(x[10m:])", 0.1, "max_over_time(x[1m:])"),
        ("x offset 1h", 0.1, "x offset 6m"),
        ('rate(x{path="[5m]"}[5m])', 0.1, 'rate(x{path="[5m]"}[30s])'),  # string literals untouched
        ("up == 0", 0.02, "up == 0"),
        ("sum(rate(a[1m30s])) / sum(rate(b[1m30s]))", 0.5, "sum(rate(a[45s])) / sum(rate(b[45s]))"),
    ],
)
def test_scale_expr(expr: str, factor: float, scaled: str) -> None:
    assert scale_expr(expr, factor, min_range=4.0) == scaled


@pytest.mark.parametrize(("expr", "scaled"), TRICKY)
def test_scale_expr_tricky(expr: str, scaled: str) -> None:
    assert scale_expr(expr, 0.1, min_range=4.0) == scaled


def _shape(tree: Any, scale: float = 1.0, min_range: float = 0.0) -> list[tuple[Any, ...]]:
    """Every node of ``tree`` in walk order: what scaling must keep (names, matchers, strings, numbers, @)
    and its durations in seconds — times ``scale`` the way ``scale_duration`` rounds, when ``scale`` is given
    (this checks which durations the text edit touched, not the arithmetic)."""

    def seconds(delta: timedelta | None, minimum: float = 0.0) -> float | None:
        if delta is None or scale == 1.0:
            return None if delta is None else delta.total_seconds()
        value = delta.total_seconds()
        if value == 0:
            return 0.0
        magnitude = parse_duration(scale_duration(format_duration(abs(value)), scale, minimum=minimum))
        return magnitude if value > 0 else -magnitude

    found: list[tuple[Any, ...]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = tuple((m.name, str(m.op), m.value) for m in node.matchers.matchers)
            found.append(("selector", node.name, matchers, seconds(node.offset), str(node.at)))
        elif isinstance(node, promql_parser.MatrixSelector):
            found.append(("range", seconds(node.range, min_range)))
        elif isinstance(node, promql_parser.SubqueryExpr):
            step = seconds(node.step)
            found.append(("subquery", seconds(node.range, min_range), step, seconds(node.offset), str(node.at)))
        elif isinstance(node, promql_parser.StringLiteral | promql_parser.NumberLiteral):
            found.append((type(node).__name__, node.val))
        else:
            found.append((type(node).__name__,))

    promql_parser.walk(tree, pre_visit=visit)
    return found


def _rule_expressions() -> list[Any]:
    files = [
        *load_contract(ROOT / "obs.yaml").files.rule_files(),
        *(ROOT / "tests/fixtures/rules/community").glob("*.y*ml"),
    ]
    found = []
    for path in files:
        pending: list[Any] = list(yaml.safe_load_all(path.read_text()))
        while pending:
            item = pending.pop()
            if isinstance(item, dict):
                if isinstance(item.get("expr"), str) and ("alert" in item or "record" in item):
                    found.append(pytest.param(item["expr"], id=f"{path.name}:{item.get('alert') or item['record']}"))
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
    return found


@pytest.mark.parametrize("expr", [pytest.param(p.values[0], id=p.id) for p in TRICKY] + _rule_expressions())
def test_scale_expr_changes_exactly_the_trees_durations(expr: str) -> None:
    """promql-parser's tree of the scaled text has every range, subquery step and offset of the original
    tree scaled (ranges never below min_range), and everything else as it was."""
    scaled = scale_expr(expr, 0.1, min_range=4.0)
    assert _shape(parse(scaled)) == _shape(parse(expr), 0.1, 4.0), scaled


def test_tricky_expressions_scaled_pass_promtool(tmp_path: Path) -> None:
    rules = [{"record": f"tricky_{i}", "expr": p.values[0]} for i, p in enumerate(TRICKY)]
    source = tmp_path / "tricky.yml"
    source.write_text(yaml.safe_dump({"groups": [{"name": "tricky", "rules": rules}]}))
    [out] = scale_rule_files([source], 0.1, tmp_path / "out", min_range=4.0)  # runs promtool check rules
    written = yaml.safe_load(out.read_text())["groups"][0]["rules"]
    assert [r["expr"] for r in written] == [p.values[1] for p in TRICKY]


def test_scale_duration_keeps_a_nonzero_for_nonzero() -> None:
    assert scale_duration("1m", 0.02) == "1s200ms"
    assert scale_duration("1s", 0.0001) == "1ms"
    assert scale_duration("0s", 0.5) == "0s"


def test_scaled_rule_files_pass_promtool_and_scale_every_duration(tmp_path: Path) -> None:
    contract = load_contract(ROOT / "obs.yaml")
    files = contract.files.rule_files()
    out = scale_rule_files(files, 0.02, tmp_path, min_range=4.0)
    assert len(out) == len(files)
    rules = {
        r.get("alert") or r.get("record"): r
        for path in out
        for group in yaml.safe_load(path.read_text())["groups"]
        for r in group["rules"]
    }
    assert rules["GatewayHighErrorRate"]["for"] == "12s"  # 10m
    assert rules["GatewayDown"]["for"] == "1s200ms"  # 1m
    assert "[6s]" in rules["gateway:validation_errors:rate5m"]["expr"]
    assert "Watchdog" in rules and "for" not in rules["Watchdog"]


def test_factor_one_returns_the_originals(tmp_path: Path) -> None:
    files = [ROOT / "prometheus" / "alerts" / "meta.yml"]
    assert scale_rule_files(files, 1.0, tmp_path) == files
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("factor", [0, -1, 1.5])
def test_bad_factor_is_a_usage_error(factor: float, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"in \(0, 1\]"):
        scale_rule_files([], factor, tmp_path)


def test_promtool_rejection_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(x[5m]\n        for: 1m\n")
    with pytest.raises(ToolError, match="promtool rejected the time-scaled rule files"):
        scale_rule_files([broken], 0.1, tmp_path / "out")
