"""obs-tests: prove that Prometheus, Alertmanager and Grafana monitoring works, on a live stack."""

from __future__ import annotations

from obs_tests.errors import ObsTestsError

__all__ = ["ObsTestsError", "__version__"]

__version__ = "0.1.0"
