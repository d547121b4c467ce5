"""The real tools obs-tests drives: promtool and amtool.

Each wrapper runs the binary, returns what it said, and raises :class:`ToolError` (with the install
hint) when the binary is missing — never a bare ``FileNotFoundError``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from obs_tests.errors import ToolError

__all__ = ["ToolResult", "promtool", "promtool_check_metrics", "run_tool"]

_PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


@dataclass(frozen=True)
class ToolResult:
    """Exit status and output of one tool run."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return (self.stdout + self.stderr).strip()


def run_tool(argv: Sequence[str], *, input_text: str | None = None, timeout: float = 60.0) -> ToolResult:
    """Run a tool; a missing binary or a timeout raises :class:`ToolError`."""
    binary = argv[0]
    if shutil.which(binary) is None:
        package = _PACKAGES.get(binary, binary)
        raise ToolError(f"{binary} not found on PATH — install the Debian package '{package}' (make check does)")
    try:
        done = subprocess.run(
            list(argv), input=input_text, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"{' '.join(argv[:3])} did not finish within {timeout:g}s") from None
    return ToolResult(tuple(argv), done.returncode, done.stdout, done.stderr)


def promtool(*args: str, input_text: str | None = None, timeout: float = 60.0) -> ToolResult:
    """``promtool <args>``."""
    return run_tool(["promtool", *args], input_text=input_text, timeout=timeout)


def promtool_check_metrics(exposition: str) -> ToolResult:
    """``promtool check metrics`` on an exposition (exit 0 clean, 3 lint problems, 1 parse error)."""
    return promtool("check", "metrics", input_text=exposition)
