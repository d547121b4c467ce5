"""Dashboard files validated against ``dashboard.schema.json`` (the fields Grafana and obs-tests read;
the export-for-sharing and API forms accepted): each problem a ``dashboard/schema`` finding at its
``file:line``, without a server.

Example::

    dashboard, findings = validate_dashboard_file(Path("grafana_dashboards/gateway.json"))
"""

from __future__ import annotations

import re
from pathlib import Path

from obs_tests.config.validation import Validator, describe_error, load_schema
from obs_tests.core.findings import Finding, display_path
from obs_tests.core.yamlfile import LocatedDocument, load_located_text, read_text
from obs_tests.dashboards.dashboard_json import parse_dashboard, read_dashboard_json
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.errors import ConfigInvalid, InputError

__all__ = ["validate_dashboard_file"]


def _json_located(text: str, source: str) -> LocatedDocument | None:
    """JSON is (nearly always) YAML: reuse the YAML locator for line numbers in schema messages."""
    try:
        return load_located_text(text.replace("\t", " "), source, error=InputError)
    except InputError:
        return None


def validate_dashboard_file(path: Path) -> tuple[Dashboard | None, list[Finding]]:
    """Parse ``path`` and validate it against ``dashboard.schema.json``.

    Returns the dashboard (None when it cannot be used at all) and the findings, each with file:line. The
    API form (``{"dashboard": {...}, "meta": {...}}``) is validated on its ``dashboard``.
    """
    shown = display_path(path)
    try:
        data = read_dashboard_json(path)
    except ConfigInvalid as exc:
        where, _, message = str(exc).partition(": ")
        return None, [_schema_finding(shown, where, message)]
    prefix: tuple[str, ...] = ()
    model = data
    if isinstance(data, dict) and isinstance(data.get("dashboard"), dict) and "panels" not in data:
        prefix, model = ("dashboard",), data["dashboard"]
    validator = Validator(load_schema("dashboard"))
    errors = list(validator.iter_errors(model))
    findings: list[Finding] = []
    if errors:
        located = _json_located(read_text(path, error=ConfigInvalid), shown)
        lines = {
            k[len(prefix) :]: v for k, v in (located.lines if located else {}).items() if k[: len(prefix)] == prefix
        }
        doc = LocatedDocument(shown, model, lines)
        for error in errors:
            where, _, message = describe_error(error, doc).partition(": ")
            findings.append(_schema_finding(shown, where, message))
        findings = sorted(findings, key=lambda f: f.line or 0)[:20]  # in document order
    try:
        dashboard = parse_dashboard(data, shown)
    except ConfigInvalid as exc:
        return None, [*findings, _schema_finding(shown, shown, str(exc))]
    return dashboard, findings


def _schema_finding(shown: str, where: str, message: str) -> Finding:
    """A ``dashboard/schema`` finding at ``file:line[:column]`` (``where``)."""
    line = re.match(r".*?:(\d+)(?::\d+)?$", where.removeprefix(shown)) if where.startswith(shown) else None
    return Finding(
        "dashboard-schema",
        where,
        message,
        rule="dashboard/schema",
        file=shown,
        line=int(line.group(1)) if line else None,
    )
