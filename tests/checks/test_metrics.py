from __future__ import annotations

import math

import pytest

from obs_tests.checks.metrics import (
    bucket_width,
    check_cardinality,
    check_counter_resets,
    check_freshness,
    check_gauge_range,
    check_histogram,
    check_quantile,
)
from obs_tests.clients.prometheus import RangeSeries, Sample
from obs_tests.config.contract import Metric

T = 1_800_000_000.0
TARGET = {"job": "gateway", "instance": "127.0.0.1:1"}


def _counter(*values: float) -> RangeSeries:
    labels = {"__name__": "gateway_webhooks_total", "status": "accepted", **TARGET}
    return RangeSeries(labels, tuple((T + i, v) for i, v in enumerate(values)))


def _starts(*values: float) -> dict[tuple[str, str], tuple[tuple[float, float], ...]]:
    return {("gateway", "127.0.0.1:1"): tuple((T + i, v) for i, v in enumerate(values))}


def test_monotonic_counter_passes() -> None:
    report = check_counter_resets([_counter(1, 2, 2, 5)], _starts(100, 100, 100, 100))
    assert report.findings == [] and report.restarts == []


def test_decrease_without_restart_is_a_finding() -> None:
    report = check_counter_resets([_counter(10, 12, 6, 7)], _starts(100, 100, 100, 100))
    [finding] = report.findings
    assert finding.subject.startswith('gateway_webhooks_total{instance="127.0.0.1:1", job="gateway"')
    assert "went down from 12 to 6" in finding.message
    assert "without a restart (process_start_time_seconds stayed 100.000)" in finding.message


def test_decrease_with_restart_is_reported_not_failed() -> None:
    report = check_counter_resets([_counter(10, 12, 1, 3)], _starts(100, 100, 160, 160))
    assert report.findings == []
    [restart] = report.restarts
    assert (restart.before, restart.after) == (12, 1)


def test_decrease_without_process_metrics_is_a_finding() -> None:
    [finding] = check_counter_resets([_counter(5, 1)], {}).findings
    assert "exports no process_start_time_seconds" in finding.message


def test_a_restart_of_the_server_an_exporter_exports_explains_its_reset() -> None:
    """redis-server restarted, redis_exporter did not: process_start_time_seconds (the exporter's) stayed,
    redis_start_time_seconds changed — a restart, not a bug (was a false failure on a stack of yours)."""
    server = {("gateway", "127.0.0.1:1"): [tuple((T + i, v) for i, v in enumerate((50, 50, 90, 90)))]}
    report = check_counter_resets([_counter(10, 12, 1, 3)], _starts(100, 100, 100, 100), None, server)
    assert report.findings == [] and len(report.restarts) == 1
    # another target's server restart explains nothing here
    elsewhere = {("gateway", "127.0.0.1:2"): server[("gateway", "127.0.0.1:1")]}
    [finding] = check_counter_resets([_counter(10, 12, 1, 3)], _starts(100, 100, 100, 100), None, elsewhere).findings
    assert "without a restart" in finding.message


def test_exporter_counters_reset_only_when_the_exported_server_restarts() -> None:
    """A job's start_time_metric (e.g. redis_start_time_seconds) decides, not the exporter's own process."""
    metrics = {"gateway": "redis_start_time_seconds"}
    restarted = check_counter_resets([_counter(10, 12, 1, 3)], _starts(100, 100, 160, 160), metrics)
    assert restarted.findings == [] and len(restarted.restarts) == 1
    [finding] = check_counter_resets([_counter(10, 12, 1, 3)], _starts(100, 100, 100, 100), metrics).findings
    assert "without a restart (redis_start_time_seconds stayed 100.000)" in finding.message


def _hist(buckets: dict[str, float], count: float, total: float = 1.0, **labels: str) -> list[Sample]:
    out = [Sample({"__name__": "x_seconds_bucket", "le": le, **labels}, v, T) for le, v in buckets.items()]
    out.append(Sample({"__name__": "x_seconds_count", **labels}, count, T))
    out.append(Sample({"__name__": "x_seconds_sum", **labels}, total, T))
    return out


GOOD = {"0.1": 1, "1": 3, "+Inf": 4}


def test_consistent_histogram_passes() -> None:
    assert check_histogram("x_seconds", _hist(GOOD, 4) + _hist(GOOD, 4, svc="b")) == []


@pytest.mark.parametrize(
    ("buckets", "count", "total", "fragment"),
    [
        pytest.param({"0.1": 5, "1": 3, "+Inf": 5}, 5, 1.0, 'le="0.1" = 5 > le="1" = 3', id="non-monotonic"),
        pytest.param({"0.1": 1, "1": 3, "+Inf": 5}, 4, 1.0, 'le="+Inf" bucket = 5 but x_seconds_count = 4', id="inf"),
        pytest.param({"0.1": 1, "1": 3}, 3, 1.0, 'no le="+Inf" bucket', id="no-inf"),
        pytest.param(GOOD, 4, -2.0, "x_seconds_sum = -2 < 0", id="negative-sum"),
        pytest.param({"0.1": math.nan, "+Inf": 1}, 1, 1.0, "is NaN", id="nan"),
    ],
)
def test_broken_histograms(buckets: dict[str, float], count: float, total: float, fragment: str) -> None:
    findings = check_histogram("x_seconds", _hist(buckets, count, total))
    assert any(fragment in f.message for f in findings), findings


