"""Verdicts on a Prometheus server's health: pure functions from fetched API data
(:mod:`obs_tests.health.prometheus_state`) to :class:`~obs_tests.health.status.CheckResult`.

Each names what is wrong (job and instance, rule group and file, counter) and what to do about it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obs_tests.checks.rules import loaded_rule_groups
from obs_tests.checks.targets import describe_target
from obs_tests.clients.prometheus import Sample, Target
from obs_tests.config.contract import Job
from obs_tests.health.prometheus_state import TSDB_FAILURE_COUNTERS
from obs_tests.health.settings import HealthSettings
from obs_tests.health.status import CheckResult, Problem, Status, parse_time

__all__ = [
    "Recency",
    "judge_alertmanagers",
    "judge_api",
    "judge_config_reload",
    "judge_ingestion",
    "judge_notifications",
    "judge_rules",
    "judge_scrape_duration",
    "judge_self_scrape",
    "judge_target_freshness",
    "judge_targets",
    "judge_tsdb",
    "judge_watchdog",
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
    by_job: dict[str, int] = {}
    for target in targets:
        by_job[target.job] = by_job.get(target.job, 0) + 1
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


def judge_alertmanagers(data: Mapping[str, Any], *, wanted: bool | None = True) -> CheckResult:
    """Prometheus sends alerts to at least one Alertmanager. ``wanted``: True when the user asked for one
    (``--alertmanager-url``, or a contract whose ``stack.alertmanager`` is set): none is CRITICAL; False when
    the contract declares none (``stack.alertmanager: null``): not applicable; None when nobody said: a
    WARNING (alerts go nowhere, which may be on purpose)."""
    active = [str(a.get("url", "?")) for a in data.get("activeAlertmanagers") or []]
    dropped = data.get("droppedAlertmanagers") or []
    if not active:
        if wanted is False:
            return CheckResult.skip(
                "prometheus.alertmanagers",
                "prometheus",
                "not applicable: the contract declares no Alertmanager (stack.alertmanager: null)",
            )
        extra = f" ({len(dropped)} dropped by relabelling)" if dropped else ""
        fix = "configure alerting.alertmanagers"
        if not wanted:
            fix += ", or give a contract with stack.alertmanager: null when the stack has none on purpose"
        problem = Problem(
            Status.CRITICAL if wanted else Status.WARNING,
            "alerting",
            f"Prometheus has no Alertmanager{extra}: alerts fire but go nowhere — {fix}",
        )
        return CheckResult.judge("prometheus.alertmanagers", "prometheus", "", [problem], {"alertmanagers": 0.0})
    return CheckResult.judge(
        "prometheus.alertmanagers",
        "prometheus",
        f"{len(active)} Alertmanager(s): {', '.join(active)}",
        [],
        {"alertmanagers": float(len(active))},
    )


@dataclass(frozen=True)
class Recency:
    """When counter series last grew (``last``: samples whose value is that time, on Prometheus' clock), to
    tell an incident that ended within the window from one still going on: growth older than ``ongoing``
    seconds at ``now`` has ended. Without a matching sample the growth counts as going on."""

    last: Sequence[Sample] = ()
    now: float = 0.0
    ongoing: float = math.inf

    def ended(self, sample: Sample) -> float | None:
        """When the growth of ``sample``'s series ended, or None while it may still be going on."""
        for other in self.last:
            if other.labels == sample.labels and self.now - other.value > self.ongoing:
                return other.value
        return None

    def describe(self, ended: float) -> str:
        """``the last 252s ago (05:10:03 UTC), none since — recovered``."""
        clock = datetime.fromtimestamp(ended, tz=UTC).strftime("%H:%M:%S")
        return f"the last {self.now - ended:.0f}s ago ({clock} UTC), none since — recovered"

    def fields(self, ended: float | None) -> dict[str, Any]:
        """The problem's fields for when it ended (nothing while it goes on)."""
        if ended is None:
            return {}
        when = datetime.fromtimestamp(ended, tz=UTC).isoformat()
        return {"ended": when, "ended_seconds_ago": round(self.now - ended)}


def judge_notifications(
    queue: Sequence[Sample],
    dropped: Sequence[Sample],
    errors: Sequence[Sample],
    settings: HealthSettings,
    *,
    dropped_recency: Recency = Recency(),
    errors_recency: Recency = Recency(),
) -> CheckResult:
    """The notification queue is not filling up, no alert was dropped, no send failed (over the window). Drops
    that ended within the window (``dropped_recency``) are a recovered incident: WARNING with when they ended,
    not CRITICAL."""
    window = settings.window_text
    problems = []
    fill = max((s.value for s in queue), default=0.0)
    for sample in queue:
        where = sample.labels.get("instance", "?")
        if sample.value >= settings.queue_critical or sample.value >= settings.queue_warning:
            status = Status.CRITICAL if sample.value >= settings.queue_critical else Status.WARNING
            problems.append(
                Problem(
                    status,
                    f"Prometheus {where}",
                    f"the notification queue is {sample.value:.0%} full — Alertmanager is too slow or unreachable; "
                    "alerts will be dropped when it is full",
                    {"instance": where, "queue_fill_ratio": round(sample.value, 4)},
                )
            )
    for sample in dropped:
        if sample.value > 0:
            where = sample.labels.get("instance", "?")
            ended = dropped_recency.ended(sample)
            lost = f"{sample.value:.0f} alert notifications dropped in the last {window}"
            why = "(no Alertmanager accepted them, or the queue overflowed)"
            problems.append(
                Problem(
                    Status.CRITICAL if ended is None else Status.WARNING,
                    f"Prometheus {where}",
                    f"{lost} {why} — those alerts never reached anyone"
                    if ended is None
                    else f"{lost}, {dropped_recency.describe(ended)}; those alerts never reached anyone",
                    {"instance": where, "dropped": round(sample.value, 1), **dropped_recency.fields(ended)},
                )
            )
    for sample in errors:
        where = sample.labels.get("alertmanager", "?")
        ended = errors_recency.ended(sample)
        failed = f"{sample.value:.0f} failed send(s) from Prometheus {sample.labels.get('instance', '?')} in the last "
        problems.append(
            Problem(
                Status.WARNING,
                f"Alertmanager {where}",
                f"{failed}{window} — is that Alertmanager up and reachable?"
                if ended is None
                else f"{failed}{window}, {errors_recency.describe(ended)}",
                {
                    "alertmanager": where,
                    "instance": sample.labels.get("instance", "?"),
                    "errors": round(sample.value, 1),
                    **errors_recency.fields(ended),
                },
            )
        )
    metrics = {"notification_queue_ratio": round(fill, 4)}
    return CheckResult.judge(
        "prometheus.notifications",
        "prometheus",
        f"queue {fill:.0%} full, nothing dropped and no failed send in the last {window}",
        problems,
        metrics,
    )


def _group_subject(group: Mapping[str, Any]) -> str:
    return f"group '{group.get('name', '?')}' ({Path(str(group.get('file', ''))).name})"


def judge_rules(
    groups: Sequence[Mapping[str, Any]],
    now: float,
    *,
    missed: Sequence[Sample] = (),
    missed_recency: Recency = Recency(),
    failures: Sequence[Sample] = (),
    expected_groups: Sequence[tuple[str, str]] = (),
    stale_intervals: float = 3.0,
    window: str = "10m",
) -> CheckResult:
    """Every rule healthy with no ``lastError``; no group slower than its interval, stalled, or missing
    iterations; every group of the contract's rule files loaded (``expected_groups``: (file name, group); an
    empty file name — a PrometheusRule manifest's group, in a file the operator names — matches by group)."""
    problems: list[Problem] = []
    rules = 0
    slowest: tuple[float, str] | None = None
    for group in groups:
        subject = _group_subject(group)
        base = {"group": str(group.get("name", "")), "file": str(group.get("file", ""))}
        interval = float(group.get("interval") or 0)
        took = float(group.get("evaluationTime") or 0)
        if interval:
            share = took / interval
            if slowest is None or share > slowest[0]:
                slowest = (share, f"{subject} {took:.3f}s of {interval:g}s")
            if took >= interval:
                problems.append(
                    Problem(
                        Status.WARNING,
                        subject,
                        f"an evaluation takes {took:.3f}s, its interval is {interval:g}s — evaluations are falling "
                        "behind and iterations are skipped; split the group or simplify its rules",
                        {**base, "evaluation_seconds": round(took, 4), "interval_seconds": interval},
                    )
                )
        last = parse_time(str(group.get("lastEvaluation") or ""))
        if interval and last is not None and now - last > stale_intervals * interval + 1:
            problems.append(
                Problem(
                    Status.WARNING,
                    subject,
                    f"last evaluated {now - last:.1f}s ago, its interval is {interval:g}s — the group is stalled",
                    {**base, "last_evaluation_age_seconds": round(now - last, 3)},
                )
            )
        for rule in group.get("rules") or []:
            rules += 1
            health, error = str(rule.get("health", "")), str(rule.get("lastError") or "")
            if health in ("ok", "unknown") and not error:
                continue
            alerting = rule.get("type") == "alerting"
            kind = "alerting" if alerting else "recording"
            consequence = "the alert cannot fire" if alerting else "rules and dashboards reading it get no data"
            problems.append(
                Problem(
                    Status.CRITICAL if alerting else Status.WARNING,
                    subject,
                    f"{kind} rule {rule.get('name')}: health {health or '?'}: {error or 'no error text'} — "
                    f"{consequence}",
                    {**base, "rule": str(rule.get("name", "")), "rule_type": kind, "last_error": error},
                )
            )
    failing_groups = {p.fields.get("group") for p in problems if p.fields.get("rule")}
    for sample in missed:
        file, _, name = sample.labels.get("rule_group", "").rpartition(";")
        ended = missed_recency.ended(sample)
        count = f"{sample.value:.0f} evaluation(s) missed in the last {window}"
        problems.append(
            Problem(
                Status.WARNING,
                f"group '{name}' ({Path(file).name})",
                f"{count} — the group falls behind its interval"
                if ended is None
                else f"{count}, {missed_recency.describe(ended)} (it keeps its interval again)",
                {"group": name, "file": file, "missed": round(sample.value, 1), **missed_recency.fields(ended)},
            )
        )
    for sample in failures:
        file, _, name = sample.labels.get("rule_group", "").rpartition(";")
        if name in failing_groups:
            continue
        problems.append(
            Problem(
                Status.WARNING,
                f"group '{name}' ({Path(file).name})",
                f"{sample.value:.0f} failed evaluation(s) in the last {window} (healthy now: an intermittent error)",
                {"group": name, "file": file, "failures": round(sample.value, 1)},
            )
        )
    loaded = loaded_rule_groups(groups)
    names = {name for _, name in loaded}
    for file_name, group_name in expected_groups:
        if (file_name, group_name) not in loaded and not (file_name == "" and group_name in names):
            problems.append(
                Problem(
                    Status.CRITICAL,
                    f"group '{group_name}' ({file_name or 'a PrometheusRule manifest'})",
                    "in the contract's rule files but not loaded by Prometheus — is the file in rule_files, did "
                    "the last config reload fail?",
                    {"group": group_name, "file": file_name},
                )
            )
    if not groups:
        problems.append(
            Problem(Status.WARNING, "rules", "Prometheus has no rule group loaded: nothing can alert — see rule_files")
        )
    metrics = {
        "rule_groups": float(len(groups)),
        "rules": float(rules),
        "rule_errors": float(sum(1 for p in problems if p.fields.get("rule"))),
    }
    slow = f"; slowest: {slowest[1]}" if slowest else ""
    return CheckResult.judge(
        "prometheus.rules", "prometheus", f"{len(groups)} groups, {rules} rules healthy{slow}", problems, metrics
    )


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


_ALWAYS = re.compile(r"\s*(vector\(\s*1\s*\)|1)\s*")


def _alerting_rules(groups: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for g in groups for r in g.get("rules") or [] if r.get("type") == "alerting"]


def judge_watchdog(
    name: str,
    alerts: Sequence[Mapping[str, Any]],
    groups: Sequence[Mapping[str, Any]],
    am_alerts: Sequence[Mapping[str, Any]] | None = None,
    am_url: str | None = None,
    *,
    am_age: float | None = None,
    resend_grace: float = 75.0,
    discover: bool = False,
) -> CheckResult:
    """The always-firing watchdog alert fires in Prometheus and (given an Alertmanager) reached it.

    Alertmanager keeps no alerts across a restart; Prometheus re-sends firing alerts every
    ``--rules.alert.resend-delay``. An Alertmanager younger (``am_age`` seconds) than ``resend_grace``
    that lacks the watchdog is a WARNING, not yet a CRITICAL. ``discover``: when no rule is named
    ``name``, an alerting rule whose expression always fires (``vector(1)``) under another name — as
    community packs write their watchdogs — is the watchdog."""
    rules = _alerting_rules(groups)
    if discover and not any(r.get("name") == name for r in rules):
        stand_in = next((r for r in rules if _ALWAYS.fullmatch(str(r.get("query", "")))), None)
        if stand_in is not None:
            found = str(stand_in.get("name"))
            result = _judge_watchdog(found, alerts, groups, am_alerts, am_url, am_age=am_age, resend_grace=resend_grace)
            note = f" (no rule named {name}; {found} always fires: expr {stand_in.get('query')})"
            return replace(result, summary=result.summary + note) if result.status is Status.OK else result
    return _judge_watchdog(name, alerts, groups, am_alerts, am_url, am_age=am_age, resend_grace=resend_grace)


def _judge_watchdog(
    name: str,
    alerts: Sequence[Mapping[str, Any]],
    groups: Sequence[Mapping[str, Any]],
    am_alerts: Sequence[Mapping[str, Any]] | None,
    am_url: str | None,
    *,
    am_age: float | None,
    resend_grace: float,
) -> CheckResult:
    mine = [a for a in alerts if a.get("labels", {}).get("alertname") == name]
    firing = [a for a in mine if a.get("state") == "firing"]
    check = "pipeline.watchdog"
    if not firing:
        rule = next((r for r in _alerting_rules(groups) if r.get("name") == name), None)
        if mine:
            problem = Problem(
                Status.WARNING,
                f"alert {name}",
                f"pending, not firing yet ({len(mine)} instance(s)) — a watchdog should have no `for:`",
            )
        elif rule is None:
            problem = Problem(
                Status.WARNING,
                f"alert {name}",
                f"no alerting rule named {name} is loaded, so nothing proves the alerting pipeline alive — add an "
                "always-firing rule (expr: vector(1)) or name yours with --watchdog-alert",
            )
        else:
            error = rule.get("lastError") or ""
            problem = Problem(
                Status.CRITICAL,
                f"alert {name}",
                f"the rule is loaded but the alert is not firing (health {rule.get('health', '?')}"
                + (f": {error}" if error else "")
                + ") — rule evaluation is broken",
            )
        return CheckResult.judge(check, "pipeline", "", [problem])
    if am_alerts is not None:
        received = [a for a in am_alerts if a.get("labels", {}).get("alertname") == name]
        if not received and am_age is not None and am_age < resend_grace:
            problem = Problem(
                Status.WARNING,
                f"alert {name}",
                f"firing in Prometheus, not yet in Alertmanager at {am_url}, which started {am_age:.0f}s ago — "
                f"Prometheus re-sends firing alerts every resend delay (expected within {resend_grace:.0f}s)",
            )
            return CheckResult.judge(check, "pipeline", "", [problem])
        if not received:
            problem = Problem(
                Status.CRITICAL,
                f"alert {name}",
                f"firing in Prometheus but Alertmanager at {am_url} does not have it — alerts from Prometheus do not "
                "reach Alertmanager (alerting config, network, or a different Alertmanager)",
            )
            return CheckResult.judge(check, "pipeline", "", [problem])
        return CheckResult.judge(check, "pipeline", f"{name} firing in Prometheus and received by Alertmanager", [])
    return CheckResult.judge(check, "pipeline", f"{name} firing in Prometheus", [])
