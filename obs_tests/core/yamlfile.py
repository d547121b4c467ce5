"""Read the user's YAML and JSON files: with limits, and remembering the line of every key and item.

Every file a user hands obs-tests (contract, scenarios, rule files, Alertmanager config and tests,
promtool tests, dashboards, docker-compose.yml, prometheus.yml) is read here, so every one of them gets
the same protection against hostile or broken input, refused in well under a second with one located line:

- at most :data:`MAX_FILE_BYTES` per file (checked before parsing), UTF-8 text (a BOM is accepted);
- YAML aliases may add at most :data:`MAX_ALIAS_NODES` nodes (counted on the composed node graph, before
  any Python object is built: a "billion laughs" bomb is refused at the alias that crosses the budget);
  an alias inside its own anchor (a recursive structure) is refused;
- nesting at most :data:`MAX_DEPTH` levels; numbers at most :data:`MAX_NUMBER_DIGITS` characters;
- only plain data tags (``!!python/...`` and custom tags are refused);
- duplicate mapping keys are refused; ``1e300`` is a number, as in YAML 1.2 and JSON.

Validation errors must say *where* the problem is (``obs.yaml:12: jobs[1].instances``).
:func:`load_located` keeps a map from JSON-style paths to 1-based line numbers next to the plain data.

Example::

    doc = load_located(Path("obs.yaml"), error=ContractInvalid)
    doc.data["jobs"][1]["name"]
    doc.line_of(("jobs", 1, "name"))   # -> 14
"""

from __future__ import annotations

import difflib
import json
import math
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, NodeEvent
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from obs_tests.errors import InputError

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NUMBER_DIGITS",
    "LocatedDocument",
    "closest",
    "format_path",
    "load_json",
    "load_located",
    "load_located_all",
    "load_located_text",
    "load_yaml",
    "load_yaml_all",
    "read_text",
    "redacted",
    "shown",
]

#: the largest input file obs-tests reads (10 MB); the bundled files are below 20 KB
MAX_FILE_BYTES = 10_000_000
#: nodes YAML aliases may add to a document when expanded (merge keys included)
MAX_ALIAS_NODES = 100_000
#: mappings and lists nested in each other
MAX_DEPTH = 100
#: characters of one number (an int of 5,000 digits would stall its conversion)
MAX_NUMBER_DIGITS = 100

PathKey = tuple[str | int, ...]
_YAML_TAG = "tag:yaml.org,2002:"
_NUMBER_TAGS = {f"{_YAML_TAG}int", f"{_YAML_TAG}float"}
# YAML 1.1 wants a dot in a float ("1.0e+300"); YAML 1.2 and JSON also read 1e300, and so do users.
_USERINFO = re.compile(r"://[^/@\s\"']*@")
_EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


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
            name = shown(part, 40, quote=False)
            out += f".{name}" if out else name
    return out or "(top level)"


