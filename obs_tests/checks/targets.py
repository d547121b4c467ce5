"""Targets and metric presence: every contract job has its targets, all up; every contract metric
exists with its declared labels, exported by its declared job.

Pure logic over Prometheus API results; the suite module fetches, these functions judge.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from obs_tests.clients.prometheus import Sample, Target
from obs_tests.config.contract import Job, Metric
from obs_tests.core.findings import Finding

__all__ = [
    "MetricGroups",
    "check_exporter_up",
    "check_job_targets",
    "check_metric_present",
    "describe_target",
    "exporter_up_query",
    "metric_groups_query",
    "summarise_job",
]


def describe_target(target: Target, now: float | None = None) -> str:
    """``127.0.0.1:40123 (service=gateway)`` plus health details when it is not up."""
    service = target.labels.get("service")
    text = target.instance + (f" (service={service})" if service else "")
    if target.up:
        return text
    details = [f"health={target.health}"]
    if target.last_error:
        details.append(f"last error: {target.last_error}")
    if target.last_scrape is not None and now is not None:
        details.append(f"last scrape {max(0.0, now - target.last_scrape):.1f}s ago")
    return f"{text} is DOWN ({'; '.join(details)})"


def check_job_targets(job: Job, targets: Sequence[Target], now: float | None = None) -> list[Finding]:
    """The job has exactly ``job.instances`` active targets and every one is up."""
    subject = f"job {job.name}"
    mine = [t for t in targets if t.job == job.name]
    if not mine:
        jobs = sorted({t.job for t in targets})
        hint = difflib.get_close_matches(job.name, jobs, n=1)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        return [
            Finding(
                "targets",
                subject,
                f"Prometheus has no target for this job, the contract expects {job.instances}{did_you_mean} — "
                f"jobs Prometheus scrapes: {', '.join(jobs) or 'none'}; check its scrape_configs",
            )
        ]
    findings = []
    if len(mine) != job.instances:
        listed = ", ".join(describe_target(t) for t in mine)
        findings.append(
            Finding(
                "targets",
                subject,
                f"{len(mine)} targets, the contract expects {job.instances}: {listed}",
            )
        )
    for target in mine:
        if not target.up:
            findings.append(Finding("targets", subject, f"target {describe_target(target, now)}"))
    return findings


def exporter_up_query(job: str) -> str:
    """An exporter's own verdict on what it exports (``redis_up``, ``mysql_up``, ``pg_up`` …) where it is 0:
    the exporter answers but cannot read its server."""
    quoted = job.replace("\\", "\\\\").replace('"', '\\"')
    return f'{{__name__=~"[a-z][a-z0-9]*_up", job="{quoted}"}} == 0'


def check_exporter_up(job: Job, down: Sequence[Sample]) -> list[Finding]:
    """A finding per target whose exporter reports its server down (``<name>_up == 0``, the samples of
    :func:`exporter_up_query`): Prometheus scrapes the exporter fine, yet its server's metrics are gone."""
    return [
        Finding(
            "targets",
            f"job {job.name}",
            f"target {sample.labels.get('instance', '?')} is up, but its exporter reports "
            f"{sample.labels.get('__name__', '?')} = 0: it cannot read the server it exports (down, or "
            "unreachable from the exporter) — that server's metrics are missing until it can",
        )
        for sample in down
    ]


def summarise_job(job: Job, targets: Sequence[Target], down: Sequence[Sample] = ()) -> str:
    """``gateway: 1/1 up (127.0.0.1:40123)`` for the run summary."""
    mine = [t for t in targets if t.job == job.name]
    up = sum(t.up for t in mine)
    where = ", ".join(t.instance for t in mine)
    servers = "".join(f"; {d.labels.get('__name__', '?')} = 0 on {d.labels.get('instance', '?')}" for d in down)
    return f"{job.name}: {up}/{job.instances} targets up" + (f" ({where})" if where else "") + servers


@dataclass(frozen=True)
class MetricGroups:
    """``count by (job, <declared labels>)`` of a metric: enough to judge presence without a series dump."""

    groups: tuple[Sample, ...]

    @property
    def series(self) -> int:
        """Total number of series."""
        return int(sum(g.value for g in self.groups))

    @property
    def jobs(self) -> set[str]:
        """Jobs that export the metric."""
        return {g.labels.get("job", "") for g in self.groups}


def metric_groups_query(metric: Metric) -> str:
    """The PromQL that feeds :class:`MetricGroups` for ``metric``."""
    by = ", ".join(["job", *metric.labels])
    return f'count by ({by}) ({{__name__="{metric.query_name}"}})'


def check_metric_present(metric: Metric, groups: MetricGroups, known_names: Iterable[str] = ()) -> list[Finding]:
    """The metric has series, from its declared job, each carrying every declared label."""
    subject = f"metric {metric.name}"
    if groups.series == 0:
        names = list(known_names)
        hint = difflib.get_close_matches(metric.query_name, names, n=3, cutoff=0.6)
        suggestion = f"; closest exported names: {', '.join(hint)}" if hint else ""
        fix = " — export it or remove it from the contract"
        if metric.query_name in names:
            suggestion = " now, though it stored some before (is its target, or what its exporter reads, down?)"
            fix = ""
        source = f" by job '{metric.job}'" if metric.job else ""
        return [
            Finding(
                "metrics",
                subject,
                f"declared in the contract ({metric.type}) but Prometheus has no series of "
                f"{metric.query_name}{source}{suggestion}{fix}",
            )
        ]
    findings = []
    if metric.job and metric.job not in groups.jobs:
        findings.append(
            Finding(
                "metrics",
                subject,
                f"expected from job '{metric.job}' but exported by {', '.join(sorted(groups.jobs))}",
            )
        )
    for label in metric.labels:
        lacking = [g for g in groups.groups if not g.labels.get(label)]
        if lacking:
            count = int(sum(g.value for g in lacking))
            example = lacking[0].format_labels().replace("{", f"{metric.query_name}{{", 1)
            findings.append(
                Finding(
                    "metrics",
                    subject,
                    f"{count} of {groups.series} series lack the declared label '{label}' (e.g. {example})",
                )
            )
    return findings
