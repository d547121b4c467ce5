"""The contract's ``dashboards.expected_empty`` declarations: the one accepting a panel query (its reason),
and declarations that name no existing dashboard, panel or query (stale or misspelled).

Example::

    reason = declared_reason(dashboard, panel, "A", contract.dashboards.expected_empty)
    findings = check_expectations(dashboards, contract.dashboards.expected_empty)
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from obs_tests.config.contract import ExpectedEmpty
from obs_tests.core.findings import Finding
from obs_tests.dashboards.dashboard_model import Dashboard, Panel

__all__ = ["check_expectations", "declared_reason"]


def declared_reason(dashboard: Dashboard, panel: Panel, ref: str, expected: Sequence[ExpectedEmpty]) -> str | None:
    """The reason of the first declaration naming query ``ref`` of ``panel`` (or the whole panel) of
    ``dashboard`` — by its uid, title or file name —, None when none does."""
    name = Path(dashboard.source).name
    keys = tuple(k for k in (dashboard.uid, dashboard.title, name, name.removesuffix(".json")) if k)
    for item in expected:
        if item.matches(keys, panel.title, panel.id, ref):
            return item.reason
    return None


def check_expectations(dashboards: Sequence[Dashboard], expected: Sequence[ExpectedEmpty]) -> list[Finding]:
    """Declarations in the contract that name no existing dashboard panel (stale or misspelled)."""
    findings = []
    for index, item in enumerate(expected):
        matching = [d for d in dashboards if d.matches(item.dashboard)]
        if not matching:
            known = ", ".join(sorted(d.uid or d.title for d in dashboards))
            findings.append(
                Finding(
                    "dashboards",
                    f"dashboards.expected_empty[{index}]",
                    f"no dashboard '{item.dashboard}' — known: {known}",
                    rule="dashboard/expected-empty",
                )
            )
            continue
        panels = [p for d in matching for p in d.data_panels]
        if not any(item.panel in (p.title, str(p.id)) for p in panels):
            titles = difflib.get_close_matches(item.panel, [p.title for p in panels], n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(repr(t) for t in titles)}?)" if titles else ""
            findings.append(
                Finding(
                    "dashboards",
                    f"dashboards.expected_empty[{index}]",
                    f"dashboard '{item.dashboard}' has no panel '{item.panel}'{hint}",
                    rule="dashboard/expected-empty",
                )
            )
            continue
        refs = {t.ref_id for p in panels if item.panel in (p.title, str(p.id)) for t in p.targets}
        if item.query is not None and item.query not in refs:
            findings.append(
                Finding(
                    "dashboards",
                    f"dashboards.expected_empty[{index}]",
                    f"panel '{item.panel}' has no query '{item.query}' — its queries: {', '.join(sorted(refs))}",
                    rule="dashboard/expected-empty",
                )
            )
    return findings
