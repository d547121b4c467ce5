"""Why a query returns nothing, asked of a (recorded) Prometheus."""

from __future__ import annotations

from obs_tests.checks.empty_diagnosis import diagnose_empty
from tests.checks.dashboard_helpers import SPAN, recorded


def test_an_empty_instant_query_is_diagnosed_at_its_instant() -> None:
    """A stat panel with `instant: true` asks for the end of the range only: its series can be stale there
    (a target down) while they exist over the range — not "nothing over the range"."""
    prom = recorded()
    names = prom.metric_names()
    instant = diagnose_empty(prom, 'node_load1{job="node"} > 1000', names, SPAN, instant=True)
    assert instant.startswith("every selector matches series in the range, but the expression returns nothing at")
    assert "(an instant query): the series are stale there (their target down?)" in instant
    ranged = diagnose_empty(prom, 'node_load1{job="node"} > 1000', names, SPAN)
    assert "returns nothing over the range" in ranged and "instant" not in ranged
