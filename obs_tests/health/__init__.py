"""``obs-tests health``: a read-only production health check of Prometheus, Alertmanager and Grafana
with Nagios exit codes (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) and a JSON document whose schema is
``obs_tests/schemas/health.schema.json``.

Example::

    from obs_tests.health import HealthSettings, run_health
    report = run_health(HealthSettings(prometheus_url="http://prometheus:9090"))
    print(report.summary_line()); raise SystemExit(report.exit_code)
"""

from obs_tests.health.run import run_health
from obs_tests.health.settings import HealthSettings
from obs_tests.health.status import CheckResult, HealthReport, Problem, Status

__all__ = ["CheckResult", "HealthReport", "HealthSettings", "Problem", "Status", "run_health"]
