"""Live rule selectors: does every series selector of a rule match something on the Prometheus under test?

A selector that matches nothing makes its alert unable to fire (or its recording rule empty). The finding
(``rule/selector-no-match``, at the rule's expression line) names the culprit: the metric that does not
exist (with the closest existing names) or the label matcher that excludes every series (with the values
that exist). A selector written twice in one expression is probed and reported once.

Some selectors rightly match nothing on a given stack — a collector that is off, hardware that is absent.
The contract declares them in ``rules.expected_no_match`` with the reason; they are reported with it, not
failed. An entry that names no selector of any rule is stale (a finding), and one whose selector matches
after all is a warning (the declaration can go, so a later outage is caught).

Example::

    result = probe_rule(prom, rule, prom.metric_names(), contract.expected_no_match)
    result.findings, result.declared
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import NoMatchExpected
from obs_tests.core.findings import Finding
from obs_tests.errors import PromQLSyntaxError
from obs_tests.rules.promql import Selector, selectors
from obs_tests.rules.rulefiles import Rule, RuleFile

__all__ = [
    "ProbeResult",
    "SelectorProbe",
    "absent_selectors",
    "absent_true_finding",
    "check_no_match_declarations",
    "declared_no_match",
    "diagnose_selector",
    "live_selectors",
    "probe_rule",
    "stale_no_match_finding",
]

_NO_SERIES_EXPECTED = frozenset({"absent", "absent_over_time"})
_SYNTHETIC = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


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
    """The distinct selectors of ``rule`` that must match series on a live Prometheus (not inside absent()),
    in source order: a selector written twice in the expression is probed, and reported, once."""
    try:
        sels = selectors(rule.expr)
    except PromQLSyntaxError:
        return []
    wanted = [s for s in sels if s.function not in _NO_SERIES_EXPECTED and s.metric not in _SYNTHETIC]
    return list({s.text(): s for s in reversed(wanted)}.values())[::-1]


def absent_selectors(rule: Rule) -> list[Selector]:
    """The selectors of ``rule`` inside ``absent()``/``absent_over_time()``, once each: they are meant to
    match nothing during an outage, and must match something the rest of the time."""
    try:
        sels = selectors(rule.expr)
    except PromQLSyntaxError:
        return []
    wanted = [s for s in sels if s.function in _NO_SERIES_EXPECTED and s.metric not in _SYNTHETIC]
    return list({s.text(): s for s in reversed(wanted)}.values())[::-1]


def absent_true_finding(rule: Rule, selector: Selector, diagnosis: Finding | None) -> Finding:
    """A warning: ``absent(selector)`` is true now, so the alert fires now; with the diagnosis of the
    selector (a misspelt job fires forever)."""
    why = diagnosis.message.split(" matches no series: ", 1)[-1] if diagnosis else "nothing matches now"
    return rule.finding(
        "rule/absent-true",
        f"{selector.function}({selector.text()}) is true now, so the alert fires now: {why} — right during an "
        "outage of what it watches; if a name or label is misspelt it fires forever",
        rule.expr_line,
        severity="warning",
    )


def diagnose_selector(probe: SelectorProbe, metric_names: Iterable[str]) -> Finding | None:
    """A finding when the selector matches nothing, naming the missing metric (with the closest existing
    names) or the label matcher that excludes every series (with the values that exist)."""
    if probe.matches > 0:
        return None
    sel = probe.selector
    rule = probe.rule
    if sel.metric and not probe.metric_exists and sel.metric in set(metric_names):
        message = (
            f"selector {sel.text()} matches no series: {sel.metric} has no series now, though Prometheus "
            "stored some of it (recently or before) — its target, or what its exporter reads, stopped "
            "exporting it; the rule cannot fire until it is back"
        )
        return rule.finding("rule/selector-no-match", message, rule.expr_line)
    if sel.metric and not probe.metric_exists:
        hint = difflib.get_close_matches(sel.metric, list(metric_names), n=3, cutoff=0.6)
        suggestion = f"; closest existing: {', '.join(hint)}" if hint else ""
        message = (
            f"selector {sel.text()} matches no series: no metric {sel.metric} exists{suggestion} — the rule can "
            "never fire (typo, or the exporter does not export it; if it is off on purpose, declare it in the "
            "contract's rules.expected_no_match with the reason)"
        )
        return rule.finding("rule/selector-no-match", message, rule.expr_line)
    culprits = [m for m, n in probe.matcher_matches.items() if n == 0]
    if culprits:
        parts = []
        for label, op, value in culprits:
            existing = probe.label_values.get(label, [])
            shown = ", ".join(f'"{v}"' for v in existing[:5]) or "none (the label is absent)"
            parts.append(f'{label}{op}"{value}" matches nothing (existing {label} values: {shown})')
        message = f"selector {sel.text()} matches no series: " + "; ".join(parts)
        return rule.finding("rule/selector-no-match", message, rule.expr_line)
    return rule.finding(
        "rule/selector-no-match",
        f"selector {sel.text()} matches no series now (each matcher alone matches; their combination does not)",
        rule.expr_line,
    )


def declared_no_match(rule: Rule, selector: Selector, declared: Sequence[NoMatchExpected]) -> NoMatchExpected | None:
    """The contract's ``rules.expected_no_match`` entry that allows ``selector`` of ``rule`` to match
    nothing, if any."""
    return next((d for d in declared if d.matches(rule.name, selector.text(), selector.metric)), None)


def stale_no_match_finding(index: int, entry: NoMatchExpected, matches: int) -> Finding:
    """A warning: the selector the contract declares to match nothing matches ``matches`` series now."""
    return Finding(
        "rules",
        f"rules.expected_no_match[{index}]",
        f"{entry.selector} is declared to match nothing ({entry.reason}) but matches {matches} series now — "
        "remove the declaration so a future outage of it is caught",
        severity="warning",
        rule="rule/expected-no-match",
    )


def check_no_match_declarations(files: Sequence[RuleFile], declared: Sequence[NoMatchExpected]) -> list[Finding]:
    """Entries of ``rules.expected_no_match`` that match no selector of any rule (misspelled, or the rule is
    gone): each is a finding, with the closest selectors."""
    pairs = [(rule, sel) for rf in files for rule in rf.rules for sel in live_selectors(rule)]
    findings = []
    for index, entry in enumerate(declared):
        if any(entry.matches(rule.name, sel.text(), sel.metric) for rule, sel in pairs):
            continue
        candidates = sorted({sel.text() for rule, sel in pairs if entry.alert in (None, rule.name)})
        candidates += sorted({sel.metric for rule, sel in pairs if sel.metric and entry.alert in (None, rule.name)})
        hint = difflib.get_close_matches(entry.selector, candidates, n=3, cutoff=0.5)
        scope = f" of rule {entry.alert}" if entry.alert else " of any rule"
        if entry.alert and not any(rule.name == entry.alert for rule, _ in pairs):
            scope = f" (there is no rule {entry.alert})"
        findings.append(
            Finding(
                "rules",
                f"rules.expected_no_match[{index}]",
                f"{entry.selector!r} matches no selector{scope}"
                + (f" — closest: {', '.join(hint)}" if hint else "")
                + "; fix it or remove the stale declaration",
                rule="rule/expected-no-match",
            )
        )
    return findings


@dataclass
class ProbeResult:
    """What probing one rule's selectors found: the findings, and the selectors that match nothing as the
    contract declares (with the declaration)."""

    findings: list[Finding] = field(default_factory=list)
    declared: list[tuple[Selector, NoMatchExpected]] = field(default_factory=list)
    absent: list[Selector] = field(default_factory=list)  # absent(selector) true now


def _count(prom: PrometheusClient, expr: str) -> int:
    return int(prom.query_value(f"count({expr})") or 0)


def probe_rule(
    prom: PrometheusClient, rule: Rule, names: Iterable[str], declared: Sequence[NoMatchExpected] = ()
) -> ProbeResult:
    """Ask ``prom`` about every live selector of ``rule`` (``names``: the metric names it has): a selector
    matching nothing is a finding — diagnosed — unless ``declared`` allows it; a declared one that matches
    now is a warning."""
    result = ProbeResult()
    known = list(names)
    for sel in absent_selectors(rule):
        if not _count(prom, sel.text()):
            result.absent.append(sel)
            result.findings.append(absent_true_finding(rule, sel, diagnose_selector(_probe(prom, rule, sel), known)))
    for sel in live_selectors(rule):
        text = sel.text()
        matches = _count(prom, text)
        entry = declared_no_match(rule, sel, declared)
        if entry is not None:
            if matches:
                index = list(declared).index(entry)
                result.findings.append(stale_no_match_finding(index, entry, matches))
            else:
                result.declared.append((sel, entry))
            continue
        if matches:
            continue
        finding = diagnose_selector(_probe(prom, rule, sel), known)
        if finding:
            result.findings.append(finding)
    return result


def _probe(prom: PrometheusClient, rule: Rule, sel: Selector) -> SelectorProbe:
    """What Prometheus has of a selector that matches nothing: the metric, and each matcher alone."""
    probe = SelectorProbe(rule, sel, 0)
    if sel.metric:
        probe.metric_exists = bool(prom.query_value(f'count({{__name__="{sel.metric}"}})'))
    if probe.metric_exists:
        base = sel.metric or ""
        for label, op, value in sel.matchers:
            single = f'{base}{{{label}{op}"{value}"}}' if base else f'{{{label}{op}"{value}"}}'
            probe.matcher_matches[(label, op, value)] = _count(prom, single)
            if base:
                probe.label_values[label] = sorted(
                    s.labels.get(label, "") for s in prom.query(f"count by ({label}) ({base})")
                )
    return probe
