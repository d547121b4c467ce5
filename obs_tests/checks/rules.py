"""Rule lint in the spirit of pint: static checks over parsed rule files, and the health of the rule groups
a running Prometheus evaluates (the live selector checks are :mod:`obs_tests.checks.selectors`).

Static (no server), as the contract's ``policy`` says: the required labels and annotations
(``policy.alerts``), a ``for`` on every alert that can stop firing (``for: 0m`` is no ``for``; at least
``policy.alerts.min_for``), ``rate``/``increase`` windows >= ``policy.rate_window_multiple`` scrape
intervals of the series' job (not applicable where no interval is known: never a guessed one; a live
Prometheus gives them, :func:`live_scrape_intervals`), no counter functions over gauges and no gauge
functions over counters, unique alert names, well-formed ``runbook_url`` (and an existing runbook file when
the URL points into the project's ``runbooks/``), expressions that parse.

Live: every rule group loaded and healthy, no group falling behind.

Every finding carries its rule id (``rule/required-label``, ``rule/rate-window`` …) and file and line, so
the policy can set its level and an in-file suppression can silence it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from obs_tests.config.policy import Policy
from obs_tests.core.durations import parse_duration
from obs_tests.core.findings import Finding
from obs_tests.errors import PromQLSyntaxError
from obs_tests.rules.promql import Selector, selectors
from obs_tests.rules.rulefiles import Rule, RuleFile

__all__ = [
    "COUNTER_FUNCTIONS",
    "GAUGE_FUNCTIONS",
    "WINDOW_FACTORS",
    "LintPolicy",
    "check_rule_groups",
    "evaluated",
    "lint_rules",
    "live_scrape_intervals",
    "loaded_rule_groups",
    "metric_type",
]

#: range functions and the minimum window, in scrape intervals of the series they read (the 4x ones
#: follow ``policy.rate_window_multiple``; the 2x ones need two samples whatever the policy)
WINDOW_FACTORS = {
    "rate": 4.0,
    "increase": 4.0,
    "delta": 4.0,
    "deriv": 4.0,
    "predict_linear": 4.0,
    "resets": 4.0,
    "irate": 2.0,
    "idelta": 2.0,
    "changes": 2.0,
}
COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})
GAUGE_FUNCTIONS = frozenset({"delta", "idelta", "deriv", "predict_linear", "holt_winters"})


@dataclass(frozen=True)
class LintPolicy:
    """What the static lint requires (the defaults are obs-tests' strict ones; a contract's ``policy``
    gives its own through :meth:`from_policy`)."""

    required_labels: tuple[str, ...] = ("severity", "team")
    required_annotations: tuple[str, ...] = ("summary", "description", "runbook_url")
    min_for: float = 0.0  # seconds; 0: only a missing (or zero) for: is a finding
    rate_window_multiple: float = 4.0
    runbooks_dir: Path | None = None

    @classmethod
    def from_policy(cls, policy: Policy, runbooks_dir: Path | None = None) -> LintPolicy:
        """The lint policy of a contract's ``policy`` (alert labels, annotations, min for, window multiple)."""
        return cls(
            required_labels=tuple(policy.alerts.required_labels),
            required_annotations=tuple(policy.alerts.required_annotations),
            min_for=policy.alerts.min_for,
            rate_window_multiple=policy.rate_window_multiple,
            runbooks_dir=runbooks_dir,
        )

    def factor(self, function: str) -> float:
        """The minimum window of ``function``, in scrape intervals."""
        base = WINDOW_FACTORS[function]
        return self.rate_window_multiple if base == 4.0 else base


def metric_type(name: str, types: Mapping[str, str]) -> str | None:
    """The type of a sample name: declared (contract/metadata) or, failing that, by naming convention."""
    if name in types:
        return types[name]
    for suffix in ("_bucket", "_count", "_sum"):
        family = name.removesuffix(suffix)
        if family != name and types.get(family) in ("histogram", "summary"):
            return "counter"
    if name.endswith("_total"):
        return "counter"
    return None


def _interval_for(
    sel: Selector, intervals: Mapping[str, float], job_of: Mapping[str, str], default: float | None
) -> tuple[float | None, str]:
    for label, op, value in sel.matchers:
        if label == "job" and op == "=" and value in intervals:
            return intervals[value], value
        if label == "job" and op == "=~":
            jobs = [j for j in value.split("|") if j in intervals]
            if jobs:
                slowest = max(jobs, key=lambda j: intervals[j])
                return intervals[slowest], slowest
    job = job_of.get(sel.metric or "") or job_of.get((sel.metric or "").rsplit("_", 1)[0], "")
    if job in intervals:
        return intervals[job], job
    return default, "its job (unknown: the largest interval in use)"


