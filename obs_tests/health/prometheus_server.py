"""Verdicts on the Prometheus server itself: it answers and is ready, ingests samples, scrapes its own
``/metrics``, runs the configuration on disk and its TSDB neither fails nor was found corrupt. Pure functions
from fetched API data (:mod:`obs_tests.health.prometheus_state`) to :class:`~obs_tests.health.status.CheckResult`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from obs_tests.clients.prometheus import Sample
from obs_tests.health.prometheus_state import TSDB_FAILURE_COUNTERS
from obs_tests.health.status import CheckResult, Problem, Status

__all__ = [
    "judge_api",
    "judge_config_reload",
    "judge_ingestion",
    "judge_self_scrape",
    "judge_tsdb",
]


def judge_api(buildinfo: Mapping[str, Any], ready: bool, url: str) -> CheckResult:
    """Prometheus answers its API and ``/-/ready``."""
    version = str(buildinfo.get("version", "?"))
    if not ready:
        problem = Problem(
            Status.CRITICAL,
            f"Prometheus {version} at {url}",
            "/-/ready answers 503: not ready (still replaying its WAL or shutting down) — it evaluates no rules",
        )
        return CheckResult.judge("prometheus.api", "prometheus", "", [problem])
    return CheckResult.judge("prometheus.api", "prometheus", f"Prometheus {version} at {url} is ready", [])


def judge_ingestion(
    newest_age: Sequence[Sample],
    samples_appended: Sequence[Sample],
    max_interval: float,
    stale_intervals: float,
    window: str = "10m",
) -> CheckResult:
    """Samples are being written: the newest ``up`` sample is recent, and (when Prometheus scrapes
    itself) the samples-appended counter grew over the window."""
    problems = []
    metrics: dict[str, float] = {}
    bound = stale_intervals * max_interval
    if not newest_age:
        problems.append(
            Problem(
                Status.CRITICAL,
                "ingestion",
                "no sample of `up` in the last 5 minutes (the query look-back): Prometheus has ingested nothing "
                "recently",
            )
        )
        age_text = "none"
    else:
        age = newest_age[0].value
        metrics["newest_sample_age_seconds"] = round(age, 3)
        age_text = f"{age:.1f}s old"
        if age > bound:
            problems.append(
                Problem(
                    Status.CRITICAL,
                    "ingestion",
                    f"the newest sample is {age:.1f}s old, more than {stale_intervals:g} scrape intervals "
                    f"({bound:g}s) — Prometheus is not ingesting",
                    {"newest_sample_age_seconds": round(age, 3)},
                )
            )
    appended = sum(s.value for s in samples_appended)
    if samples_appended:
        metrics["samples_appended"] = round(appended)
        if appended <= 0:
            problems.append(
                Problem(
                    Status.CRITICAL,
                    "ingestion",
                    f"prometheus_tsdb_head_samples_appended_total did not grow in the last {window}: no sample "
                    "was appended",
                )
            )
    appended_text = f"{appended:.0f} samples appended in the last {window}; " if samples_appended else ""
    return CheckResult.judge(
        "prometheus.ingestion", "prometheus", f"{appended_text}newest sample {age_text}", problems, metrics
    )


def judge_self_scrape(self_series: Sequence[Sample]) -> CheckResult:
    """Prometheus scrapes its own ``/metrics`` (the counter-based checks need it): ``self_series`` is
    ``count by (instance) (prometheus_tsdb_head_samples_appended_total)``."""
    if self_series:
        instances = ", ".join(sorted(s.labels.get("instance", "?") for s in self_series))
        return CheckResult.judge("prometheus.self_scrape", "prometheus", f"self-metrics scraped ({instances})", [])
    problem = Problem(
        Status.WARNING,
        "self-monitoring",
        "Prometheus does not scrape its own /metrics (no prometheus_tsdb_head_samples_appended_total series) — "
        "dropped notifications, TSDB failures and missed rule evaluations cannot be judged; add a scrape job for "
        "it (job_name: prometheus, targets: [localhost:9090])",
    )
    return CheckResult.judge("prometheus.self_scrape", "prometheus", "", [problem])


def judge_config_reload(runtimeinfo: Mapping[str, Any]) -> CheckResult:
    """The last configuration reload succeeded."""
    when = str(runtimeinfo.get("lastConfigTime") or "?")
    if runtimeinfo.get("reloadConfigSuccess") is False:
        problem = Problem(
            Status.WARNING,
            "configuration",
            f"the last config reload failed: Prometheus still runs the configuration loaded at {when}, not what is "
            "on disk — find the error in its log and check the files with `promtool check config`",
            {"last_config_time": when},
        )
        return CheckResult.judge("prometheus.config_reload", "prometheus", "", [problem], {"config_reload_ok": 0.0})
    return CheckResult.judge(
        "prometheus.config_reload",
        "prometheus",
        f"configuration loaded successfully at {when}",
        [],
        {"config_reload_ok": 1.0},
    )


def judge_tsdb(runtimeinfo: Mapping[str, Any], counters: Mapping[str, Sequence[Sample]], window: str) -> CheckResult:
    """No TSDB failure counter grew over the window (disk full or failing) and no corruption at start-up."""
    problems = []
    corruptions = int(runtimeinfo.get("corruptionCount") or 0)
    if corruptions:
        problems.append(
            Problem(
                Status.WARNING,
                "TSDB",
                f"{corruptions} corruption(s) found and repaired when the TSDB was opened — data was lost; check "
                "the disk",
                {"corruption_count": corruptions},
            )
        )
    for counter, samples in counters.items():
        status, meaning = TSDB_FAILURE_COUNTERS[counter]
        for sample in samples:
            where = sample.labels.get("instance", "?")
            problems.append(
                Problem(
                    status,
                    f"TSDB of {where}",
                    f"{counter} +{sample.value:.0f} in the last {window}: {meaning}",
                    {"instance": where, "counter": counter, "increase": round(sample.value, 1)},
                )
            )
    retention = runtimeinfo.get("storageRetention") or "?"
    return CheckResult.judge(
        "prometheus.tsdb",
        "prometheus",
        f"no TSDB failure in the last {window} (retention {retention})",
        problems,
    )
