"""Compress time for live runs: rule files with every ``for:``, ``keep_firing_for:``, range selector,
subquery range/resolution and ``offset`` multiplied by a factor.

Production rules say ``for: 10m`` over ``rate(x[5m])``; a live scenario cannot wait ten minutes per
alert. ``scale_rule_files(files, 0.02, out)`` writes copies where that is ``for: 12s`` over
``rate(x[6s])`` — the same logic on a shorter clock — and checks them with the real
``promtool check rules``. Range windows never shrink below ``min_range`` (by default 4 scrape
intervals: a ``rate`` needs samples to work on). The unit tests (``promtool test rules``) always run
against the unscaled files.

Example::

    scaled = scale_rule_files(contract.files.rule_files(), 0.02, workdir / "rules", min_range=4.0)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from obs_tests.clients.tools import run_tool
from obs_tests.config.contract import parse_duration
from obs_tests.core.durations import format_duration
from obs_tests.core.yamlfile import load_yaml_all
from obs_tests.errors import ConfigInvalid, ToolError, UsageError

__all__ = ["scale_duration", "scale_expr", "scale_rule_files", "validate_factor"]

# The text is edited, not re-printed from promql-parser's tree: the binding (0.12) gives no source positions,
# and its printer drops the milliseconds of a duration ([600ms] -> [0s]), the ':' of a subquery with the
# default step ([1h:] -> [1h], a range selector) and the escapes of strings (`"a\"b"` -> `"a"b"`). The tests
# check the edit against the tree: every range, step and offset scaled, nothing else changed.

# A PromQL duration: one or more <number><unit> parts.
_DURATION = r"(?:\d+(?:ms|[smhdwy]))+"
_RANGE = re.compile(rf"\[\s*({_DURATION})\s*(?::\s*({_DURATION})?\s*)?\]")
_OFFSET = re.compile(rf"(\b(?i:offset)\s+)(-?)({_DURATION})")  # keywords are case-insensitive: OFFSET 5m
# left alone: string literals, and comments (an apostrophe in one must not open a string)
_LITERAL_OR_COMMENT = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`|#[^\n]*")


def validate_factor(factor: float) -> float:
    """A time-scale factor must be in (0, 1]; anything else is a usage error with the fix."""
    if not 0 < factor <= 1:
        raise UsageError(f"time scale {factor:g}: use a factor in (0, 1], e.g. 0.1 (1.0 = real time)")
    return factor


def scale_duration(text: str, factor: float, *, minimum: float = 0.0) -> str:
    """``text`` times ``factor``, never below ``minimum`` seconds (nor below 1 ms when it was > 0)."""
    seconds = parse_duration(text)
    if seconds == 0:
        return text
    return format_duration(max(seconds * factor, minimum, 0.001))


def scale_expr(expr: str, factor: float, *, min_range: float = 0.0) -> str:
    """Scale the range selectors, subqueries and offsets of ``expr`` (string literals and comments are left
    alone).

    >>> scale_expr('rate(x{a="[5m]"}[5m]) > 0 and y offset 1h', 0.1, min_range=4)
    'rate(x{a="[5m]"}[30s]) > 0 and y offset 6m'
    >>> scale_expr("max_over_time(x[10m:1m])", 0.01, min_range=4)
    'max_over_time(x[6s:600ms])'
    """
    out: list[str] = []
    pos = 0
    for literal in _LITERAL_OR_COMMENT.finditer(expr):
        out.append(_scale_code(expr[pos : literal.start()], factor, min_range))
        out.append(literal.group(0))
        pos = literal.end()
    out.append(_scale_code(expr[pos:], factor, min_range))
    return "".join(out)


def _scale_code(code: str, factor: float, min_range: float) -> str:
    def scale_range(match: re.Match[str]) -> str:
        window = scale_duration(match.group(1), factor, minimum=min_range)
        if match.group(0).find(":") < 0:
            return f"[{window}]"
        step = match.group(2)
        return f"[{window}:{scale_duration(step, factor) if step else ''}]"

    def scale_offset(match: re.Match[str]) -> str:
        return f"{match.group(1)}{match.group(2)}{scale_duration(match.group(3), factor)}"

    return _OFFSET.sub(scale_offset, _RANGE.sub(scale_range, code))


def _scale_document(data: Any, factor: float, min_range: float) -> Any:
    if not isinstance(data, dict):
        return data
    for group in data.get("groups") or []:
        if not isinstance(group, dict):
            continue
        for rule in group.get("rules") or []:
            if not isinstance(rule, dict):
                continue
            if isinstance(rule.get("expr"), str):
                rule["expr"] = scale_expr(rule["expr"], factor, min_range=min_range)
            for key in ("for", "keep_firing_for"):
                if key in rule and rule[key] is not None:
                    rule[key] = scale_duration(str(rule[key]), factor)
    return data


def scale_rule_files(
    files: Sequence[Path], factor: float, out_dir: Path, *, min_range: float = 0.0, check: bool = True
) -> list[Path]:
    """Write scaled copies of ``files`` into ``out_dir`` and return their paths (the originals when
    ``factor`` is 1). ``check`` runs ``promtool check rules`` on the copies."""
    validate_factor(factor)
    if factor == 1:
        return list(files)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for number, path in enumerate(files):
        docs = load_yaml_all(path, error=ConfigInvalid)
        scaled = [_scale_document(doc, factor, min_range) for doc in docs]
        target = out_dir / f"{number:02d}-{path.name}"
        header = f"# {path} with time scaled by {factor:g} (obs-tests --time-scale); do not edit\n"
        target.write_text(header + yaml.safe_dump_all(scaled, sort_keys=False), encoding="utf-8")
        written.append(target)
    if check and written:
        done = run_tool(["promtool", "check", "rules", *map(str, written)], timeout=60)
        if done.returncode != 0:
            raise ToolError(f"promtool rejected the time-scaled rule files (factor {factor:g}): {done.output}")
    return written
