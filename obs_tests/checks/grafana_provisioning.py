"""Grafana provisioning files checked against the documented format, without a Grafana.

``<dir>/datasources/*.yaml`` against ``grafana_datasources.schema.json`` and ``<dir>/dashboards/*.yaml``
against ``grafana_dashboard_providers.schema.json`` (the fields Grafana's provisioning documentation
lists; a field it does not list is a typo Grafana silently ignores), plus two rules the documentation states
in prose: one default datasource per organisation, and ``foldersFromFilesStructure`` only without
``folder``/``folderUid``. Each problem is a ``grafana/provisioning`` finding at ``file:line``.

Example::

    findings = check_provisioning(Path("grafana/provisioning"))
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from obs_tests.config.validation import Validator, describe_error, load_schema
from obs_tests.core.findings import Finding, display_path
from obs_tests.core.yamlfile import LocatedDocument, load_located
from obs_tests.errors import ConfigInvalid

__all__ = ["PROVISIONING_KINDS", "check_provisioning", "check_provisioning_file"]

#: sub-directory of the provisioning directory -> the schema its files follow
PROVISIONING_KINDS = {"datasources": "grafana_datasources", "dashboards": "grafana_dashboard_providers"}


def _at(source: str, line: int | None, message: str) -> Finding:
    where = f"{source}:{line}" if line else source
    return Finding("grafana-provisioning", where, message, rule="grafana/provisioning", file=source, line=line)


def _finding(doc: LocatedDocument | None, source: str, path: tuple[str | int, ...], message: str) -> Finding:
    return _at(source, doc.line_of(path) if doc else None, message)


def _prose_rules(doc: LocatedDocument, source: str) -> list[Finding]:
    """Rules the documentation states in prose (``doc`` already matches its schema)."""
    data: Any = doc.data
    findings = []
    datasources = [d for d in data.get("datasources") or [] if isinstance(d, dict)]
    defaults = Counter(d.get("orgId", 1) for d in datasources if d.get("isDefault"))
    for org, count in sorted(defaults.items()):
        if count > 1:
            index = max(i for i, d in enumerate(datasources) if d.get("isDefault") and d.get("orgId", 1) == org)
            findings.append(
                _finding(
                    doc,
                    source,
                    ("datasources", index, "isDefault"),
                    f"{count} datasources of org {org} have isDefault: true — Grafana allows one default per org",
                )
            )
    for index, provider in enumerate(data.get("providers") or []):
        options = provider.get("options") or {}
        if options.get("foldersFromFilesStructure") and (provider.get("folder") or provider.get("folderUid")):
            findings.append(
                _finding(
                    doc,
                    source,
                    ("providers", index, "options", "foldersFromFilesStructure"),
                    "foldersFromFilesStructure needs folder and folderUid empty or absent — remove them "
                    "or set foldersFromFilesStructure: false",
                )
            )
    return findings


def check_provisioning_file(path: Path, kind: str) -> list[Finding]:
    """One provisioning file of ``kind`` (``datasources`` or ``dashboards``)."""
    source = display_path(path)
    try:
        doc = load_located(path, error=ConfigInvalid)
    except ConfigInvalid as exc:  # "<path>:<line>: not valid YAML: …" or "<path>: cannot read …"
        located = re.match(rf"{re.escape(str(path))}(?::(\d+))?: (.*)", str(exc), re.DOTALL)
        line, message = (located.group(1), located.group(2)) if located else (None, str(exc))
        return [_at(source, int(line) if line else None, message)]
    if not isinstance(doc.data, dict):
        return [_finding(doc, source, (), f"expected a mapping with apiVersion: 1, got {type(doc.data).__name__}")]
    shown = LocatedDocument(source, doc.data, doc.lines)
    validator = Validator(load_schema(PROVISIONING_KINDS[kind]))
    errors = sorted(validator.iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path])
    findings = []
    for error in errors:
        where, _, message = describe_error(error, shown).partition(": ")
        line = where.removeprefix(source).lstrip(":").split(":")[0]
        findings.append(_at(source, int(line) if line.isdigit() else None, message))
    return findings or _prose_rules(shown, source)


def check_provisioning(directory: Path) -> list[Finding]:
    """Every ``*.yaml``/``*.yml`` file of ``directory/datasources`` and ``directory/dashboards``."""
    findings: list[Finding] = []
    for kind in PROVISIONING_KINDS:
        for path in sorted([*(directory / kind).glob("*.yaml"), *(directory / kind).glob("*.yml")]):
            findings += check_provisioning_file(path, kind)
    return findings
