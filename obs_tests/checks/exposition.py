"""Exposition lint: what a target's ``/metrics`` says, judged by ``promtool check metrics`` and the contract.

:func:`parse_promtool` reads promtool's findings (``<metric> <problem>`` per line, or a parse error);
:func:`check_exposition` compares the exposition's families to the contract: declared type, declared
labels present, no label the contract does not declare.

A third-party exporter's names (node_exporter, redis_exporter) are not the user's to change: every
promtool finding (rule id ``exposition/promtool``, which the policy can lower) says how to accept it in
the contract — the job's ``lint_ignore``, with a regular expression ready to paste
(:func:`lint_ignore_patterns` gives a compact set for all of a job's problems).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from obs_tests.config.contract import Metric
from obs_tests.core.findings import Finding

__all__ = ["LintProblem", "check_exposition", "lint_findings", "lint_ignore_patterns", "parse_promtool", "yaml_list"]

_STRUCTURAL_LABELS = {"le", "quantile"}
_TYPE_ALIASES = {"untyped": "unknown"}


@dataclass(frozen=True)
class LintProblem:
    """One line of promtool's verdict."""

    metric: str
    problem: str

    def __str__(self) -> str:
        return f"{self.metric} {self.problem}".strip()


def parse_promtool(output: str) -> list[LintProblem]:
    """promtool ``check metrics`` output -> problems (a parse error becomes one problem named ``(parse)``)."""
    problems = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("error while linting:"):
            problems.append(LintProblem("(parse)", line.removeprefix("error while linting:").strip()))
            continue
        metric, _, problem = line.partition(" ")
        problems.append(LintProblem(metric, problem))
    return problems


_SPECIAL = re.compile(r"([.^$*+?{}\[\]\\|()])")


def _escape(text: str) -> str:
    """``re.escape`` without escaping spaces and quotes: a regex a user can read in the contract."""
    return _SPECIAL.sub(r"\\\1", text)


def _pattern(problem: LintProblem) -> str:
    return f"^{_escape(problem.metric)} {_escape(problem.problem)}$"


def _common_prefix(names: Sequence[str]) -> str:
    first, last = min(names), max(names)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    prefix = first[:size]
    return prefix[: prefix.rfind("_") + 1]


def yaml_list(patterns: Sequence[str]) -> str:
    """``['a', 'b']`` in YAML flow style, single-quoted (regexes need no escaping there)."""
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in patterns) + "]"


def lint_ignore_patterns(problems: Iterable[LintProblem]) -> list[str]:
    """Regular expressions for a job's ``lint_ignore`` that accept exactly these problems: one per kind of
    problem, over the metrics that have it (``^redis_\\S+ <problem>$`` when five or more share a prefix)."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for problem in problems:
        if problem.metric != "(parse)":
            by_kind[problem.problem].append(problem.metric)
    patterns = []
    for kind, metrics in by_kind.items():
        names = sorted(set(metrics))
        prefix = _common_prefix(names)
        if len(names) >= 5 and prefix:
            subject = f"{_escape(prefix)}\\S+"
        elif len(names) == 1:
            subject = _escape(names[0])
        else:
            subject = "(?:" + "|".join(_escape(n) for n in names) + ")"
        patterns.append(f"^{subject} {_escape(kind)}$")
    return patterns


def lint_findings(
    target: str, problems: Iterable[LintProblem], ignore: Sequence[str] = ()
) -> tuple[list[Finding], list[LintProblem]]:
    """Findings for ``target`` (``job/instance``); problems matching an ``ignore`` regex are returned apart.
    Each finding says how to accept it in the job's ``lint_ignore`` when the names are not yours."""
    patterns = [re.compile(p) for p in ignore]
    job = target.split("/", 1)[0]
    findings, ignored = [], []
    for problem in problems:
        if any(p.search(str(problem)) for p in patterns):
            ignored.append(problem)
            continue
        if problem.metric == "(parse)":
            fix = " — the exposition does not parse: fix the exporter (lint_ignore cannot accept this)"
        else:
            fix = (
                f" — rename it where it is exported; an exporter whose names you cannot change (node_exporter, "
                f"redis_exporter …) is accepted in the contract's job '{job}': "
                f"lint_ignore: {yaml_list([_pattern(problem)])}"
            )
        findings.append(
            Finding(
                "exposition",
                target,
                f"promtool: {problem.metric}: {problem.problem}{fix}",
                rule="exposition/promtool",
            )
        )
    return findings, ignored


def _family_for(metric: Metric, families: dict[str, tuple[str, set[str]]]) -> tuple[str, str, set[str]] | None:
    for candidate in (metric.name, metric.name.removesuffix("_total"), metric.name.removesuffix("_info")):
        if candidate in families:
            kind, labels = families[candidate]
            return candidate, kind, labels
    return None


def check_exposition(target: str, text: str, metrics: Iterable[Metric]) -> list[Finding]:
    """The contract ``metrics`` found in this exposition have the declared type and exactly the declared labels.

    Metrics the exposition does not contain are not judged here (presence is checked in Prometheus).
    """
    try:
        parsed = list(text_string_to_metric_families(text))
    except ValueError as exc:
        return [Finding("exposition", target, f"the exposition does not parse: {exc}", rule="exposition/contract")]
    families: dict[str, tuple[str, set[str]]] = {}
    for family in parsed:
        labels: set[str] = set()
        for sample in family.samples:
            # an empty label value is no label to Prometheus (err="" of a scrape that had no error)
            labels |= {name for name, value in sample.labels.items() if value != ""}
        families[family.name] = (family.type, labels - _STRUCTURAL_LABELS)
    findings = []
    for metric in metrics:
        found = _family_for(metric, families)
        if found is None:
            continue
        _, kind, labels = found
        declared = _TYPE_ALIASES.get(metric.type, metric.type)
        if kind != declared:
            findings.append(
                Finding(
                    "exposition",
                    target,
                    f"{metric.name} is exposed as {kind} (# TYPE), the contract declares {metric.type}",
                    rule="exposition/contract",
                )
            )
        missing = sorted(set(metric.labels) - labels)
        if missing:
            findings.append(
                Finding(
                    "exposition",
                    target,
                    f"{metric.name} lacks the declared label(s) {', '.join(missing)}",
                    rule="exposition/contract",
                )
            )
        extra = sorted(labels - set(metric.labels))
        if extra:
            findings.append(
                Finding(
                    "exposition",
                    target,
                    f"{metric.name} has label(s) the contract does not declare: {', '.join(extra)} — declare them "
                    "(and budget their values) or drop them",
                    rule="exposition/contract",
                )
            )
    return findings
