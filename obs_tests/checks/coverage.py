"""Instrumented vs exported vs referenced: which metrics the contract declares, which the targets
actually export, which the rules and dashboards read — and the differences.

- *declared-missing*: declared in the contract, exported by nobody (a finding);
- *referenced-missing*: read by a rule or a dashboard panel, exported by nobody (a finding: that
  alert can never fire, that panel is empty);
- *exported-unused*: exported, but neither declared nor referenced (reported, not a failure).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obs_tests.checks.dashboard_coverage import dashboard_metric_references
from obs_tests.config.contract import ExpectedEmpty, Metric
from obs_tests.core.findings import Finding
from obs_tests.dashboards.dashboard_json import dashboard_files, load_dashboard
from obs_tests.errors import ConfigInvalid, PromQLSyntaxError
from obs_tests.rules.promql import metric_names
from obs_tests.rules.rulefiles import load_rule_files

__all__ = [
    "SYNTHETIC",
    "MetricsCoverage",
    "check_coverage",
    "dashboard_references",
    "rule_references",
]

#: series Prometheus itself writes (not exported by any target)
SYNTHETIC = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)


def _family(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass
class MetricsCoverage:
    """The three sets and where each referenced name is read."""

    declared: dict[str, Metric]
    exported: set[str]
    referenced: dict[str, list[str]] = field(default_factory=dict)
    recorded: set[str] = field(default_factory=set)

    def _is_exported(self, name: str) -> bool:
        return name in self.exported or name in SYNTHETIC or name in self.recorded

    @property
    def declared_missing(self) -> list[str]:
        """Declared metrics with no exported series at all."""
        return sorted(
            name for name, m in self.declared.items() if not any(s in self.exported for s in m.series_names())
        )

    @property
    def referenced_missing(self) -> dict[str, list[str]]:
        """Referenced names nobody exports -> where they are read."""
        return {n: w for n, w in sorted(self.referenced.items()) if not self._is_exported(n)}

    @property
    def exported_unused(self) -> list[str]:
        """Exported metric families neither declared nor referenced."""
        declared = {s for m in self.declared.values() for s in (m.name, *m.series_names())}
        used = declared | set(self.referenced)
        return sorted({_family(n) for n in self.exported if n not in used and _family(n) not in used})

    def to_json(self) -> dict[str, Any]:
        """The report section."""
        return {
            "declared": sorted(self.declared),
            "exported_count": len(self.exported),
            "referenced": {k: sorted(v) for k, v in sorted(self.referenced.items())},
            "declared_missing": self.declared_missing,
            "referenced_missing": self.referenced_missing,
            "exported_unused": self.exported_unused,
        }


def _add(refs: dict[str, list[str]], names: Iterable[str], where: str) -> None:
    for name in names:
        refs.setdefault(name, [])
        if where not in refs[name]:
            refs[name].append(where)


def rule_references(files: Iterable[Path]) -> tuple[dict[str, list[str]], set[str], list[str]]:
    """(metric name -> rules reading it, names recording rules produce, problems) over rule files, plain or
    PrometheusRule manifests."""
    refs: dict[str, list[str]] = {}
    recorded: set[str] = set()
    problems: list[str] = []
    for rf in load_rule_files(files):
        problems += [f"{rf.path}: {p.message}" for p in rf.problems if p.severity == "error" and p.line is None]
        for rule in rf.rules:
            if rule.kind == "record":
                recorded.add(rule.name)
            try:
                names = metric_names(rule.expr)
            except PromQLSyntaxError as exc:
                problems.append(f"{rf.path.name}: rule {rule.name}: {exc}")
                continue
            _add(refs, names, f"rule {rule.name} ({rf.path.name})")
    return refs, recorded, problems


def dashboard_references(
    directory: Path, expected_empty: Sequence[ExpectedEmpty] = ()
) -> tuple[dict[str, list[str]], list[str]]:
    """(metric name -> panels reading it, problems) over every dashboard JSON in ``directory``.

    Grafana variables and macros are replaced by placeholders; queries declared in the contract as expected
    to be empty are left out (see :func:`obs_tests.checks.dashboard_coverage.dashboard_metric_references`).
    """
    problems: list[str] = []
    dashboards = []
    for path in dashboard_files(directory):
        try:
            dashboards.append(load_dashboard(path))
        except ConfigInvalid as exc:
            problems.append(f"{path}: cannot read: {exc}")
    refs, unparsed = dashboard_metric_references(dashboards, expected_empty)
    return refs, problems + unparsed


def check_coverage(
    coverage: MetricsCoverage, contract_source: str = "the contract", stored: Iterable[str] = ()
) -> list[Finding]:
    """Declared-missing and referenced-missing metrics are findings (with where they are read). ``stored``:
    the names Prometheus has stored series of (``/api/v1/label/__name__/values``) — one of them without
    series now is an outage of what exports it, not a name to fix."""
    known = set(stored)
    gone = " now, though Prometheus stored series of it (is its target, or what its exporter reads, down?)"
    findings = [
        Finding(
            "coverage",
            f"metric {name}",
            f"declared in {contract_source} but no target exports it"
            + (gone if name in known else " — export it or remove the declaration"),
            rule="coverage/metrics",
        )
        for name in coverage.declared_missing
    ]
    candidates = sorted(coverage.exported - coverage.recorded)
    for name, where in coverage.referenced_missing.items():
        effects = []
        if any(w.startswith("rule ") for w in where):
            effects.append("the rule reading it can never fire")
        if any(w.startswith("panel ") for w in where):
            effects.append("the panel queries reading it return nothing")
        hint = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
        closest = gone if name in known else f" (closest exported: {', '.join(hint)})" if hint else ""
        outcome = " and ".join(effects) or "what reads it gets nothing"
        findings.append(
            Finding(
                "coverage",
                f"metric {name}",
                f"read by {', '.join(where[:3])}{' …' if len(where) > 3 else ''} but no target exports it"
                f"{closest} — {outcome + (' until it is back' if name in known else '')}",
                rule="coverage/metrics",
            )
        )
    return findings


def exported_families(names: Iterable[str]) -> set[str]:
    """Metric families of raw sample names (``x_bucket`` -> ``x``)."""
    return {_family(n) for n in names}


def declared_index(metrics: Iterable[Metric]) -> Mapping[str, Metric]:
    """name -> metric."""
    return {m.name: m for m in metrics}
