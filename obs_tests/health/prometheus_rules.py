"""Verdicts on Prometheus' rule evaluation: every rule healthy, no group too slow, stalled or missing
iterations, every group of the contract's rule files loaded. A pure function from fetched rule groups and
counters (:mod:`obs_tests.health.prometheus_state`) to :class:`~obs_tests.health.status.CheckResult`, naming
the rule, its group and file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from obs_tests.checks.rules import loaded_rule_groups
from obs_tests.clients.prometheus import Sample
from obs_tests.health.recency import ONGOING, Recency
from obs_tests.health.status import CheckResult, Problem, Status, parse_time

__all__ = ["judge_rules"]


def _group_subject(group: Mapping[str, Any]) -> str:
    return f"group '{group.get('name', '?')}' ({Path(str(group.get('file', ''))).name})"


def _slowest(groups: Sequence[Mapping[str, Any]]) -> str | None:
    """The group whose evaluation takes the largest share of its interval: ``group 'x' (f.yml) 0.012s of 15s``."""
    slowest: tuple[float, str] | None = None
    for group in groups:
        interval = float(group.get("interval") or 0)
        took = float(group.get("evaluationTime") or 0)
        if interval:
            share = took / interval
            if slowest is None or share > slowest[0]:
                slowest = (share, f"{_group_subject(group)} {took:.3f}s of {interval:g}s")
    return slowest[1] if slowest else None


def _evaluation_problems(group: Mapping[str, Any], now: float, stale_intervals: float) -> list[Problem]:
    """The group's evaluation takes its whole interval, or it was last evaluated too long ago."""
    problems = []
    subject = _group_subject(group)
    base = {"group": str(group.get("name", "")), "file": str(group.get("file", ""))}
    interval = float(group.get("interval") or 0)
    took = float(group.get("evaluationTime") or 0)
    if interval and took >= interval:
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
    return problems


def _rule_problems(group: Mapping[str, Any]) -> list[Problem]:
    """A rule unhealthy or with a last error: CRITICAL for an alerting rule, a WARNING for a recording one."""
    problems = []
    subject = _group_subject(group)
    base = {"group": str(group.get("name", "")), "file": str(group.get("file", ""))}
    for rule in group.get("rules") or []:
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
                f"{kind} rule {rule.get('name')}: health {health or '?'}: {error or 'no error text'} — {consequence}",
                {**base, "rule": str(rule.get("name", "")), "rule_type": kind, "last_error": error},
            )
        )
    return problems


def _missed_problems(missed: Sequence[Sample], recency: Recency, window: str) -> list[Problem]:
    """Iterations a group missed over the window, saying when they stopped if they did."""
    problems = []
    for sample in missed:
        file, _, name = sample.labels.get("rule_group", "").rpartition(";")
        ended = recency.ended(sample)
        count = f"{sample.value:.0f} evaluation(s) missed in the last {window}"
        problems.append(
            Problem(
                Status.WARNING,
                f"group '{name}' ({Path(file).name})",
                f"{count} — the group falls behind its interval"
                if ended is None
                else f"{count}, {recency.describe(ended)} (it keeps its interval again)",
                {"group": name, "file": file, "missed": round(sample.value, 1), **recency.fields(ended)},
            )
        )
    return problems


def _failure_problems(failures: Sequence[Sample], failing_groups: set[Any], window: str) -> list[Problem]:
    """Failed evaluations over the window of a group none of whose rules fails now: an intermittent error."""
    problems = []
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
    return problems


def _unloaded_problems(
    groups: Sequence[Mapping[str, Any]], expected_groups: Sequence[tuple[str, str]]
) -> list[Problem]:
    """A CRITICAL per group of the contract's rule files Prometheus has not loaded."""
    problems = []
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
    return problems


def judge_rules(
    groups: Sequence[Mapping[str, Any]],
    now: float,
    *,
    missed: Sequence[Sample] = (),
    missed_recency: Recency = ONGOING,
    failures: Sequence[Sample] = (),
    expected_groups: Sequence[tuple[str, str]] = (),
    stale_intervals: float = 3.0,
    window: str = "10m",
) -> CheckResult:
    """Every rule healthy with no ``lastError``; no group slower than its interval, stalled, or missing
    iterations; every group of the contract's rule files loaded (``expected_groups``: (file name, group); an
    empty file name — a PrometheusRule manifest's group, in a file the operator names — matches by group)."""
    problems: list[Problem] = []
    for group in groups:
        problems += _evaluation_problems(group, now, stale_intervals)
        problems += _rule_problems(group)
    failing_groups = {p.fields.get("group") for p in problems if p.fields.get("rule")}
    problems += _missed_problems(missed, missed_recency, window)
    problems += _failure_problems(failures, failing_groups, window)
    problems += _unloaded_problems(groups, expected_groups)
    if not groups:
        problems.append(
            Problem(Status.WARNING, "rules", "Prometheus has no rule group loaded: nothing can alert — see rule_files")
        )
    rules = sum(len(group.get("rules") or []) for group in groups)
    metrics = {
        "rule_groups": float(len(groups)),
        "rules": float(rules),
        "rule_errors": float(sum(1 for p in problems if p.fields.get("rule"))),
    }
    slowest = _slowest(groups)
    slow = f"; slowest: {slowest}" if slowest else ""
    return CheckResult.judge(
        "prometheus.rules", "prometheus", f"{len(groups)} groups, {rules} rules healthy{slow}", problems, metrics
    )
