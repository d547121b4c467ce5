"""The team's policy: how strict each kind of finding is, what every alert must carry, and reasoned
in-file suppressions — so a stack obs-tests has never seen can adopt it without rewriting its files.

Every finding has a stable rule id (``rule/required-label``, ``coverage/rule-tests``,
``dashboard/instance-variable`` …). The contract's ``policy.levels`` maps ids — or glob patterns such as
``coverage/*`` — to ``error``, ``warning`` or ``off``; the most specific entry wins, and a finding whose id
no entry names keeps the level its check gave it. Only errors fail a run; warnings are printed and land in
every report; ``off`` drops the finding.

In a rule file, a comment suppresses findings of one rule (the alert or recording rule the comment is in,
or the one right below it), with a reason a reviewer can check, the way pint and ruff do it::

    # obs-tests: ignore rule/required-annotation -- community pack, runbooks live in our wiki
    - alert: HostOutOfMemory

A suppression without a reason, or naming an unknown id, is a finding of its own
(``policy/suppression``).

Example::

    policy = Policy.from_contract_data({"levels": {"coverage/*": "warning"}})
    policy.apply(findings)          # severities set, "off" findings dropped
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from obs_tests.core.durations import parse_duration
from obs_tests.core.findings import Finding

__all__ = [
    "LEVELS",
    "RULE_IDS",
    "Accepted",
    "AlertPolicy",
    "Policy",
    "Suppression",
    "Verdict",
    "judge",
    "read_suppressions",
    "suppressions_in",
    "unknown_levels",
    "without_location",
]

LEVELS = ("error", "warning", "off")

#: Every stable rule id a finding can carry, with what it means (shown in docs and in messages).
RULE_IDS: dict[str, str] = {
    # rule files
    "rule/syntax": "a rule file Prometheus refuses (promtool check rules), or an expression that does not parse",
    "rule/required-label": "an alert without a label the policy requires (policy.alerts.required_labels)",
    "rule/required-annotation": "an alert without an annotation the policy requires",
    "rule/for": "an alert that can stop firing without `for:` (or `for: 0m`), or below policy.alerts.min_for",
    "rule/rate-window": "a rate()/increase() window shorter than policy.rate_window_multiple scrape intervals",
    "rule/counter-function": "rate() over a gauge, or deriv()/delta() over a counter",
    "rule/duplicate-name": "two alerts with the same name",
    "rule/runbook-url": "a runbook_url that is not an absolute URL, or points to a missing runbook",
    "rule/multi-document": "a rule file with several YAML documents (Prometheus loads the first)",
    "rule/selector-no-match": "a rule selector that matches no series on the live Prometheus",
    "rule/expected-no-match": "a rules.expected_no_match entry naming no selector of any rule, or one that matches now",
    "rule/absent-true": "absent(selector) is true now: nothing matches, so the alert fires now (forever, on a typo)",
    "rule/group-health": "a rule group Prometheus evaluates with errors or slower than its interval",
    "rule/unit-test": "a failing promtool unit test",
    # coverage
    "coverage/rule-tests": "an alert without a promtool unit test where it fires and one where it must not",
    "coverage/routing-tests": "an alert without a routing test",
    "coverage/scenarios": "an alert no chaos scenario makes fire and clear",
    # Alertmanager
    "alertmanager/config": "an Alertmanager config amtool refuses",
    "alertmanager/route": "an alert routed to other receivers than its routing test says",
    "alertmanager/inhibition": "an alert the live Alertmanager inhibits where it must not, or does not where it must",
    "alertmanager/notification": "a notification that did not reach its receiver, or was grouped or resolved wrongly",
    "alertmanager/silence": "a silence that did not hold a notification back, or did not let it out when it expired",
    # metrics
    "exposition/promtool": "a problem `promtool check metrics` reports in a target's exposition",
    "exposition/contract": "an exposed metric whose type or labels differ from the contract",
    "coverage/metrics": "a metric the contract declares, or a rule or panel reads, that no target exports",
    "metric/counter-reset": "a counter that went down without a restart of what it counts",
    "metric/histogram": "a histogram whose buckets are not cumulative, lack +Inf, or disagree with _count",
    "metric/quantile": "a histogram_quantile further from the measured latency than one bucket",
    "metric/range": "a gauge outside the range the contract declares, or not finite",
    "metric/cardinality": "a metric with more series than its max_series budget",
    "metric/freshness": "a series with no sample for several scrape intervals, or gone stale",
    # dashboards
    "dashboard/schema": "a dashboard file that does not match the dashboard schema",
    "dashboard/uid": "a missing or duplicated dashboard uid",
    "dashboard/title": "a missing dashboard or panel title",
    "dashboard/datasource": "a hard-coded datasource instead of a datasource variable",
    "dashboard/job-variable": "no job variable, or a selector that does not filter on it",
    "dashboard/instance-variable": "no instance variable, or a selector that does not filter on it",
    "dashboard/unit": "a graph, stat or gauge panel without a unit",
    "dashboard/rate-interval": "rate()/irate()/increase() not over [$__rate_interval]",
    "dashboard/panel-id": "duplicated panel ids",
    "dashboard/no-query": "a data panel without a query",
    "dashboard/undefined-variable": "a query using a variable the dashboard does not define",
    "dashboard/promql": "a panel query that does not parse",
    "dashboard/library-panel": "a library panel (its queries live in Grafana)",
    "dashboard/schema-version": "an old dashboard schemaVersion",
    "dashboard/panel-empty": "a panel with no data at all (Grafana shows 'No data')",
    "dashboard/query-empty": "one query of a panel that has data returns nothing",
    "dashboard/query-error": "a panel query Prometheus refuses",
    "dashboard/constant-zero": "a panel query that is constantly zero",
    "dashboard/variable": "a template variable that resolves to no value",
    "dashboard/expected-empty": "a dashboards.expected_empty entry naming no existing dashboard, panel or query",
    "dashboard/metric-missing": "a metric a dashboard query reads that Prometheus does not have",
    # Grafana (live)
    "grafana/health": "Grafana or its Prometheus datasource fails its health check",
    "grafana/dashboard-copy": "Grafana's copy of a dashboard differs from the file (provisioned, or read back)",
    "grafana/provisioning": "a Grafana provisioning file that does not follow the documented format",
    # the policy itself
    "policy/suppression": "an in-file suppression without a reason, or naming an unknown rule id",
}

_LOCATION = re.compile(r"\s+\([^()]*:\d+\)$")
_SUPPRESSION = re.compile(r"#\s*obs-tests:\s*ignore\s+(?P<ids>[^\s].*?)(?:\s+--\s*(?P<reason>.*))?\s*$")


@dataclass(frozen=True)
class AlertPolicy:
    """What every alerting rule must carry."""

    required_labels: tuple[str, ...] = ("severity", "team")
    required_annotations: tuple[str, ...] = ("summary", "description", "runbook_url")
    min_for: float = 0.0  # seconds; alerts with a shorter for: are rule/for findings (0: only missing)


def without_location(subject: str) -> str:
    """``subject`` without a trailing ``(file:line)``."""
    return _LOCATION.sub("", subject)


@dataclass(frozen=True)
class Accepted:
    """One finding accepted with a reason (``policy.exceptions``; what ``obs-tests init --baseline``
    records): its rule id and its subject as obs-tests prints it, without a trailing ``(file:line)``
    (``alert HostHighLoad`` matches ``alert HostHighLoad (rules/host.yml:12)``: moving the rule in its file
    keeps it accepted)."""

    rule: str
    subject: str
    reason: str
    #: a text the finding's message must contain (the selector of a rule/selector-no-match finding): the
    #: exception then accepts that one problem of the subject, not a new one beside it
    contains: str = ""

    def covers(self, finding: Finding) -> bool:
        """Whether this exception accepts ``finding``."""
        if not fnmatch.fnmatchcase(finding.rule, self.rule):
            return False
        if self.contains and self.contains not in finding.message:
            return False
        return self.subject in (finding.subject, without_location(finding.subject))


@dataclass(frozen=True)
class Policy:
    """Levels per rule id (glob patterns allowed), the alert policy, the rate-window multiple and the
    accepted findings. The defaults are obs-tests' strict ones: every finding at the level its check
    gives it, none accepted."""

    alerts: AlertPolicy = field(default_factory=AlertPolicy)
    rate_window_multiple: float = 4.0
    levels: Mapping[str, str] = field(default_factory=dict)
    exceptions: tuple[Accepted, ...] = ()

    @classmethod
    def from_contract_data(cls, raw: Mapping[str, Any] | None) -> Policy:
        """From the contract's ``policy`` mapping (already schema-validated)."""
        if not raw:
            return cls()
        alerts = raw.get("alerts") or {}
        defaults = AlertPolicy()
        return cls(
            alerts=AlertPolicy(
                required_labels=tuple(alerts.get("required_labels", defaults.required_labels)),
                required_annotations=tuple(alerts.get("required_annotations", defaults.required_annotations)),
                min_for=parse_duration(str(alerts["min_for"])) if "min_for" in alerts else 0.0,
            ),
            rate_window_multiple=float(raw.get("rate_window_multiple", 4.0)),
            # YAML 1.1 reads a bare `off` as false
            levels={str(k): "off" if v is False else str(v) for k, v in (raw.get("levels") or {}).items()},
            exceptions=tuple(
                Accepted(str(e["rule"]), str(e["subject"]), str(e["reason"]), str(e.get("contains") or ""))
                for e in raw.get("exceptions") or ()
            ),
        )

    def level(self, rule: str, default: str) -> str:
        """The level of a finding with id ``rule``: the exact entry, else the most specific matching
        pattern (the longest one), else ``default``."""
        if rule in self.levels:
            return self.levels[rule]
        matching = [p for p in self.levels if any(c in p for c in "*?[") and fnmatch.fnmatchcase(rule, p)]
        if matching:
            return self.levels[max(matching, key=len)]
        return default

    def apply(self, findings: Iterable[Finding]) -> list[Finding]:
        """``findings`` with the policy's levels: severities set, ``off`` ones and accepted ones
        (``exceptions``) dropped. Findings without a rule id keep theirs."""
        out = []
        for finding in findings:
            if any(e.covers(finding) for e in self.exceptions):
                continue
            if not finding.rule:
                out.append(finding)
                continue
            level = self.level(finding.rule, finding.severity)
            if level == "off":
                continue
            out.append(finding if level == finding.severity else replace(finding, severity=level))
        return out


