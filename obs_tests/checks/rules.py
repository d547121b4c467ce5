"""Rule lint in the spirit of pint: static checks over parsed rule files, and live checks against a
running Prometheus.

Static (no server): required labels and annotations, ``for`` on every alert that can stop firing,
``rate``/``increase`` windows >= 4x the scrape interval of the series' job, no counter functions over
gauges and no gauge functions over counters, unique alert names, well-formed ``runbook_url`` (and an
existing runbook file when the URL points into the project's ``runbooks/``), expressions that parse.

Live: every series selector matches something now (else: which metric or label matcher is to blame,
with the closest existing names/values), every rule group loaded and healthy, no group falling behind.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from obs_tests.findings import Finding, display_path
from obs_tests.promql import PromQLSyntaxError, Selector, selectors
from obs_tests.rulefiles import Rule, RuleFile

__all__ = [
    "COUNTER_FUNCTIONS",
    "GAUGE_FUNCTIONS",
    "WINDOW_FACTORS",
    "LintPolicy",
    "SelectorProbe",
    "check_rule_groups",
    "diagnose_selector",
    "lint_rules",
    "live_selectors",
    "loaded_rule_groups",
    "metric_type",
]

#: range functions and the minimum window, in scrape intervals of the series they read
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
_NO_SERIES_EXPECTED = frozenset({"absent", "absent_over_time"})
_SYNTHETIC = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


@dataclass(frozen=True)
class LintPolicy:
    """What the static lint requires."""

    required_labels: tuple[str, ...] = ("severity", "team")
    required_annotations: tuple[str, ...] = ("summary", "description", "runbook_url")
    runbooks_dir: Path | None = None


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


def _where(rule: Rule, line: int | None = None) -> str:
    return f"{rule.title} ({display_path(rule.file)}:{line or rule.line})"


def _interval_for(
    sel: Selector, intervals: Mapping[str, float], job_of: Mapping[str, str], default: float
) -> tuple[float, str]:
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
    return default, "any job"


def _lint_expr(
    rule: Rule,
    sels: Sequence[Selector],
    types: Mapping[str, str],
    intervals: Mapping[str, float],
    job_of: Mapping[str, str],
    default_interval: float,
) -> list[Finding]:
    findings = []
    here = _where(rule, rule.expr_line)
    for sel in sels:
        if sel.function in WINDOW_FACTORS and sel.range_seconds is not None:
            interval, job = _interval_for(sel, intervals, job_of, default_interval)
            factor = WINDOW_FACTORS[sel.function]
            if sel.range_seconds < factor * interval:
                findings.append(
                    Finding(
                        "rules",
                        here,
                        f"{sel.function}({sel.text()}[{sel.range_seconds:g}s]): the window is shorter than "
                        f"{factor:g}x the scrape interval of {job} ({interval:g}s) — use at least "
                        f"[{factor * interval:g}s], or the result is noisy and breaks on one missed scrape",
                    )
                )
        kind = metric_type(sel.metric, types) if sel.metric else None
        if sel.function in COUNTER_FUNCTIONS and kind == "gauge":
            findings.append(
                Finding(
                    "rules",
                    here,
                    f"{sel.function}() over {sel.metric}, a gauge — {sel.function} assumes a counter (it treats "
                    "every decrease as a reset); use deriv()/delta() for gauges",
                )
            )
        if sel.function in GAUGE_FUNCTIONS and kind in ("counter", "histogram", "summary"):
            findings.append(
                Finding(
                    "rules",
                    here,
                    f"{sel.function}() over {sel.metric}, a counter — it ignores counter resets; use rate() or "
                    "increase()",
                )
            )
    return findings


def _lint_runbook(rule: Rule, policy: LintPolicy) -> list[Finding]:
    url = rule.annotations.get("runbook_url")
    if not url:
        return []
    here = _where(rule)
    if "{{" in url:
        return []  # templated per alert instance: cannot be checked statically
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        return [Finding("rules", here, f"runbook_url {url!r} is not an absolute http(s) URL")]
    if policy.runbooks_dir is not None and "/runbooks/" in parts.path:
        name = parts.path.rsplit("/runbooks/", 1)[1]
        if not (policy.runbooks_dir / name).is_file():
            return [
                Finding(
                    "rules",
                    here,
                    f"runbook_url points at runbooks/{name}, which does not exist in {policy.runbooks_dir} — "
                    "write the runbook",
                )
            ]
    return []


def lint_rules(
    files: Sequence[RuleFile],
    *,
    types: Mapping[str, str] | None = None,
    intervals: Mapping[str, float] | None = None,
    job_of: Mapping[str, str] | None = None,
    default_interval: float = 60.0,
    policy: LintPolicy | None = None,
) -> list[Finding]:
    """Static lint of every rule in ``files`` (plus the problems met while parsing them).

    ``types`` maps metric -> type (contract or metadata); ``intervals`` maps job -> scrape interval;
    ``job_of`` maps metric -> the job that exports it; ``default_interval`` is used for series whose
    job is unknown (pass the largest scrape interval in use).
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
                findings.append(Finding("rules", _where(rule, rule.expr_line), f"expression does not parse: {exc}"))
                continue
            findings += _lint_expr(rule, sels, types, intervals, job_of, default_interval)
            if rule.kind != "alert":
                continue
            here = _where(rule)
            missing_labels = [k for k in policy.required_labels if not rule.labels.get(k)]
            if missing_labels:
                findings.append(
                    Finding("rules", here, f"missing label(s) {', '.join(missing_labels)} — routing needs them")
                )
            missing = [k for k in policy.required_annotations if not rule.annotations.get(k, "").strip()]
            if missing:
                findings.append(
                    Finding("rules", here, f"missing annotation(s) {', '.join(missing)} — the on-call needs them")
                )
            always_firing = not sels
            if rule.for_seconds is None and not always_firing:
                findings.append(
                    Finding(
                        "rules",
                        here,
                        "no 'for:' — the alert fires on a single evaluation, so one failed scrape or a blip pages; "
                        "add e.g. for: 5m (only always-firing watchdogs go without)",
                    )
                )
            findings += _lint_runbook(rule, policy)
            if rule.name in seen:
                first = seen[rule.name]
                findings.append(
                    Finding(
                        "rules",
                        here,
                        f"alert name already used at {first.file}:{first.line} — alert names must be unique "
                        "(routing, silences and runbooks key on them)",
                    )
                )
            else:
                seen[rule.name] = rule
    return findings


