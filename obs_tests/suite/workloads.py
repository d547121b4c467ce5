"""The system under test's own workloads, run by name from the suite's checks: a check that needs the
demo's exact accounting asks the stack's system for ``exact_accounting`` and judges what it found; on a
stack without a system, or one that offers no such workload, the check skips and says why.

A workload that ran Locust brings back its load report: :func:`record_load` puts it in the check report's
``load`` section and its table under the check's line in the terminal summary.

Example::

    outcome = run_workload(mock_system, prom, "exact_accounting")
    obs_summary(outcome.summary)
    record_load(request.node, obs_report, outcome)
    obs_findings(outcome.findings)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.stack.embedded import EmbeddedStack
from obs_tests.stack.system_under_test import WorkloadContext, WorkloadOutcome
from obs_tests.workloads.load_report import report_lines

__all__ = ["record_load", "run_workload"]


def run_workload(
    stack: EmbeddedStack, prom: PrometheusClient, name: str, *, keep_logs: Path | None = None
) -> WorkloadOutcome:
    """Run the workload ``name`` of ``stack``'s system under test (skip the check when it has none)."""
    system = stack.system
    workload = system.workloads.get(name) if system is not None else None
    if system is None or workload is None:
        offered = ", ".join(system.workloads) if system is not None else "no system under test"
        pytest.skip(f"the system under test offers no workload {name!r} ({offered})")
    context = WorkloadContext(
        prometheus=prom,
        urls={component: stack.url(component) for component in stack.components},
        logs={component: stack.log_path(component) for component in stack.components},
        load_targets=stack.load_targets,
        keep_logs=keep_logs,
    )
    return workload(context)


def record_load(node: pytest.Item, sections: dict[str, Any], outcome: WorkloadOutcome) -> None:
    """The load report of a workload that ran Locust (none: nothing to record): into the report sections
    (``obs_report``) under ``load`` by the check's name, and its table under the check's line in the
    terminal summary (the ``details`` the summary prints)."""
    if outcome.load is None:
        return
    sections.setdefault("load", {})[node.name] = dict(outcome.load)
    node.user_properties.append(("details", report_lines(outcome.load)))