def closest(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """The candidates most similar to ``word`` (for "did you mean" hints)."""
    return difflib.get_close_matches(word[:200], list(candidates), n=n, cutoff=0.6)


def shown(value: Any, limit: int = 60, *, quote: bool = True) -> str:
    """``value`` for a one-line message: as JSON (control characters escaped), credentials in URLs
    (``http://user:password@host``) left out, at most ``limit`` characters.

    >>> shown("a\\nb")
    '"a\\\\nb"'
    """
    if isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("infinity" if value > 0 else "-infinity")
    else:
        text = redacted(json.dumps(value, default=str))
        if not quote and isinstance(value, str):
            text = text[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redacted(text: str) -> str:
    """``text`` with the credentials of every URL in it left out (``http://user:pw@host`` -> ``http://host``)."""
    return _USERINFO.sub("://", text)


class _Refused(yaml.YAMLError):
    """A limit of this module was hit at ``line`` (1-based)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


class _LimitedComposer(Composer):
    """PyYAML's composer, counting what aliases expand to and how deep nodes nest while it composes."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._expanded = 0
        self._sizes: dict[int, int] = {}
        self._open: set[str] = set()

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]  # the parser half of the loader
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if event.anchor in self._open:
                raise _Refused(
                    line,
                    f"alias *{shown(event.anchor, 40, quote=False)} is used inside its own anchor (a recursive "
                    "structure) — obs-tests reads tree-shaped data only: write the data out",
                )
            if target is not None:
                self._expanded += self._size(target)
                if self._expanded > MAX_ALIAS_NODES:
                    raise _Refused(
                        line,
                        f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} nodes — obs-tests refuses alias "
                        "bombs; write the data out or use fewer nested aliases",
                    )
            return super().compose_node(parent, index)
        assert isinstance(event, NodeEvent)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in SafeConstructor.yaml_constructors:
            raise _Refused(
                line,
                f"tag '{shown(_tag_name(str(tag)), 80, quote=False)}' is not allowed — obs-tests reads plain YAML "
                "data only: remove the tag",
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(
                line, f"nested more than {MAX_DEPTH} levels deep — obs-tests refuses such documents; flatten them"
            )
        anchor = event.anchor if isinstance(event, CollectionStartEvent) else None
        if anchor is not None:
            self._open.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)
        digits = len(node.value) if node is not None and node.tag in _NUMBER_TAGS else 0
        if digits > MAX_NUMBER_DIGITS:
            raise _Refused(
                line,
                f"a number of {digits:,} characters — obs-tests reads numbers of at most "
                f"{MAX_NUMBER_DIGITS} characters; quote it if it is a string",
            )
        return node

    def compose_document(self) -> yaml.Node | None:
        node: yaml.Node | None = super().compose_document()
        self._expanded = 0
        self._sizes.clear()
        return node

    def _size(self, root: yaml.Node) -> int:
        """How many nodes ``root`` stands for with every alias inside it expanded (memoised, no recursion)."""
        sizes = self._sizes
        pending: list[tuple[yaml.Node, bool]] = [(root, False)]
        while pending:
            node, children_done = pending.pop()
            if id(node) in sizes:
                continue
            children = _children(node)
            if children_done:
                sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            else:
                pending.append((node, True))
                pending.extend((child, False) for child in children if id(child) not in sizes)
        return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


class _Resolver(Resolver):
    """YAML 1.1 plain-scalar resolution, plus ``1e300`` (no dot) as a float."""


_Resolver.add_implicit_resolver(f"{_YAML_TAG}float", _EXPONENT_FLOAT, list("-+0123456789"))


try:
    from yaml._yaml import CParser as _EventSource
except ImportError:  # pragma: no cover - PyYAML built without libyaml: its pure-Python parser, slower

    class _EventSource(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, text: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)


class _Loader(_LimitedComposer, _EventSource, SafeConstructor, _Resolver):
    """libyaml's parser (events), the limited composer above, PyYAML's safe constructor."""

    def __init__(self, text: str) -> None:
        _EventSource.__init__(self, text)
        _LimitedComposer.__init__(self)
        SafeConstructor.__init__(self)
        _Resolver.__init__(self)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _yaml_error(exc: yaml.YAMLError, text: str, source: str, error: type[InputError]) -> InputError:
    """One located line for any error PyYAML raises."""
    if isinstance(exc, _Refused):
        return error(f"{source}:{exc.line}: {exc.message}")
    if isinstance(exc, yaml.MarkedYAMLError):
        if exc.problem == "second occurrence" and exc.context_mark is not None and exc.problem_mark is not None:
            anchor = _one_line(exc.context or "").removeprefix("found duplicate anchor ").split(";")[0]
            return error(
                f"{source}:{exc.problem_mark.line + 1}: anchor {anchor} is defined twice (first at line "
                f"{exc.context_mark.line + 1}) — rename one"
            )
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = _one_line(exc.problem or exc.context or "malformed YAML")
        problem = problem.replace(_YAML_TAG, "!!")
        return error(f"{where}: not valid YAML: {problem} — fix the syntax at that line")
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        reason = _one_line(getattr(exc, "reason", "") or "unreadable character")
        return error(f"{source}:{line}: not valid YAML: {reason} — remove that character")
    return error(f"{source}: not valid YAML: {_one_line(str(exc))}")


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


def _too_big(source: str, size: int) -> str:
    return (
        f"{source}: {size:,} bytes — obs-tests reads files of at most {MAX_FILE_BYTES:,} bytes (10 MB); "
        "split the file or remove what it does not need"
    )


