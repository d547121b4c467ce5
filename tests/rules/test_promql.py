from __future__ import annotations

import pytest

from obs_tests.errors import PromQLSyntaxError
from obs_tests.rules.promql import Selector, metric_names, selectors


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum(rate(http_requests_total{job="api"}[5m]))', {"http_requests_total"}),
        ("histogram_quantile(0.9, sum by (le) (rate(x_bucket[1m])))", {"x_bucket"}),
        ("a / on(job) group_left b > 0.1", {"a", "b"}),
        ('{__name__="foo", a!~"b"}', {"foo"}),
        ('{job="x"}', set()),
        ("vector(1)", set()),
        ("max_over_time(deriv(y[1m])[5m:30s])", {"y"}),
        ('absent(up{job="g"} == 1)', {"up"}),
        ("-(a offset 1m) + topk(2, c)", {"a", "c"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_selectors_carry_range_and_function() -> None:
    [sel] = selectors('rate(gateway_webhooks_total{status="invalid"}[2s])')
    assert sel == Selector("gateway_webhooks_total", (("status", "=", "invalid"),), 2.0, "rate")
    assert sel.text() == 'gateway_webhooks_total{status="invalid"}'
    [sub] = selectors("max_over_time(x[10m:1m])")
    assert (sub.range_seconds, sub.function, sub.subquery) == (600.0, "max_over_time", True)


def test_syntax_error() -> None:
    with pytest.raises(PromQLSyntaxError, match="unclosed left parenthesis"):
        selectors("sum(rate(x[5m])")
