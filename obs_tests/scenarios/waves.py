"""Which scenarios may share one stack at the same time, and the waves they run in.

Two scenarios may share the stack when nothing one does can be seen by the other's checks:

- both declare ``components`` and they are disjoint (a market setup or fault counts as ``exchange``);
- neither touches what every alert depends on (Prometheus, Alertmanager, the webhook sink);
- neither is a steady-state scenario (those need the whole stack quiet);
- no alert that one must fire is one the other must keep silent (``must_not_fire: others`` silences
  every alert but its own, so such a scenario always runs alone);
- at most one drives load through the gateway (setup load, ``load`` steps or ``load`` faults), and the
  other then asserts no counter increase (its counts would include the load).

:func:`conflict` says why two may not; :func:`plan_waves` groups scenarios greedily, in their given
order, into waves of compatible ones — what :class:`~obs_tests.scenarios.lanes.SharedStack` runs with a
``concurrency`` above 1.

Example::

    [wave.describe() for wave in plan_waves(scenarios, catalog, 2)]   # ["steady-state", "a + b", ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from obs_tests.scenarios.model import Catalog, Scenario

__all__ = ["SHARED_COMPONENTS", "Wave", "conflict", "plan_waves"]

#: what every alert depends on: a scenario acting on one of them runs alone
SHARED_COMPONENTS = frozenset({"prometheus", "alertmanager", "webhook-sink"})


@dataclass
class Wave:
    """Scenarios that run together."""

    scenarios: list[Scenario]

    def describe(self) -> str:
        """``a + b`` for the terminal."""
        return " + ".join(s.name for s in self.scenarios)


def _components(scenario: Scenario) -> set[str]:
    found = set(scenario.components)
    if scenario.market or any(c.spec.kind == "market" for c in scenario.chaos):
        found.add("exchange")
    found.update(c.spec.target for c in scenario.chaos if c.spec.target and c.spec.kind != "load")
    return found


def _counts(scenario: Scenario) -> bool:
    return any("increase" in m for m in scenario.expect.metric)


def conflict(a: Scenario, b: Scenario, catalog: Catalog) -> str | None:
    """Why ``a`` and ``b`` must not run at the same time (None when they may)."""
    for one in (a, b):
        if one.type == "steady_state":
            return f"{one.name} is a steady-state scenario (it needs the whole stack quiet)"
        if not one.components:
            return f"{one.name} declares no components"
        shared = sorted(_components(one) & SHARED_COMPONENTS)
        if shared:
            return f"{one.name} acts on {', '.join(shared)}, which every alert depends on"
    both = sorted(_components(a) & _components(b))
    if both:
        return f"both act on {', '.join(both)}"
    for one, other in ((a, b), (b, a)):
        silent = set(other.silent_alerts(catalog))
        clash = sorted({m.alert for m in one.expect.must_fire} & silent)
        if clash:
            return f"{', '.join(clash)} must fire in {one.name} but stay silent in {other.name}"
    if a.drives_load and b.drives_load:
        return "both drive load through the gateway"
    for one, other in ((a, b), (b, a)):
        if one.drives_load and _counts(other):
            return f"{other.name} asserts counter increases that {one.name}'s load would change"
    return None


def plan_waves(scenarios: Sequence[Scenario], catalog: Catalog, max_concurrent: int) -> list[Wave]:
    """Scenarios grouped, in order, into waves of at most ``max_concurrent`` pairwise-compatible ones."""
    waves: list[Wave] = []
    for scenario in scenarios:
        for wave in waves:
            if len(wave.scenarios) < max_concurrent and all(
                conflict(scenario, other, catalog) is None for other in wave.scenarios
            ):
                wave.scenarios.append(scenario)
                break
        else:
            waves.append(Wave([scenario]))
    return waves
