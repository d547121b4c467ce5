"""Dashboard queries made parseable without a server: variables in windows become distinct durations."""

from __future__ import annotations

from obs_tests.checks.query_placeholders import placeholder_expr


def test_placeholders_keep_windows_apart() -> None:
    text, windows = placeholder_expr('rate(x{a="$a"}[$__rate_interval]) + increase(y[$__range]) offset $shift')
    assert sorted(windows.values()) == ["$__range", "$__rate_interval", "$shift"]
    assert 'a="obs_var_a"' in text
