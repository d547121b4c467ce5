"""Every contract job has its expected number of targets, all up; every contract metric exists with
its declared labels."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from obs_tests.checks.targets import (
    MetricGroups,
    check_exporter_up,
    check_job_targets,
    check_metric_present,
    exporter_up_query,
    metric_groups_query,
    summarise_job,
)
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import Job, Metric
from obs_tests.suite.report_fixtures import FindingsJudge

pytestmark = pytest.mark.integration


def test_job_targets_up(
    prom: PrometheusClient,
    contract_job: Job,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    targets = prom.targets()
    findings = check_job_targets(contract_job, targets, now=time.time())
    down = prom.query(exporter_up_query(contract_job.name))
    findings += check_exporter_up(contract_job, down)
    obs_summary(summarise_job(contract_job, targets, down))
    obs_findings(findings)


def test_metric_present(
    prom: PrometheusClient,
    contract_metric: Metric,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    groups = MetricGroups(tuple(prom.query(metric_groups_query(contract_metric))))
    known = prom.metric_names() if groups.series == 0 else []
    findings = check_metric_present(contract_metric, groups, known)
    labels = f" with {', '.join(contract_metric.labels)}" if contract_metric.labels else ""
    obs_summary(f"{contract_metric.name} ({contract_metric.type}): {groups.series} series{labels}")
    obs_findings(findings)