@dataclass(frozen=True)
class Suppression:
    """An ``# obs-tests: ignore <ids> -- <reason>`` comment and the lines it covers (one rule's block)."""

    file: Path
    line: int
    rules: tuple[str, ...]
    reason: str
    first: int = 0  # the lines of the rule it covers
    last: int = 0

    def covers(self, finding: Finding) -> bool:
        """Whether this suppression silences ``finding`` (same file, a line in the rule, a listed id)."""
        if finding.file is None or finding.line is None or not finding.rule:
            return False
        if Path(finding.file).resolve() != self.file.resolve() or not self.first <= finding.line <= self.last:
            return False
        return any(fnmatch.fnmatchcase(finding.rule, pattern) for pattern in self.rules)


def read_suppressions(path: Path, text: str, rule_lines: Sequence[int]) -> tuple[list[Suppression], list[Finding]]:
    """The suppressions of a rule file and the problems with them. ``rule_lines`` are the first lines of
    the file's rules: a comment covers the rule it sits in, or the next rule when it sits above one."""
    starts = sorted(rule_lines)
    lines = text.splitlines()
    found: list[Suppression] = []
    problems: list[Finding] = []
    for number, raw in enumerate(lines, start=1):
        match = _SUPPRESSION.search(raw)
        if match is None:
            continue
        ids = tuple(i for i in re.split(r"[\s,]+", match.group("ids").strip()) if i)
        reason = (match.group("reason") or "").strip()
        where = f"{path}:{number}"
        unknown = [i for i in ids if not any(fnmatch.fnmatchcase(r, i) for r in RULE_IDS)]
        if not reason:
            problems.append(
                Finding(
                    "policy",
                    where,
                    "an obs-tests suppression needs a reason a reviewer can check: "
                    f"'# obs-tests: ignore {' '.join(ids) or '<rule-id>'} -- <why>'",
                    rule="policy/suppression",
                    file=str(path),
                    line=number,
                )
            )
            continue
        if unknown or not ids:
            problems.append(
                Finding(
                    "policy",
                    where,
                    f"unknown rule id(s) {', '.join(unknown) or '(none)'} — known: {', '.join(sorted(RULE_IDS))}",
                    rule="policy/suppression",
                    file=str(path),
                    line=number,
                )
            )
            continue
        following = [s for s in starts if s > number]
        inside = [s for s in starts if s <= number]
        # Above a rule (only comments or blank lines between): that rule; else the rule it sits in.
        between = lines[number : following[0] - 1] if following else []
        if following and all(not ln.strip() or ln.strip().startswith("#") for ln in between):
            first = following[0]
        elif inside:
            first = inside[-1]
        else:
            first = following[0] if following else number
        later = [s for s in starts if s > first]
        last = later[0] - 1 if later else len(lines)
        found.append(Suppression(path, number, ids, reason, first, last))
    return found, problems


