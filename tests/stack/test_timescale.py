from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from obs_tests.config.contract import load_contract
from obs_tests.errors import ToolError, UsageError
from obs_tests.stack.timescale import scale_duration, scale_expr, scale_rule_files

ROOT = Path(__file__).resolve().parents[2]


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
