"""Prometheus rule files, parsed into located dataclasses — tolerant of anything a valid file may hold.

Two formats are read: **plain** rule files (``groups:`` at the top, what Prometheus loads) and Prometheus
Operator **PrometheusRule** manifests (``apiVersion: monitoring.coreos.com/v1``, ``kind: PrometheusRule``,
``spec.groups``), any number of them in one multi-document YAML file; documents of other kinds in the same
file (a ConfigMap, a Service …) are ignored, as the operator ignores them. Every rule keeps the line it has
in the file it was read from.

Unlike Prometheus, which stops at the first problem, :func:`load_rule_file` keeps going and records
every structural problem as a located :class:`~obs_tests.core.findings.Finding` (``file:line``, rule id
``rule/syntax``), so a lint run reports them all. It accepts everything Prometheus 2.x accepts
(recording-only groups, ``limit``, ``interval``, ``keep_firing_for``, templated labels) and notes what
Prometheus would silently skip (documents after the first in a plain multi-document file).

Prometheus, promtool and the embedded stack cannot read a manifest: :func:`plain_rule_files` writes the
groups of each manifest to a plain rule file of their own (what the operator does) and keeps a map from
its lines back to the manifest's (:attr:`PlainRuleFile.source_line`), so promtool's messages point at the
file the user edits.

Example::

    parsed = load_rule_file(Path("prometheus/alerts/gateway.yml"))
    [r.name for r in parsed.rules if r.kind == "alert"]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from obs_tests.core.durations import parse_duration
from obs_tests.core.findings import Finding, display_path
from obs_tests.core.yamlfile import LocatedDocument, load_located_all, load_located_text
from obs_tests.errors import ConfigInvalid

__all__ = [
    "OPERATOR_API_GROUP",
    "PlainRuleFile",
    "Rule",
    "RuleFile",
    "RuleSource",
    "load_rule_file",
    "load_rule_files",
    "plain_rule_files",
]

#: the API group of Prometheus Operator resources (``apiVersion: monitoring.coreos.com/v1``)
OPERATOR_API_GROUP = "monitoring.coreos.com"

_GROUP_KEYS = {"name", "interval", "limit", "rules", "query_offset", "partial_response_strategy"}
_PROMETHEUS_GROUP_KEYS = _GROUP_KEYS - {"partial_response_strategy"}
_RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}

PathKey = tuple[str | int, ...]


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
    #: the PrometheusRule manifest it is in (``namespace/name``), None in a plain rule file
    manifest: str | None = None

    @property
    def where(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}"

    @property
    def title(self) -> str:
        """``alert GatewayDown`` / ``record job:up:sum``."""
        return f"{self.kind} {self.name}"

    def finding(self, rule_id: str, message: str, line: int | None = None, severity: str = "error") -> Finding:
        """A finding about this rule with its id, located at ``line`` (default: the rule's first line)."""
        at = line or self.line
        return Finding(
            "rules",
            f"{self.title} ({display_path(self.file)}:{at})",
            message,
            severity=severity,
            rule=rule_id,
            file=str(self.file),
            line=at or None,
        )


@dataclass(frozen=True)
class RuleSource:
    """The rule groups Prometheus loads as one file: a plain file's first document (or a later one, which
    Prometheus skips), or the ``spec.groups`` of one PrometheusRule manifest."""

    document: int
    prefix: PathKey  # where the group list is in the document: ("groups",) or ("spec", "groups")
    groups: tuple[Any, ...]
    lines: Mapping[PathKey, int]
    manifest: str | None = None  # namespace/name of a PrometheusRule

    def line_of(self, path: PathKey) -> int | None:
        """The file line of ``path`` (relative to the group list), or of its nearest ancestor."""
        key = (*self.prefix, *path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None


@dataclass
class RuleFile:
    """A parsed rule file: its rules, group names and the problems met while reading it."""

    path: Path
    rules: list[Rule] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    #: "plain" or "PrometheusRule" (a file holding at least one manifest)
    format: str = "plain"
    sources: list[RuleSource] = field(default_factory=list)

    @property
    def alerts(self) -> list[Rule]:
        """The alerting rules."""
        return [r for r in self.rules if r.kind == "alert"]

    @property
    def is_manifest(self) -> bool:
        """True for a file of PrometheusRule manifests (Prometheus cannot load it as it is)."""
        return self.format == "PrometheusRule"


def _problem(doc: LocatedDocument, path: PathKey, message: str, severity: str = "error") -> Finding:
    line = doc.line_of(path)
    return Finding("rules", doc.where(path), message, severity=severity, rule="rule/syntax", file=doc.source, line=line)


def _duration(value: Any, doc: LocatedDocument, path: PathKey, what: str, problems: list[Finding]) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(str(value))
    except ValueError:
        problems.append(_problem(doc, path, f"{what}: {value!r} is not a duration (use e.g. 30s, 5m, 1h)"))
        return None


def _strings(value: Any, doc: LocatedDocument, path: PathKey, what: str, problems: list[Finding]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(_problem(doc, path, f"{what} must be a mapping of names to strings"))
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


@dataclass(frozen=True)
class _Context:
    doc: LocatedDocument
    rf: RuleFile
    number: int
    manifest: str | None


def _parse_rule(raw: Any, ctx: _Context, path: PathKey, group: str, index: int) -> None:
    doc, problems = ctx.doc, ctx.rf.problems
    if not isinstance(raw, dict):
        problems.append(_problem(doc, path, f"group '{group}' rule {index + 1}: expected a mapping"))
        return
    for key in raw:
        if key not in _RULE_KEYS:
            problems.append(
                _problem(
                    doc,
                    (*path, str(key)),
                    f"group '{group}' rule {index + 1}: unknown field '{key}' (Prometheus refuses the file) — "
                    f"known: {', '.join(sorted(_RULE_KEYS))}",
                )
            )
    alert, record = raw.get("alert"), raw.get("record")
    if bool(alert) == bool(record):
        problems.append(
            _problem(doc, path, f"group '{group}' rule {index + 1}: needs exactly one of 'alert' or 'record'")
        )
        return
    expr = raw.get("expr")
    name = str(alert or record)
    if expr is None or str(expr).strip() == "":
        problems.append(_problem(doc, path, f"group '{group}' rule {name}: missing 'expr'"))
        return
    kind = "alert" if alert else "record"
    if kind == "record" and ("for" in raw or "annotations" in raw or "keep_firing_for" in raw):
        problems.append(
            _problem(doc, path, f"recording rule {name}: 'for', 'keep_firing_for' and 'annotations' are for alerts")
        )
    ctx.rf.rules.append(
        Rule(
            file=ctx.rf.path,
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
            document=ctx.number,
            manifest=ctx.manifest,
        )
    )


def _parse_groups(groups: Any, prefix: PathKey, ctx: _Context) -> None:
    doc, rf = ctx.doc, ctx.rf
    if not isinstance(groups, list):
        rf.problems.append(_problem(doc, prefix, f"'{prefix[-1]}' must be a list"))
        return
    rf.sources.append(RuleSource(ctx.number, prefix, tuple(groups), doc.lines, ctx.manifest))
    known = _GROUP_KEYS if ctx.manifest else _PROMETHEUS_GROUP_KEYS
    seen: set[str] = set()
    for g_index, group in enumerate(groups):
        path: PathKey = (*prefix, g_index)
        if not isinstance(group, dict) or not group.get("name"):
            rf.problems.append(_problem(doc, path, f"group {g_index + 1}: needs a 'name'"))
            continue
        name = str(group["name"])
        if name in seen:
            rf.problems.append(_problem(doc, (*path, "name"), f"group '{name}' appears twice in this file"))
        seen.add(name)
        rf.groups.append(name)
        for key in group:
            if key not in known:
                rf.problems.append(
                    _problem(
                        doc,
                        (*path, str(key)),
                        f"group '{name}': unknown field '{key}' (Prometheus refuses the file) — known: "
                        f"{', '.join(sorted(known))}",
                    )
                )
        interval = _duration(group.get("interval"), doc, (*path, "interval"), f"group '{name}': interval", rf.problems)
        limit = group.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            rf.problems.append(_problem(doc, (*path, "limit"), f"group '{name}': limit must be >= 0"))
        rules = group.get("rules") or []
        if not isinstance(rules, list):
            rf.problems.append(_problem(doc, (*path, "rules"), f"group '{name}': 'rules' must be a list"))
            continue
        start = len(rf.rules)
        for index, raw in enumerate(rules):
            _parse_rule(raw, ctx, (*path, "rules", index), name, index)
        if interval is not None:
            rf.rules[start:] = [replace(r, group_interval=interval) for r in rf.rules[start:]]


def _is_manifest(data: Any) -> bool:
    return isinstance(data, dict) and "kind" in data and "apiVersion" in data


def _manifest_name(data: Mapping[str, Any], number: int) -> str:
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    name = str((meta or {}).get("name") or f"document-{number + 1}")
    namespace = (meta or {}).get("namespace")
    return f"{namespace}/{name}" if namespace else name


def _parse_manifest(doc: LocatedDocument, rf: RuleFile, number: int) -> None:
    data = doc.data
    if data.get("kind") != "PrometheusRule":
        return  # another Kubernetes resource in the same file: not ours
    api = str(data.get("apiVersion", ""))
    if not api.startswith(f"{OPERATOR_API_GROUP}/"):
        rf.problems.append(
            _problem(
                doc,
                ("apiVersion",),
                f"kind PrometheusRule with apiVersion {api!r}: the Prometheus Operator's is {OPERATOR_API_GROUP}/v1",
            )
        )
    ctx = _Context(doc, rf, number, _manifest_name(data, number))
    spec = data.get("spec")
    if not isinstance(spec, dict) or "groups" not in spec:
        rf.problems.append(_problem(doc, ("spec",), f"PrometheusRule {ctx.manifest}: expected 'spec.groups'"))
        return
    _parse_groups(spec["groups"], ("spec", "groups"), ctx)


def _parse_document(doc: LocatedDocument, rf: RuleFile, number: int) -> None:
    data = doc.data
    if _is_manifest(data):
        _parse_manifest(doc, rf, number)
        return
    if not isinstance(data, dict) or "groups" not in data:
        rf.problems.append(
            _problem(
                doc,
                (),
                "expected a mapping with 'groups:' at the top level (a plain rule file), or a PrometheusRule "
                f"manifest (apiVersion: {OPERATOR_API_GROUP}/v1, kind: PrometheusRule, spec.groups)",
            )
        )
        return
    _parse_groups(data["groups"], ("groups",), _Context(doc, rf, number, None))


def load_rule_file(path: Path) -> RuleFile:
    """Parse one rule file (plain or PrometheusRule manifests); problems are collected, never raised (an
    unreadable file is one problem)."""
    rf = RuleFile(path=path)
    try:
        documents = load_located_all(path, error=ConfigInvalid)
    except ConfigInvalid as exc:
        rf.problems.append(
            Finding("rules", str(path), exc.message.removeprefix(f"{path}: "), rule="rule/syntax", file=str(path))
        )
        return rf
    if any(_is_manifest(doc.data) for doc in documents):
        rf.format = "PrometheusRule"
        documents_to_read = [(n, d) for n, d in enumerate(documents) if d.data is not None]
    else:
        documents_to_read = list(enumerate(documents))
    if not documents:
        rf.problems.append(
            Finding(
                "rules",
                str(path),
                "the file is empty (Prometheus accepts it; did you mean that?)",
                severity="warning",
                rule="rule/syntax",
                file=str(path),
            )
        )
        return rf
    for number, doc in documents_to_read:
        _parse_document(doc, rf, number)
    if rf.is_manifest and not rf.sources:
        rf.problems.append(
            Finding(
                "rules",
                str(path),
                "no PrometheusRule in this file (only other kinds of Kubernetes resources) — no rules to check",
                severity="warning",
                rule="rule/syntax",
                file=str(path),
            )
        )
    if not rf.is_manifest and len(documents) > 1:
        rf.problems.append(
            Finding(
                "rules",
                str(path),
                f"{len(documents)} YAML documents: Prometheus only loads the first one — the rules of documents "
                "2+ are linted here but never evaluated; move them into the first document or another file",
                severity="warning",
                rule="rule/multi-document",
                file=str(path),
                line=documents[1].line_of(()) or None,
            )
        )
    return rf


def load_rule_files(paths: Iterable[Path]) -> list[RuleFile]:
    """Parse several rule files."""
    return [load_rule_file(p) for p in paths]


# -- what Prometheus and promtool can load ---------------------------------------------------------------


@dataclass(frozen=True)
class PlainRuleFile:
    """A rule file Prometheus and promtool can load, and the file it comes from: the file itself when it
    is plain, else the groups of one PrometheusRule manifest written out as a plain file."""

    path: Path
    source: Path
    manifest: str | None = None
    #: line in ``path`` -> line in ``source`` (empty: the same file)
    lines: Mapping[int, int] = field(default_factory=dict)

    def source_line(self, line: int) -> int:
        """The line in the user's file that line ``line`` of :attr:`path` comes from."""
        if not self.lines:
            return line
        known = [n for n in self.lines if n <= line]
        return self.lines[max(known)] if known else line

    @property
    def label(self) -> str:
        """How messages name it: the file, and the manifest in it."""
        return f"{self.source} (PrometheusRule {self.manifest})" if self.manifest else str(self.source)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _extract(rf: RuleFile, source: RuleSource, out_dir: Path, taken: set[str]) -> PlainRuleFile:
    groups = [dict(g) if isinstance(g, dict) else g for g in source.groups]
    for group in groups:
        if isinstance(group, dict):
            group.pop("partial_response_strategy", None)  # Thanos-only: the operator drops it for Prometheus
    text = yaml.safe_dump({"groups": groups}, sort_keys=False, allow_unicode=True, width=10_000)
    stem = _UNSAFE.sub("-", f"{rf.path.stem}.{source.manifest or source.document}")
    name = f"{stem}.yml"
    count = 1
    while name in taken:
        count += 1
        name = f"{stem}-{count}.yml"
    taken.add(name)
    target = out_dir / name
    header = f"# the groups of PrometheusRule {source.manifest} in {rf.path}, extracted by obs-tests; do not edit\n"
    target.write_text(header + text, encoding="utf-8")
    written = load_located_text(text, str(target), error=ConfigInvalid)
    lines: dict[int, int] = {}
    for path, line in written.lines.items():
        original = source.line_of(path[1:]) if path and path[0] == "groups" else None
        if original is not None:
            lines.setdefault(line + 1, original)  # +1: the header line
    return PlainRuleFile(target, rf.path, source.manifest, lines)


def plain_rule_files(files: Sequence[Path | RuleFile], out_dir: Path) -> list[PlainRuleFile]:
    """The rule files to hand Prometheus or promtool: plain files as they are, and for each PrometheusRule
    manifest a plain file of its groups written into ``out_dir`` (created when needed). A manifest file
    whose manifests have no groups gives nothing."""
    out: list[PlainRuleFile] = []
    taken: set[str] = set()
    for item in files:
        rf = item if isinstance(item, RuleFile) else load_rule_file(item)
        if not rf.is_manifest:
            out.append(PlainRuleFile(rf.path, rf.path))
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        out += [_extract(rf, source, out_dir, taken) for source in rf.sources if source.manifest is not None]
    return out