def read_text(path: Path, *, error: type[InputError] = InputError) -> str:
    """The UTF-8 text of ``path`` (at most :data:`MAX_FILE_BYTES`); every problem raises ``error`` in one line."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{path}: is a directory, expected a file")
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_FILE_BYTES:
            raise error(_too_big(str(path), info.st_size))
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise error(f"{path}: file not found — check the path") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise error(_too_big(str(path), len(data)))
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise error(f"{path}:1: UTF-16 text — save the file as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}) — save the file as UTF-8") from None


def _parse_all(text: str, source: str, error: type[InputError]) -> list[LocatedDocument]:
    if len(text) > MAX_FILE_BYTES:
        raise error(_too_big(source, len(text.encode("utf-8", "replace"))))
    loader = _Loader(text)
    documents: list[LocatedDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                documents.append(LocatedDocument(source=source, data=None))
                continue
            dup = _duplicate_key(node)
            if dup:
                key = shown(dup[0], 60, quote=False)
                raise error(f"{source}:{dup[1]}: key '{key}' appears twice in the same mapping — keep one")
            lines: dict[PathKey, int] = {}
            _walk(node, (), lines)
            data = loader.construct_document(node)
            documents.append(LocatedDocument(source=source, data=data, lines=lines))
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, source, error) from None
    finally:
        loader.dispose()
    return documents


def load_located_text(text: str, source: str, *, error: type[InputError] = InputError) -> LocatedDocument:
    """Parse YAML ``text`` (named ``source`` in messages); errors become ``error`` with file:line."""
    documents = _parse_all(text, source, error)
    if len(documents) > 1:
        raise error(
            f"{source}:{documents[1].line_of(()) or 1}: a second YAML document starts here (after '---') — this "
            "file holds one document; remove the separator"
        )
    return documents[0] if documents else LocatedDocument(source=source, data=None)


def load_located(path: Path, *, error: type[InputError] = InputError) -> LocatedDocument:
    """Read and parse the YAML file at ``path``; a missing/unreadable/too large file raises ``error``."""
    return load_located_text(read_text(path, error=error), str(path), error=error)


def load_located_all(path: Path, *, error: type[InputError] = InputError) -> list[LocatedDocument]:
    """Every YAML document of a (possibly multi-document) file, each with its line map.

    Lines are absolute in the file, so messages point at the right place in any document.
    """
    return _parse_all(read_text(path, error=error), str(path), error)


def load_yaml(path: Path, *, error: type[InputError] = InputError) -> Any:
    """The data of the YAML file at ``path`` (None when it is empty), with every limit of this module."""
    return load_located(path, error=error).data


def load_yaml_all(path: Path, *, error: type[InputError] = InputError) -> list[Any]:
    """The data of every document of the YAML file at ``path``."""
    return [doc.data for doc in load_located_all(path, error=error)]


def load_json(path: Path, *, error: type[InputError] = InputError, shown_as: str | None = None) -> Any:
    """The data of the JSON file at ``path``: size-limited, UTF-8, finite numbers, at most :data:`MAX_DEPTH`
    levels; problems raise ``error`` as ``file:line:column: what — fix``."""
    source = shown_as or str(path)
    try:
        text = read_text(path, error=error)
    except InputError as exc:
        raise error(str(exc).replace(str(path), source, 1)) from None
    return _loads(text, source, error)


def _loads(text: str, source: str, error: type[InputError]) -> Any:
    refused: list[str] = []

    def constant(name: str) -> Any:
        refused.append(name)
        raise ValueError(f"{name} is not a JSON number")

    def number(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            refused.append(literal)
            raise ValueError(f"{shown(literal, 40, quote=False)} is beyond the range of a number")
        return value

    try:
        data = json.loads(text, parse_constant=constant, parse_float=number)
    except json.JSONDecodeError as exc:
        raise error(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg} — fix the syntax there") from None
    except RecursionError:
        raise error(f"{source}: nested too deeply — obs-tests refuses such documents; flatten them") from None
    except ValueError as exc:
        # parse_constant/parse_float, or an integer of thousands of digits: json gives no position, find it
        where = source
        if refused:
            found = re.search(rf"(?<![\w.\"]){re.escape(refused[0])}(?![\w.])", text)
            where = f"{source}:{text.count(chr(10), 0, found.start()) + 1}" if found else source
        problem = _one_line(str(exc)) if refused else "a number of thousands of digits"
        raise error(f"{where}: not valid JSON: {problem} — write a finite number") from None
    depth = _depth(data)
    if depth > MAX_DEPTH:
        raise error(f"{source}: nested {depth} levels deep — at most {MAX_DEPTH}; flatten the document")
    return data


def _depth(data: Any) -> int:
    deepest = 0
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, level = pending.pop()
        if isinstance(value, dict):
            deepest = max(deepest, level)
            pending.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            deepest = max(deepest, level)
            pending.extend((v, level + 1) for v in value)
    return deepest
