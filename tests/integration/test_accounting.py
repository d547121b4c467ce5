"""Exact accounting at volume: 10,000 webhooks through the real pipeline, 0 unaccounted."""

from __future__ import annotations

import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.core.findings import format_findings
from obs_tests.demo.accounting import format_key
from obs_tests.demo.workload import run_accounting
from obs_tests.stack import EmbeddedStack

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def test_ten_thousand_webhooks_zero_unaccounted(stack: EmbeddedStack, prom: PrometheusClient) -> None:
    run = run_accounting(prom, stack.url("gateway"), n_valid=8000, n_invalid=2000, seed=10_000, workers=8)
    print()  # the counts, for the record (pytest -s shows them)
    for key in sorted(run.expected):
        before = run.before.get(key, 0.0)
        after = {**run.after_gateway, **run.after_pipeline}.get(key, 0.0)
        print(f"  {format_key(key):<62} expected +{run.expected[key]:<6g} counted +{after - before:g}")
    print(f"  timings: {', '.join(f'{k} {v:.1f}s' for k, v in run.timings.items())}")
    assert run.workload.total == 10_000
    assert run.workload.accepted == 8000 and run.workload.invalid == 2000
    assert not run.findings, format_findings(run.findings)