def test_histogram_boundaries_must_agree() -> None:
    findings = check_histogram("x_seconds", _hist(GOOD, 4, svc="a") + _hist({"0.5": 1, "+Inf": 4}, 4, svc="b"))
    [finding] = findings
    assert "bucket boundaries differ" in finding.message
    assert "only here [0.5], only there [0.1, 1.0]" in finding.message


def test_histogram_without_buckets() -> None:
    assert "no x_seconds_bucket series" in check_histogram("x_seconds", [])[0].message


def test_negative_sum_allowed_without_unit() -> None:
    samples = [
        Sample({"__name__": "delta_bucket", "le": "+Inf"}, 1, T),
        Sample({"__name__": "delta_count"}, 1, T),
        Sample({"__name__": "delta_sum"}, -5, T),
    ]
    assert check_histogram("delta", samples) == []


BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]


def test_bucket_width() -> None:
    assert bucket_width(BOUNDS, 0.18) == (0.1, 0.25, pytest.approx(0.15))
    assert bucket_width(BOUNDS, 0.0001) == (0.0, 0.0005, 0.0005)
    assert bucket_width(BOUNDS, 9)[2] == math.inf


def test_quantile_within_one_bucket_passes() -> None:
    assert check_quantile("lat", 0.95, 0.235, 0.181, BOUNDS) == []


def test_quantile_off_by_more_than_a_bucket_fails() -> None:
    [finding] = check_quantile("lat", 0.5, 0.4, 0.1, BOUNDS)
    assert "histogram_quantile gives 400.0 ms, the workload measured 100.0 ms" in finding.message
    assert "one bucket width (50 ms, bucket (0.05, 0.1] s)" in finding.message


def test_quantile_beyond_last_bucket_fails() -> None:
    [finding] = check_quantile("lat", 0.99, 5.0, 7.0, BOUNDS)
    assert "beyond the last finite bucket" in finding.message


def test_quantile_nan_fails() -> None:
    assert check_quantile("lat", 0.5, math.nan, 0.1, BOUNDS)


SCORE = Metric("agent_confidence_score", "gauge", labels=("agent_type",), range_min=0, range_max=1)


def _gauge(*values: float) -> list[Sample]:
    return [Sample({"agent_type": f"a{i}"}, v, T) for i, v in enumerate(values)]


def test_gauge_in_range_passes() -> None:
    assert check_gauge_range(SCORE, _gauge(0, 0.5, 1)) == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(1.5, "= 1.5 > max 1"), (-0.1, "= -0.1 < min 0"), (math.nan, "is NaN"), (math.inf, "is +inf")],
)
def test_gauge_out_of_range(value: float, fragment: str) -> None:
    [finding] = check_gauge_range(SCORE, _gauge(0.5, value))
    assert fragment in finding.message
    assert "1 of 2 series outside the contract range [0, 1]" in finding.message


def test_unbounded_gauge_still_rejects_nan() -> None:
    assert check_gauge_range(Metric("g", "gauge"), _gauge(1e9, -1e9)) == []
    assert check_gauge_range(Metric("g", "gauge"), _gauge(math.nan))


def test_cardinality_within_budget() -> None:
    assert check_cardinality(Metric("m", "counter", max_series=10), 10, {}) == []
    assert check_cardinality(Metric("m", "counter"), 10_000, {}) == []


def test_cardinality_over_budget_names_the_offending_label() -> None:
    metric = Metric("gateway_webhooks_total", "counter", max_series=12)
    [finding] = check_cardinality(
        metric, 203, {"status": 203, "source": 1}, {"status": [("exploded_0", 1), ("exploded_1", 1)]}
    )
    assert "203 series, over the budget of 12" in finding.message
    assert "status (203 values: exploded_0, exploded_1, …); source (1 values)" in finding.message


def test_freshness() -> None:
    metric = Metric("exchange_price", "gauge")
    fresh = [Sample({"job": "exchange", "pair": "BTC-USD"}, T - 1, T)]
    assert check_freshness(metric, T, fresh, [{"job": "exchange", "pair": "BTC-USD"}], {"exchange": 1.0}) == []
    old = [Sample({"job": "exchange", "pair": "BTC-USD"}, T - 10, T)]
    [finding] = check_freshness(metric, T, old, [], {"exchange": 1.0})
    assert 'exchange_price{job="exchange", pair="BTC-USD"} is 10.0s old (limit 3s)' in finding.message
    recent = [{"__name__": "exchange_price", "job": "exchange", "pair": p} for p in ("BTC-USD", "ETH-USD")]
    # the target still exports BTC-USD: ETH-USD going away is churn, a warning
    [churn] = check_freshness(metric, T, fresh, recent, {"exchange": 1.0})
    assert churn.severity == "warning" and 'pair="ETH-USD"' in churn.message
    assert "1 series gone while their target still exports others of it" in churn.message
    # a target with no current series of it: stale, an error
    other = [{**r, "instance": "127.0.0.1:2"} for r in recent]
    [stale, _] = check_freshness(metric, T, fresh, recent + other, {"exchange": 1.0})
    assert stale.severity == "error" and "2 series went stale" in stale.message and "127.0.0.1:2" in stale.message
