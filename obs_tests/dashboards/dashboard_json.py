"""Grafana dashboard JSON, read into what obs-tests checks (:mod:`obs_tests.dashboards.dashboard_model`):
panels (rows and collapsed rows flattened), their queries and datasources, and the template variables.

It reads what Grafana reads — the saved model (``schemaVersion`` 1 to today), the old ``rows`` layout,
the export-for-sharing form (``__inputs``/``__requires``/``__elements``) and the API form
(``{"dashboard": {...}, "meta": {...}}``) — without changing the file. Datasources may be given as a
name, a ``{type, uid}`` object or an export's ``${DS_PROMETHEUS}`` input placeholder (in either form): a
placeholder stands for the datasource of the input's plugin (:mod:`obs_tests.dashboards.datasources`). A
constant input's ``${VAR_X}`` is replaced by its value, as Grafana's import does.

Example::

    dashboard = load_dashboard(Path("grafana_dashboards/gateway.json"))
    for panel in dashboard.panels:
        for target in panel.targets:
            print(panel.title, target.ref_id, target.expr)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from obs_tests.core.findings import display_path
from obs_tests.core.yamlfile import load_json
from obs_tests.dashboards.dashboard_model import Dashboard, DatasourceRef, Panel, Target, TemplateVariable
from obs_tests.errors import ConfigInvalid

__all__ = [
    "dashboard_files",
    "load_dashboard",
    "load_dashboards",
    "parse_dashboard",
    "read_dashboard_json",
]


def _str(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _bool(value: Any) -> bool:
    return bool(value) if not isinstance(value, str) else value.lower() == "true"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _targets(raw: Any) -> tuple[Target, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        expr = item.get("expr")
        instant = _bool(item.get("instant", False))
        ranged = item.get("range")
        out.append(
            Target(
                ref_id=_str(item.get("refId"), chr(ord("A") + index % 26)),
                expr=expr if isinstance(expr, str) else None,
                datasource=DatasourceRef.parse(item.get("datasource")),
                hide=_bool(item.get("hide", False)),
                instant=instant,
                # Grafana runs a range query unless only `instant` is set (both: two queries; range wins here)
                range=_bool(ranged) if ranged is not None else not instant,
                interval=_str(item.get("interval")),
                format=_str(item.get("format"), "time_series"),
                raw=item,
            )
        )
    return tuple(out)


def _panel(raw: dict[str, Any], path: str, row: str | None, collapsed: bool) -> Panel:
    library = raw.get("libraryPanel")
    library_ref = None
    if isinstance(library, dict):
        library_ref = (_str(library.get("uid")), _str(library.get("name")))
    grid = _mapping(raw.get("gridPos"))
    width = _int(grid.get("w"))
    if width is None:
        span = _int(raw.get("span"))  # old rows layout: 12 columns
        width = span * 2 if span else 12
    return Panel(
        id=_int(raw.get("id")),
        title=_str(raw.get("title")),
        type=_str(raw.get("type"), "unknown"),
        path=path,
        datasource=DatasourceRef.parse(raw.get("datasource")),
        targets=_targets(raw.get("targets")),
        row=row,
        collapsed=collapsed,
        library_panel=library_ref,
        repeat=_str(raw.get("repeat")) or None,
        interval=_str(raw.get("interval")),
        max_data_points=_int(raw.get("maxDataPoints")),
        width=max(1, min(24, width)),
        raw=raw,
    )


def _walk_panels(items: Any, path: str, row: str | None, collapsed: bool) -> Iterator[Panel]:
    if not isinstance(items, list):
        return
    top_level = row is None
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            continue
        here = f"{path}[{index}]"
        panel = _panel(raw, here, row, collapsed)
        yield panel
        nested = raw.get("panels")
        if panel.is_row and top_level:
            # A row groups the panels after it (expanded) or holds them in its own `panels` (collapsed).
            yield from _walk_panels(nested, f"{here}.panels", panel.title, _bool(raw.get("collapsed", False)))
            row, collapsed = panel.title, False
        elif isinstance(nested, list):
            yield from _walk_panels(nested, f"{here}.panels", panel.title or row, collapsed)


def _old_rows(rows: Any) -> Iterator[Panel]:
    """schemaVersion < 16: ``rows: [{title, collapse, panels: [...]}]``."""
    if not isinstance(rows, list):
        return
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        title = _str(row.get("title")) or f"row {index + 1}"
        yield from _walk_panels(row.get("panels"), f"rows[{index}].panels", title, _bool(row.get("collapse", False)))


def _current(raw: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(raw, dict):
        return (), ()
    value, text = raw.get("value"), raw.get("text")
    values = tuple(str(v) for v in value) if isinstance(value, list) else (() if value is None else (str(value),))
    texts = tuple(str(t) for t in text) if isinstance(text, list) else (() if text is None else (str(text),))
    return values, texts


def _variables(raw: Any) -> tuple[TemplateVariable, ...]:
    items = (raw or {}).get("list") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        return ()
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("name"):
            continue
        values, texts = _current(item.get("current"))
        options = tuple(
            (_str(o.get("text")), _str(o.get("value")))
            for o in item.get("options") or []
            if isinstance(o, dict) and not isinstance(o.get("value"), list)
        )
        all_value = item.get("allValue")
        out.append(
            TemplateVariable(
                name=str(item["name"]),
                type=_str(item.get("type"), "query"),
                query=item.get("query") if item.get("query") is not None else item.get("definition"),
                datasource=DatasourceRef.parse(item.get("datasource")),
                regex=_str(item.get("regex")),
                multi=_bool(item.get("multi", False)),
                include_all=_bool(item.get("includeAll", False)),
                all_value=str(all_value) if all_value not in (None, "") else None,
                current=values,
                current_text=texts,
                options=options,
                sort=_int(item.get("sort")) or 0,
                auto=_bool(item.get("auto", False)),
                auto_count=_int(item.get("auto_count")) or 30,
                auto_min=_str(item.get("auto_min"), "10s"),
                index=index,
            )
        )
    return tuple(out)


def _bind_constants(value: Any, constants: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for name, text in constants.items():
            value = value.replace(f"${{{name}}}", text)
        return value
    if isinstance(value, list):
        return [_bind_constants(v, constants) for v in value]
    if isinstance(value, dict):
        return {k: v if k == "__inputs" else _bind_constants(v, constants) for k, v in value.items()}
    return value


def parse_dashboard(data: Any, source: str) -> Dashboard:
    """Build a :class:`Dashboard` from decoded JSON (raises :class:`ConfigInvalid` if it is not one)."""
    if isinstance(data, dict) and isinstance(data.get("dashboard"), dict) and "panels" not in data:
        data = data["dashboard"]  # the API form: {"dashboard": {...}, "meta": {...}}
    if not isinstance(data, dict):
        raise ConfigInvalid(f"{source}: a dashboard is a JSON object, got {type(data).__name__} — export it again")
    declared = [i for i in data.get("__inputs") or [] if isinstance(i, dict) and i.get("name")]
    inputs = {str(i["name"]): _str(i.get("pluginId")) for i in declared}
    constants = {str(i["name"]): _str(i.get("value")) for i in declared if i.get("type") == "constant"}
    if constants:  # Grafana's import writes a constant input's value wherever ${VAR_X} stands
        data = _bind_constants(data, constants)
    panels = [*_walk_panels(data.get("panels"), "panels", None, False), *_old_rows(data.get("rows"))]
    time = _mapping(data.get("time"))
    return Dashboard(
        source=source,
        title=_str(data.get("title")),
        uid=_str(data.get("uid")) or None,
        schema_version=_int(data.get("schemaVersion")),
        panels=tuple(panels),
        variables=_variables(data.get("templating")),
        time_from=_str(time.get("from"), "now-6h"),
        time_to=_str(time.get("to"), "now"),
        inputs=inputs,
        constants=constants,
        raw=data,
    )


def read_dashboard_json(path: Path) -> Any:
    """Decode a dashboard file; unreadable files and bad JSON raise :class:`ConfigInvalid` with line:column."""
    return load_json(path, error=ConfigInvalid, shown_as=display_path(path))


def load_dashboard(path: Path) -> Dashboard:
    """Read and parse one dashboard file (raises :class:`ConfigInvalid`)."""
    return parse_dashboard(read_dashboard_json(path), display_path(path))


def dashboard_files(directory: Path) -> list[Path]:
    """Every ``*.json`` under ``directory`` (recursively, sorted); a single file is returned as is."""
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*.json") if p.is_file())


def load_dashboards(paths: Sequence[Path]) -> list[Dashboard]:
    """Parse every file (the first unusable one raises :class:`ConfigInvalid`)."""
    return [load_dashboard(p) for p in paths]
