"""Load YAML while remembering the line of every mapping key and sequence item.

Validation errors must say *where* the problem is (``obs.yaml:12: jobs[1].instances``). PyYAML's
composer knows the position of every node; :func:`load_located` walks the node tree once and keeps a
map from JSON-style paths to 1-based line numbers next to the plain Python data.

Example::

    doc = load_located(Path("obs.yaml"), error=ContractInvalid)
    doc.data["jobs"][1]["name"]
    doc.line_of(("jobs", 1, "name"))   # -> 14
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from obs_tests.errors import InputError

__all__ = [
    "LocatedDocument",
    "closest",
    "format_path",
    "load_located",
    "load_located_all",
    "load_located_text",
]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class LocatedDocument:
    """Parsed YAML data plus the line of each path in it."""

    source: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        key = tuple(path)
        while True:
            if key in self.lines:
                return self.lines[key]
            if not key:
                return None
            key = key[:-1]

    def where(self, path: Sequence[str | int]) -> str:
        """``file:line`` (or just ``file``) for messages."""
        line = self.line_of(path)
        return f"{self.source}:{line}" if line else self.source


def format_path(path: Iterable[str | int]) -> str:
    """``("jobs", 1, "name")`` -> ``jobs[1].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def closest(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """The candidates most similar to ``word`` (for "did you mean" hints)."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys instead of silently keeping the last."""


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines)


def _duplicate_key(node: yaml.Node) -> tuple[str, int] | None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen and key_node.value != "<<":
                    return str(key_node.value), key_node.start_mark.line + 1
                seen.add(key_node.value)
            found = _duplicate_key(value_node)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _duplicate_key(item)
            if found:
                return found
    return None


def load_located_text(text: str, source: str, *, error: type[InputError] = InputError) -> LocatedDocument:
    """Parse YAML ``text`` (named ``source`` in messages); errors become ``error`` with file:line."""
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = exc.problem or exc.context or "malformed YAML"
        raise error(f"{where}: not valid YAML: {problem} — fix the syntax at that line") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML: {exc}") from None
    if node is None:
        return LocatedDocument(source=source, data=None)
    dup = _duplicate_key(node)
    if dup:
        raise error(f"{source}:{dup[1]}: key '{dup[0]}' appears twice in the same mapping — keep one")
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML: {exc}") from None
    lines: dict[PathKey, int] = {}
    _walk(node, (), lines)
    return LocatedDocument(source=source, data=data, lines=lines)


def load_located(path: Path, *, error: type[InputError] = InputError) -> LocatedDocument:
    """Read and parse the YAML file at ``path``; a missing/unreadable file raises ``error``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: file not found — check the path") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text — save the file as UTF-8") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None
    return load_located_text(text, str(path), error=error)


def load_located_all(path: Path, *, error: type[InputError] = InputError) -> list[LocatedDocument]:
    """Every YAML document of a (possibly multi-document) file, each with its line map.

    Lines are absolute in the file, so messages point at the right place in any document.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: file not found — check the path") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    source = str(path)
    try:
        nodes = list(yaml.compose_all(text, Loader=_UniqueKeyLoader))
        datas = list(yaml.load_all(text, Loader=_UniqueKeyLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = exc.problem or exc.context or "malformed YAML"
        raise error(f"{where}: not valid YAML: {problem} — fix the syntax at that line") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML: {exc}") from None
    documents = []
    for node, data in zip(nodes, datas, strict=True):
        dup = _duplicate_key(node)
        if dup:
            raise error(f"{source}:{dup[1]}: key '{dup[0]}' appears twice in the same mapping — keep one")
        lines: dict[PathKey, int] = {}
        _walk(node, (), lines)
        documents.append(LocatedDocument(source=source, data=data, lines=lines))
    return documents