# -- live -----------------------------------------------------------------------------------------


@dataclass
class SelectorProbe:
    """What Prometheus says about one selector of a rule, for :func:`diagnose_selector`."""

    rule: Rule
    selector: Selector
    matches: int
    metric_exists: bool = True
    matcher_matches: dict[tuple[str, str, str], int] = field(default_factory=dict)
    label_values: dict[str, list[str]] = field(default_factory=dict)


def live_selectors(rule: Rule) -> list[Selector]:
    """The selectors of ``rule`` that must match series on a live Prometheus (not inside absent())."""
    try:
        sels = selectors(rule.expr)
    except PromQLSyntaxError:
        return []
    return [s for s in sels if s.function not in _NO_SERIES_EXPECTED and s.metric not in _SYNTHETIC]


def diagnose_selector(probe: SelectorProbe, metric_names: Iterable[str]) -> Finding | None:
    """A finding when the selector matches nothing, naming the missing metric (with the closest existing
    names) or the label matcher that excludes every series (with the values that exist)."""
    if probe.matches > 0:
        return None
    sel = probe.selector
    here = _where(probe.rule, probe.rule.expr_line)
    if sel.metric and not probe.metric_exists:
        hint = difflib.get_close_matches(sel.metric, list(metric_names), n=3, cutoff=0.6)
        suggestion = f"; closest existing: {', '.join(hint)}" if hint else ""
        return Finding(
            "rules",
            here,
            f"selector {sel.text()} matches no series: no metric {sel.metric} exists{suggestion} — the rule can "
            "never fire (typo, or the exporter does not export it)",
        )
    culprits = [m for m, n in probe.matcher_matches.items() if n == 0]
    if culprits:
        parts = []
        for label, op, value in culprits:
            existing = probe.label_values.get(label, [])
            shown = ", ".join(f'"{v}"' for v in existing[:5]) or "none (the label is absent)"
            parts.append(f'{label}{op}"{value}" matches nothing (existing {label} values: {shown})')
        return Finding("rules", here, f"selector {sel.text()} matches no series: " + "; ".join(parts))
    return Finding(
        "rules",
        here,
        f"selector {sel.text()} matches no series now (each matcher alone matches; their combination does not)",
    )


_SCALED_COPY = re.compile(r"^\d{2}-")


def loaded_rule_groups(api_groups: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """``/api/v1/rules`` groups by (file name, group name). A time-scaled copy ``NN-<name>`` that
    Prometheus loads with ``--time-scale`` (scenarios.timescale) also counts as ``<name>``."""
    exact = {(Path(str(g.get("file", ""))).name, str(g.get("name", ""))): g for g in api_groups}
    loaded = {(_SCALED_COPY.sub("", file), name): g for (file, name), g in exact.items()}
    loaded.update(exact)  # an exact file name wins over a stripped one
    return loaded


def check_rule_groups(files: Sequence[RuleFile], api_groups: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Every group of ``files`` is loaded (``/api/v1/rules``), every rule healthy with no lastError, and
    no group takes longer to evaluate than its interval."""
    loaded = loaded_rule_groups(api_groups)
    findings = []
    for rf in files:
        for group in dict.fromkeys(rf.groups):
            api = loaded.get((rf.path.name, group))
            if api is None:
                findings.append(
                    Finding(
                        "rules",
                        f"group '{group}' ({rf.path.name})",
                        "not loaded by Prometheus — is the file in rule_files, did the last reload fail?",
                    )
                )
                continue
            interval = float(api.get("interval") or 0)
            took = float(api.get("evaluationTime") or 0)
            if interval and took > interval:
                findings.append(
                    Finding(
                        "rules",
                        f"group '{group}' ({rf.path.name})",
                        f"evaluation takes {took:.3f}s, longer than its {interval:g}s interval: evaluations are "
                        "skipped — split the group or simplify its rules",
                    )
                )
            for rule in api.get("rules", []):
                health, error = rule.get("health", ""), rule.get("lastError", "")
                if health not in ("ok", "unknown") or error:
                    findings.append(
                        Finding(
                            "rules",
                            f"{rule.get('type', 'rule')} {rule.get('name')} (group '{group}', {rf.path.name})",
                            f"health {health}: {error or 'no error text'}",
                        )
                    )
    return findings