def unknown_levels(levels: Mapping[str, str]) -> list[str]:
    """The entries of ``policy.levels`` that name no known rule id (for a located contract error)."""
    return [key for key in levels if not any(fnmatch.fnmatchcase(r, key) for r in RULE_IDS)]


def suppressions_in(rule_files: Iterable[tuple[Path, Sequence[int]]]) -> tuple[list[Suppression], list[Finding]]:
    """The suppressions of every rule file (path, first lines of its rules) and the problems with them;
    an unreadable file has none (its problems are reported by the checks that read it)."""
    found: list[Suppression] = []
    problems: list[Finding] = []
    for path, lines in rule_files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        more, bad = read_suppressions(path, text, lines)
        found += more
        problems += bad
    return found, problems


@dataclass(frozen=True)
class Verdict:
    """Findings after the policy: what fails the run, what is only reported, and what was let go."""

    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    off: int = 0  # dropped by a level 'off'
    suppressed: int = 0  # dropped by an in-file suppression

    @property
    def ok(self) -> bool:
        """No error."""
        return not self.errors


def judge(findings: Iterable[Finding], policy: Policy, suppressions: Sequence[Suppression] = ()) -> Verdict:
    """Apply in-file suppressions, then the policy's levels."""
    items = list(findings)
    kept = [f for f in items if not any(s.covers(f) for s in suppressions)]
    levelled = policy.apply(kept)
    return Verdict(
        errors=tuple(f for f in levelled if f.severity == "error"),
        warnings=tuple(f for f in levelled if f.severity != "error"),
        off=len(kept) - len(levelled),
        suppressed=len(items) - len(kept),
    )
