"""Prometheus rule files, parsed into located dataclasses — tolerant of anything a valid file may hold.

Unlike Prometheus, which stops at the first problem, :func:`load_rule_file` keeps going and records
every structural problem as a located :class:`~obs_tests.findings.Finding` (``file:line``), so a lint
run reports them all. It accepts everything Prometheus 2.x accepts (recording-only groups, ``limit``,
``interval``, ``keep_firing_for``, templated labels) and notes what Prometheus would silently skip
(documents after the first in a multi-document file).

Example::

    parsed = load_rule_file(Path("prometheus/alerts/gateway.yml"))
    [r.name for r in parsed.rules if r.kind == "alert"]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from obs_tests.contract import parse_duration
from obs_tests.errors import ConfigInvalid
from obs_tests.findings import Finding
from obs_tests.yamlfile import LocatedDocument, load_located_all

__all__ = ["Rule", "RuleFile", "load_rule_file", "load_rule_files"]

_GROUP_KEYS = {"name", "interval", "limit", "rules", "query_offset"}
_RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}


@dataclass(frozen=True)
class Rule:
    """One alerting or recording rule and where it is."""

    file: Path
    group: str
    index: int
    kind: str  # "alert" | "record"
    name: str
    expr: str
    line: int
    expr_line: int
    for_seconds: float | None = None
    keep_firing_for_seconds: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    group_interval: float | None = None
    document: int = 0

    @property
    def where(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}"

    @property
    def title(self) -> str:
        """``alert GatewayDown`` / ``record job:up:sum``."""
        return f"{self.kind} {self.name}"


@dataclass
class RuleFile:
    """A parsed rule file: its rules, group names and the problems met while reading it."""

    path: Path
    rules: list[Rule] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    @property
    def alerts(self) -> list[Rule]:
        """The alerting rules."""
        return [r for r in self.rules if r.kind == "alert"]


def _duration(
    value: Any, doc: LocatedDocument, path: tuple[str | int, ...], what: str, problems: list[Finding]
) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(str(value))
    except ValueError:
        problems.append(
            Finding("rules", doc.where(path), f"{what}: {value!r} is not a duration (use e.g. 30s, 5m, 1h)")
        )
        return None


def _strings(
    value: Any, doc: LocatedDocument, path: tuple[str | int, ...], what: str, problems: list[Finding]
) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(Finding("rules", doc.where(path), f"{what} must be a mapping of names to strings"))
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _parse_rule(
    raw: Any, doc: LocatedDocument, path: tuple[str | int, ...], rf: RuleFile, group: str, index: int, number: int
) -> None:
    problems = rf.problems
    where = doc.where(path)
    if not isinstance(raw, dict):
        problems.append(Finding("rules", where, f"group '{group}' rule {index + 1}: expected a mapping"))
        return
    for key in raw:
        if key not in _RULE_KEYS:
            problems.append(
                Finding(
                    "rules",
                    doc.where((*path, str(key))),
                    f"group '{group}' rule {index + 1}: unknown field '{key}' (Prometheus refuses the file) — "
                    f"known: {', '.join(sorted(_RULE_KEYS))}",
                )
            )
    alert, record = raw.get("alert"), raw.get("record")
    if bool(alert) == bool(record):
        problems.append(
            Finding("rules", where, f"group '{group}' rule {index + 1}: needs exactly one of 'alert' or 'record'")
        )
        return
    expr = raw.get("expr")
    name = str(alert or record)
    if expr is None or str(expr).strip() == "":
        problems.append(Finding("rules", where, f"group '{group}' rule {name}: missing 'expr'"))
        return
    kind = "alert" if alert else "record"
    if kind == "record" and ("for" in raw or "annotations" in raw or "keep_firing_for" in raw):
        problems.append(
            Finding("rules", where, f"recording rule {name}: 'for', 'keep_firing_for' and 'annotations' are for alerts")
        )
    rf.rules.append(
        Rule(
            file=rf.path,
            group=group,
            index=index,
            kind=kind,
            name=name,
            expr=str(expr),
            line=doc.line_of(path) or 0,
            expr_line=doc.line_of((*path, "expr")) or 0,
            for_seconds=_duration(raw.get("for"), doc, (*path, "for"), f"{kind} {name}: for", problems),
            keep_firing_for_seconds=_duration(
                raw.get("keep_firing_for"), doc, (*path, "keep_firing_for"), f"{kind} {name}: keep_firing_for", problems
            ),
            labels=_strings(raw.get("labels"), doc, (*path, "labels"), f"{kind} {name}: labels", problems),
            annotations=_strings(
                raw.get("annotations"), doc, (*path, "annotations"), f"{kind} {name}: annotations", problems
            ),
            group_interval=None,
            document=number,
        )
    )


def _parse_document(doc: LocatedDocument, rf: RuleFile, number: int) -> None:
    data = doc.data
    if not isinstance(data, dict) or "groups" not in data:
        rf.problems.append(Finding("rules", doc.where(()), "expected a mapping with 'groups:' at the top level"))
        return
    groups = data["groups"]
    if not isinstance(groups, list):
        rf.problems.append(Finding("rules", doc.where(("groups",)), "'groups' must be a list"))
        return
    seen: set[str] = set()
    for g_index, group in enumerate(groups):
        path: tuple[str | int, ...] = ("groups", g_index)
        if not isinstance(group, dict) or not group.get("name"):
            rf.problems.append(Finding("rules", doc.where(path), f"group {g_index + 1}: needs a 'name'"))
            continue
        name = str(group["name"])
        if name in seen:
            rf.problems.append(
                Finding("rules", doc.where((*path, "name")), f"group '{name}' appears twice in this file")
            )
        seen.add(name)
        rf.groups.append(name)
        for key in group:
            if key not in _GROUP_KEYS:
                rf.problems.append(
                    Finding(
                        "rules",
                        doc.where((*path, str(key))),
                        f"group '{name}': unknown field '{key}' (Prometheus refuses the file) — known: "
                        f"{', '.join(sorted(_GROUP_KEYS))}",
                    )
                )
        interval = _duration(group.get("interval"), doc, (*path, "interval"), f"group '{name}': interval", rf.problems)
        limit = group.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            rf.problems.append(Finding("rules", doc.where((*path, "limit")), f"group '{name}': limit must be >= 0"))
        rules = group.get("rules") or []
        if not isinstance(rules, list):
            rf.problems.append(Finding("rules", doc.where((*path, "rules")), f"group '{name}': 'rules' must be a list"))
            continue
        start = len(rf.rules)
        for index, raw in enumerate(rules):
            _parse_rule(raw, doc, (*path, "rules", index), rf, name, index, number)
        if interval is not None:
            rf.rules[start:] = [replace(r, group_interval=interval) for r in rf.rules[start:]]


def load_rule_file(path: Path) -> RuleFile:
    """Parse one rule file; problems are collected, never raised (an unreadable file is one problem)."""
    rf = RuleFile(path=path)
    try:
        documents = load_located_all(path, error=ConfigInvalid)
    except ConfigInvalid as exc:
        rf.problems.append(Finding("rules", str(path), exc.message.removeprefix(f"{path}: ")))
        return rf
    if not documents:
        rf.problems.append(
            Finding(
                "rules", str(path), "the file is empty (Prometheus accepts it; did you mean that?)", severity="warning"
            )
        )
        return rf
    for number, doc in enumerate(documents):
        _parse_document(doc, rf, number)
    if len(documents) > 1:
        rf.problems.append(
            Finding(
                "rules",
                str(path),
                f"{len(documents)} YAML documents: Prometheus only loads the first one — the rules of documents "
                "2+ are linted here but never evaluated; move them into the first document or another file",
                severity="warning",
            )
        )
    return rf


def load_rule_files(paths: Iterable[Path]) -> list[RuleFile]:
    """Parse several rule files."""
    return [load_rule_file(p) for p in paths]
