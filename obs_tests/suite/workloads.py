"""The system under test's own workloads, run by name from the suite's checks: a check that needs the
demo's exact accounting asks the stack's system for ``exact_accounting`` and judges what it found; on a
stack without a system, or one that offers no such workload, the check skips and says why.

Example::

    outcome = run_workload(mock_system, prom, "exact_accounting")
    obs_summary(outcome.summary)
    obs_findings(outcome.findings)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.stack.embedded import EmbeddedStack
from obs_tests.stack.system_under_test import WorkloadContext, WorkloadOutcome

__all__ = ["run_workload"]


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
