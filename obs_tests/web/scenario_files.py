"""The scenario directory as the dashboard sees it: safe name resolution, listing, preview.

A scenario is named by its file name without the extension (``gateway-down`` for
``scenarios/gateway-down.yaml``). Names are never joined onto a path: a name must look like a file
name (letters, digits, ``.``, ``_``, ``-``; no ``/``, no ``..``) and must be one of the ``*.yaml`` /
``*.yml`` files directly inside the directory, whose real path (symlinks followed) is inside it too.

Example::

    files = ScenarioFiles(Path("scenarios"), catalog)
    path = files.resolve("gateway-down")          # BadScenarioName / UnknownScenario otherwise
    files.preview("gateway-down")["error"]         # None, or {"message", "line"} for a broken file
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obs_tests.core.yamlfile import shown
from obs_tests.errors import BadScenarioName, ObsTestsError, ScenarioInvalid, UnknownScenario
from obs_tests.scenarios.model import Catalog, Scenario, load_scenario

__all__ = ["MAX_SCENARIO_BYTES", "NAME_PATTERN", "ScenarioFiles"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)
_SUFFIXES = (".yaml", ".yml")
MAX_SCENARIO_BYTES = 1_000_000
_LOCATED = re.compile(r"^(?P<file>[^\n]+?\.ya?ml)(?::(?P<line>\d+))?: (?P<message>.*)$", re.DOTALL)


@dataclass(frozen=True)
class _Problem:
    message: str
    line: int | None


class ScenarioFiles:
    """Resolves, lists and previews the scenarios of one directory; see the module docstring."""

    def __init__(self, directory: Path, catalog: Catalog) -> None:
        self.directory = directory.resolve()
        self.catalog = catalog

    def _files(self) -> dict[str, Path]:
        if not self.directory.is_dir():
            return {}
        found: dict[str, Path] = {}
        for path in sorted(self.directory.iterdir()):
            if path.suffix in _SUFFIXES and path.is_file() and _NAME.match(path.stem):
                real = path.resolve()
                if real.is_relative_to(self.directory):
                    found.setdefault(path.stem, path)
        return found

    def names(self) -> list[str]:
        """Every scenario name, sorted."""
        return sorted(self._files())

    def resolve(self, name: str) -> Path:
        """The file of scenario ``name`` (``gateway-down`` or ``gateway-down.yaml``)."""
        if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
            raise BadScenarioName(
                f"scenario name {shown(name, 80)} is not a file name of the scenario directory — use a name from "
                "GET /api/scenarios (letters, digits, '.', '_', '-'; no paths)"
            )
        stem = name[: -len(Path(name).suffix)] if Path(name).suffix in _SUFFIXES else name
        files = self._files()
        if stem not in files:
            raise UnknownScenario(f"no scenario '{stem}' — known: {', '.join(sorted(files)) or '(none)'}")
        return files[stem]

    def relative(self, text: str, path: Path) -> str:
        """Error messages name the file, never the server's directories."""
        for prefix in (str(path), str(path.resolve())):
            text = text.replace(prefix, path.name)
        return text.replace(str(self.directory) + "/", "")

    def _problem(self, exc: ObsTestsError, path: Path) -> _Problem:
        message = self.relative(str(exc), path)
        match = _LOCATED.match(message)
        if match is None:
            return _Problem(message, None)
        line = match.group("line")
        return _Problem(message, int(line) if line else None)

    def load(self, name: str) -> Scenario:
        """Load and validate scenario ``name`` (``ScenarioInvalid`` with a file-relative message)."""
        path = self.resolve(name)
        self._check_size(path)
        try:
            return load_scenario(path, self.catalog)
        except ObsTestsError as exc:
            raise ScenarioInvalid(self.relative(str(exc), path)) from None

    def _check_size(self, path: Path) -> None:
        size = path.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ScenarioInvalid(f"{path.name}: {size} bytes — a scenario file is at most {MAX_SCENARIO_BYTES} bytes")

    def summary(self, name: str) -> dict[str, Any]:
        """Name, file, validity and what the scenario does (for the list)."""
        path = self.resolve(name)
        doc: dict[str, Any] = {
            "name": path.stem,
            "file": path.name,
            "title": path.stem,
            "description": "",
            "type": None,
            "components": [],
            "must_fire": [],
            "faults": [],
            "valid": True,
            "error": None,
        }
        try:
            self._check_size(path)
            scenario = load_scenario(path, self.catalog)
        except (ObsTestsError, OSError) as exc:
            problem = (
                self._problem(exc, path) if isinstance(exc, ObsTestsError) else _Problem(f"{path.name}: {exc}", None)
            )
            doc["valid"] = False
            doc["error"] = {"message": problem.message, "line": problem.line}
            return doc
        doc.update(
            title=scenario.title or scenario.name,  # as written: "Flash Crash Recovery Test"
            description=scenario.description,
            type=scenario.type,
            components=list(scenario.components),
            must_fire=[m.alert for m in scenario.expect.must_fire],
            faults=[{"name": c.spec.name, "kind": c.spec.kind, "target": c.spec.target} for c in scenario.chaos],
        )
        return doc

    def summaries(self) -> list[dict[str, Any]]:
        """Every scenario's summary, by name."""
        return [self.summary(name) for name in self.names()]

    def preview(self, name: str) -> dict[str, Any]:
        """The summary plus the file's text (for the YAML preview with its validation error inline)."""
        doc = self.summary(name)
        path = self.resolve(name)
        raw = path.read_bytes()[:MAX_SCENARIO_BYTES]
        doc["yaml"] = raw.decode("utf-8", "replace")
        return doc