def _lint_expr(
    rule: Rule,
    sels: Sequence[Selector],
    types: Mapping[str, str],
    intervals: Mapping[str, float],
    job_of: Mapping[str, str],
    default_interval: float | None,
    policy: LintPolicy,
) -> list[Finding]:
    findings: list[Finding] = []
    for sel in sels:
        if sel.function in WINDOW_FACTORS and sel.range_seconds is not None:
            interval, job = _interval_for(sel, intervals, job_of, default_interval)
            factor = policy.factor(sel.function)
            if interval is not None and sel.range_seconds < factor * interval:
                findings.append(
                    rule.finding(
                        "rule/rate-window",
                        f"{sel.function}({sel.text()}[{sel.range_seconds:g}s]): the window is shorter than "
                        f"{factor:g}x the scrape interval of {job} ({interval:g}s) — use at least "
                        f"[{factor * interval:g}s], or the result is noisy and breaks on one missed scrape",
                        rule.expr_line,
                    )
                )
        kind = metric_type(sel.metric, types) if sel.metric else None
        if sel.function in COUNTER_FUNCTIONS and kind == "gauge":
            findings.append(
                rule.finding(
                    "rule/counter-function",
                    f"{sel.function}() over {sel.metric}, a gauge — {sel.function} assumes a counter (it treats "
                    "every decrease as a reset); use deriv()/delta() for gauges",
                    rule.expr_line,
                )
            )
        if sel.function in GAUGE_FUNCTIONS and kind in ("counter", "histogram", "summary"):
            findings.append(
                rule.finding(
                    "rule/counter-function",
                    f"{sel.function}() over {sel.metric}, a counter — it ignores counter resets; use rate() or "
                    "increase()",
                    rule.expr_line,
                )
            )
    return list(dict.fromkeys(findings))  # a selector written twice is one finding


def _lint_runbook(rule: Rule, policy: LintPolicy) -> list[Finding]:
    url = rule.annotations.get("runbook_url")
    if not url:
        return []
    if "{{" in url:
        return []  # templated per alert instance: cannot be checked statically
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        return [rule.finding("rule/runbook-url", f"runbook_url {url!r} is not an absolute http(s) URL")]
    if policy.runbooks_dir is not None and "/runbooks/" in parts.path:
        name = parts.path.rsplit("/runbooks/", 1)[1]
        if not (policy.runbooks_dir / name).is_file():
            return [
                rule.finding(
                    "rule/runbook-url",
                    f"runbook_url points at runbooks/{name}, which does not exist in {policy.runbooks_dir} — "
                    "write the runbook",
                )
            ]
    return []


def _lint_for(rule: Rule, always_firing: bool, policy: LintPolicy) -> list[Finding]:
    if always_firing:
        return []
    if not rule.for_seconds:
        written = "no 'for:'" if rule.for_seconds is None else "'for: 0' (the same as no 'for:')"
        return [
            rule.finding(
                "rule/for",
                f"{written} — the alert fires on a single evaluation, so one failed scrape or a blip pages; "
                f"add e.g. for: {_shown_duration(max(policy.min_for, 300.0))} (only always-firing watchdogs go "
                "without)",
            )
        ]
    if rule.for_seconds < policy.min_for:
        return [
            rule.finding(
                "rule/for",
                f"for: {_shown_duration(rule.for_seconds)} is shorter than the policy's minimum "
                f"(policy.alerts.min_for: {_shown_duration(policy.min_for)}) — raise it, or lower the minimum",
            )
        ]
    return []


def _shown_duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _lint_required(rule: Rule, policy: LintPolicy) -> list[Finding]:
    """The labels and annotations the policy requires on every alert."""
    findings = []
    missing_labels = [k for k in policy.required_labels if not rule.labels.get(k)]
    if missing_labels:
        findings.append(
            rule.finding(
                "rule/required-label",
                f"missing label(s) {', '.join(missing_labels)} — routing needs them (required by "
                "policy.alerts.required_labels)",
            )
        )
    missing = [k for k in policy.required_annotations if not rule.annotations.get(k, "").strip()]
    if missing:
        findings.append(
            rule.finding(
                "rule/required-annotation",
                f"missing annotation(s) {', '.join(missing)} — the on-call needs them (required by "
                "policy.alerts.required_annotations)",
            )
        )
    return findings


def _lint_duplicate(rule: Rule, seen: dict[str, Rule]) -> list[Finding]:
    """An alert name used before (``seen``: name -> its first alert, which this one joins if new)."""
    if rule.name in seen:
        first = seen[rule.name]
        return [
            rule.finding(
                "rule/duplicate-name",
                f"alert name already used at {first.file}:{first.line} — alert names must be unique "
                "(routing, silences and runbooks key on them)",
            )
        ]
    seen[rule.name] = rule
    return []


