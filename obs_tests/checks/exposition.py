"""Exposition lint: what a target's ``/metrics`` says, judged by ``promtool check metrics`` and the contract.

:func:`parse_promtool` reads promtool's findings (``<metric> <problem>`` per line, or a parse error);
:func:`check_exposition` compares the exposition's families to the contract: declared type, declared
labels present, no label the contract does not declare.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from obs_tests.contract import Metric
from obs_tests.findings import Finding

__all__ = ["LintProblem", "check_exposition", "lint_findings", "parse_promtool"]

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


def lint_findings(
    target: str, problems: Iterable[LintProblem], ignore: Sequence[str] = ()
) -> tuple[list[Finding], list[LintProblem]]:
    """Findings for ``target`` (``job/instance``); problems matching an ``ignore`` regex are returned apart."""
    patterns = [re.compile(p) for p in ignore]
    findings, ignored = [], []
    for problem in problems:
        if any(p.search(str(problem)) for p in patterns):
            ignored.append(problem)
            continue
        findings.append(Finding("exposition", target, f"promtool: {problem.metric}: {problem.problem}"))
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
        return [Finding("exposition", target, f"the exposition does not parse: {exc}")]
    families: dict[str, tuple[str, set[str]]] = {}
    for family in parsed:
        labels: set[str] = set()
        for sample in family.samples:
            labels |= set(sample.labels)
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
                )
            )
        missing = sorted(set(metric.labels) - labels)
        if missing:
            findings.append(
                Finding("exposition", target, f"{metric.name} lacks the declared label(s) {', '.join(missing)}")
            )
        extra = sorted(labels - set(metric.labels))
        if extra:
            findings.append(
                Finding(
                    "exposition",
                    target,
                    f"{metric.name} has label(s) the contract does not declare: {', '.join(extra)} — declare them "
                    "(and budget their values) or drop them",
                )
            )
    return findings
