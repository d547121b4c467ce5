"""Verdicts on Prometheus' scraping: every target up (and, with a contract, every job complete), no scrape
about to time out, no scrape loop stuck. Pure functions from fetched targets
(:mod:`obs_tests.health.prometheus_state`) to :class:`~obs_tests.health.status.CheckResult`, naming the job
and instance at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from obs_tests.checks.targets import describe_target
from obs_tests.clients.prometheus import Target
from obs_tests.config.contract import Job
from obs_tests.health.status import CheckResult, Problem, Status

__all__ = ["judge_scrape_duration", "judge_target_freshness", "judge_targets"]


def _age(now: float, ts: float | None) -> float | None:
    return None if ts is None else max(0.0, now - ts)


def _target_fields(target: Target, now: float) -> dict[str, Any]:
    age = _age(now, target.last_scrape)
    return {
        "job": target.job,
        "instance": target.instance,
        "health": target.health,
        "last_error": target.last_error,
        "last_scrape_age_seconds": None if age is None else round(age, 3),
        "scrape_url": target.scrape_url,
    }


def _health_problems(targets: Sequence[Target], now: float) -> list[Problem]:
    """A CRITICAL per target down, a WARNING per target not scraped yet."""
    problems: list[Problem] = []
    for target in targets:
        if target.health == "down":
            problems.append(
                Problem(
                    Status.CRITICAL,
                    f"job {target.job}",
                    f"target {describe_target(target, now)}",
                    _target_fields(target, now),
                )
            )
        elif target.health != "up":
            problems.append(
                Problem(
                    Status.WARNING,
                    f"job {target.job}",
                    f"target {target.instance} not scraped yet (health={target.health})",
                    _target_fields(target, now),
                )
            )
    return problems


def _job_problems(by_job: dict[str, int], contract_jobs: Sequence[Job]) -> list[Problem]:
    """A contract job with fewer targets than its instances is CRITICAL, with more a WARNING."""
    problems: list[Problem] = []
    for job in contract_jobs:
        have = by_job.get(job.name, 0)
        if have < job.instances:
            problems.append(
                Problem(
                    Status.CRITICAL,
                    f"job {job.name}",
                    f"{have} active target(s), the contract expects {job.instances} — an instance is gone from "
                    "service discovery",
                    {"job": job.name, "expected": job.instances, "found": have},
                )
            )
        elif have > job.instances:
            problems.append(
                Problem(
                    Status.WARNING,
                    f"job {job.name}",
                    f"{have} active targets, the contract expects {job.instances}",
                    {"job": job.name, "expected": job.instances, "found": have},
                )
            )
    return problems


def judge_targets(targets: Sequence[Target], now: float, contract_jobs: Sequence[Job] = ()) -> CheckResult:
    """Every active target up; with a contract, every contract job has its targets."""
    problems: list[Problem] = []
    if not targets:
        problems.append(
            Problem(
                Status.CRITICAL,
                "scrape targets",
                "Prometheus has no active target: it scrapes nothing — check scrape_configs and service discovery",
            )
        )
    problems += _health_problems(targets, now)
    by_job: dict[str, int] = {}
    for target in targets:
        by_job[target.job] = by_job.get(target.job, 0) + 1
    problems += _job_problems(by_job, contract_jobs)
    up = sum(t.up for t in targets)
    metrics = {"targets_up": float(up), "targets_down": float(len(targets) - up), "targets_total": float(len(targets))}
    jobs = len(by_job)
    down = [p for p in problems if p.fields.get("health") == "down"]
    result = CheckResult.judge(
        "prometheus.targets", "prometheus", f"{up}/{len(targets)} targets up in {jobs} jobs", problems, metrics
    )
    if down:
        result = CheckResult(
            result.name,
            result.component,
            result.status,
            f"{len(down)} of {len(targets)} targets down: {result.summary}",
            result.problems,
            None,
            metrics,
        )
    return result


def judge_scrape_duration(targets: Sequence[Target], ratio: float) -> CheckResult:
    """No target's last scrape took ``ratio`` of its timeout or more (it is about to time out)."""
    problems = []
    slowest: tuple[float, Target] | None = None
    for target in targets:
        timeout = target.scrape_timeout
        if not target.up or not timeout:
            continue
        share = target.last_scrape_duration / timeout
        if slowest is None or share > slowest[0]:
            slowest = (share, target)
        if share >= ratio:
            problems.append(
                Problem(
                    Status.WARNING,
                    f"job {target.job}",
                    f"target {target.instance}: the last scrape took {target.last_scrape_duration:.3f}s, "
                    f"{share:.0%} of its {timeout:g}s timeout — it is about to time out (slow exporter, too many "
                    "series, or raise scrape_timeout)",
                    {
                        "job": target.job,
                        "instance": target.instance,
                        "scrape_duration_seconds": round(target.last_scrape_duration, 4),
                        "scrape_timeout_seconds": timeout,
                    },
                )
            )
    if slowest is None:
        ok = "no target scraped yet"
    else:
        share, target = slowest
        ok = (
            f"slowest scrape {target.last_scrape_duration:.3f}s ({share:.0%} of the {target.scrape_timeout:g}s "
            f"timeout): {target.job} {target.instance}"
        )
    metrics = {"slowest_scrape_ratio": round(slowest[0], 4)} if slowest else {}
    return CheckResult.judge("prometheus.scrape_duration", "prometheus", ok, problems, metrics)


def judge_target_freshness(targets: Sequence[Target], now: float, stale_intervals: float) -> CheckResult:
    """Every target was scraped within ``stale_intervals`` of its scrape interval (the scrape loop runs)."""
    problems = []
    judged = 0
    for target in targets:
        interval = target.scrape_interval
        age = _age(now, target.last_scrape)
        if not interval or age is None:
            continue
        judged += 1
        if age > stale_intervals * interval:
            problems.append(
                Problem(
                    Status.WARNING,
                    f"job {target.job}",
                    f"target {target.instance}: last scraped {age:.1f}s ago, more than {stale_intervals:g} scrape "
                    f"intervals ({interval:g}s) — its scrape loop is stuck or Prometheus is overloaded",
                    _target_fields(target, now),
                )
            )
    if judged and len(problems) == judged:
        problems = [
            Problem(
                Status.CRITICAL,
                "scrape loops",
                f"no target was scraped within {stale_intervals:g} scrape intervals — Prometheus has stopped "
                "scraping (overloaded, out of memory, or its clock jumped)",
            ),
            *problems,
        ]
    return CheckResult.judge(
        "prometheus.target_freshness",
        "prometheus",
        f"{judged} targets scraped within {stale_intervals:g} scrape intervals",
        problems,
    )