def lint_rules(
    files: Sequence[RuleFile],
    *,
    types: Mapping[str, str] | None = None,
    intervals: Mapping[str, float] | None = None,
    job_of: Mapping[str, str] | None = None,
    default_interval: float | None = None,
    policy: LintPolicy | None = None,
) -> list[Finding]:
    """Static lint of every rule in ``files`` (plus the problems met while parsing them).

    ``types`` maps metric -> type (contract or metadata); ``intervals`` maps job -> scrape interval;
    ``job_of`` maps metric -> the job that exports it; ``default_interval`` is used for series whose
    job is unknown (pass the largest scrape interval in use; None: their windows are not judged).
    """
    policy = policy or LintPolicy()
    types = types or {}
    intervals = intervals or {}
    job_of = job_of or {}
    findings: list[Finding] = []
    seen: dict[str, Rule] = {}
    for rf in files:
        findings += rf.problems
        for rule in rf.rules:
            try:
                sels = selectors(rule.expr)
            except PromQLSyntaxError as exc:
                findings.append(rule.finding("rule/syntax", f"expression does not parse: {exc}", rule.expr_line))
                continue
            findings += _lint_expr(rule, sels, types, intervals, job_of, default_interval, policy)
            if rule.kind != "alert":
                continue
            findings += _lint_required(rule, policy)
            findings += _lint_for(rule, not sels, policy)
            findings += _lint_runbook(rule, policy)
            findings += _lint_duplicate(rule, seen)
    return findings


# -- live: scrape intervals and rule groups ----------------------------------------------------------


def live_scrape_intervals(config_yaml: str, target_intervals: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """(job -> scrape interval, the global interval) of a live Prometheus, from its configuration
    (``/api/v1/status/config``) and, for jobs the configuration does not show, its targets' ``scrapeInterval``.
    A job scraped at several intervals counts with its slowest."""
    try:
        config = yaml.safe_load(config_yaml) or {}
    except yaml.YAMLError:
        config = {}
    if not isinstance(config, dict):
        config = {}
    global_interval = _seconds((config.get("global") or {}).get("scrape_interval")) or 60.0
    jobs: dict[str, float] = {}
    for job in config.get("scrape_configs") or []:
        if isinstance(job, dict) and job.get("job_name"):
            seconds = _seconds(job.get("scrape_interval")) or global_interval
            name = str(job["job_name"])
            jobs[name] = max(jobs.get(name, 0.0), seconds)
    for name, seconds in target_intervals.items():
        jobs.setdefault(name, seconds)
    return jobs, global_interval


def _seconds(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return parse_duration(str(value))
    except ValueError:
        return None


_SCALED_COPY = re.compile(r"^\d{2}-")


def loaded_rule_groups(api_groups: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """``/api/v1/rules`` groups by (file name, group name). A time-scaled copy ``NN-<name>`` that
    Prometheus loads with ``--time-scale`` (stack.timescale) also counts as ``<name>``."""
    exact = {(Path(str(g.get("file", ""))).name, str(g.get("name", ""))): g for g in api_groups}
    loaded = {(_SCALED_COPY.sub("", file), name): g for (file, name), g in exact.items()}
    loaded.update(exact)  # an exact file name wins over a stripped one
    return loaded


def _group_finding(group: str, rf: RuleFile, message: str, subject: str | None = None, name: str = "") -> Finding:
    mine = [r for r in rf.rules if r.group == group]
    line = next((r.line for r in mine if r.name == name), mine[0].line if mine else None)
    return Finding(
        "rules",
        subject or f"group '{group}' ({rf.path.name})",
        message,
        rule="rule/group-health",
        file=str(rf.path),
        line=line,
    )


def evaluated(group: Mapping[str, Any]) -> bool:
    """Whether Prometheus has evaluated the group (``lastEvaluation`` is Go's zero time before the first;
    a Prometheus that does not say is taken at its word)."""
    return not str(group.get("lastEvaluation", "")).startswith("0001-01-01")


def check_rule_groups(files: Sequence[RuleFile], api_groups: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Every group of ``files`` is loaded (``/api/v1/rules``), every rule healthy with no lastError, and
    no group takes longer to evaluate than its interval. The groups of a PrometheusRule manifest are found
    by name (the operator writes them to files of its own naming)."""
    loaded = loaded_rule_groups(api_groups)
    by_name = {str(g.get("name", "")): g for g in api_groups}
    findings = []
    for rf in files:
        for group in dict.fromkeys(rf.groups):
            api = by_name.get(group) if rf.is_manifest else loaded.get((rf.path.name, group))
            if api is None:
                findings.append(
                    _group_finding(
                        group, rf, "not loaded by Prometheus — is the file in rule_files, did the last reload fail?"
                    )
                )
                continue
            interval = float(api.get("interval") or 0)
            if not evaluated(api):
                findings.append(
                    _group_finding(
                        group,
                        rf,
                        f"loaded but never evaluated (interval {interval:g}s): its rules report health unknown "
                        "and none of them can fire — is the rule manager stuck, or the group's interval huge?",
                    )
                )
                continue
            took = float(api.get("evaluationTime") or 0)
            if interval and took > interval:
                findings.append(
                    _group_finding(
                        group,
                        rf,
                        f"evaluation takes {took:.3f}s, longer than its {interval:g}s interval: evaluations are "
                        "skipped — split the group or simplify its rules",
                    )
                )
            for rule in api.get("rules", []):
                health, error = rule.get("health", ""), rule.get("lastError", "")
                if health not in ("ok", "unknown") or error:
                    findings.append(
                        _group_finding(
                            group,
                            rf,
                            f"health {health}: {error or 'no error text'}",
                            f"{rule.get('type', 'rule')} {rule.get('name')} (group '{group}', {rf.path.name})",
                            str(rule.get("name", "")),
                        )
                    )
    return findings
