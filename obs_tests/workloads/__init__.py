"""Load that obs-tests drives against a stack: Locust runs in child processes, read back exactly.

What to run is :mod:`~obs_tests.workloads.load_spec`, the run :mod:`~obs_tests.workloads.loadgen`, what it sent
:mod:`~obs_tests.workloads.load_stats`, its table as Locust users know it beside the gateway histogram's view
:mod:`~obs_tests.workloads.load_report`.

Example::

    from obs_tests.workloads import LoadSpec, run_load
    result = run_load(LoadSpec(users=50, duration=20), host=stack.url("gateway"))
"""

from __future__ import annotations

from obs_tests.workloads.load_spec import LoadSpec
from obs_tests.workloads.load_stats import EndpointStats, LoadResult
from obs_tests.workloads.loadgen import LoadRun, run_load

__all__ = ["EndpointStats", "LoadResult", "LoadRun", "LoadSpec", "run_load"]
