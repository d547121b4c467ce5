"""Findings: what a check found wrong, in words a user can act on.

Checks return lists of :class:`Finding`; an empty list means the check passed. The suite turns them
into assertion failures, reports into sections.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Finding", "display_path", "format_findings", "require_no_findings"]


@dataclass(frozen=True)
class Finding:
    """One problem: which check, about what, and the message (what, where, how to fix); ``rule`` is its
    stable id (``rule/required-label`` …, see :data:`obs_tests.config.policy.RULE_IDS`) that the contract's
    policy sets a level for, ``file``/``line`` where it is (for in-file suppressions)."""

    check: str
    subject: str
    message: str
    severity: str = "error"  # error | warning
    rule: str = ""
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        text = f"[{self.check}] {self.subject}: {self.message}"
        return f"{text} [{self.rule}]" if self.rule else text

    def to_json(self) -> dict[str, object]:
        """The finding for machine-readable reports."""
        return {
            "check": self.check,
            "rule": self.rule,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "file": self.file,
            "line": self.line,
        }


def format_findings(findings: Iterable[Finding], limit: int = 50) -> str:
    """One finding per line, capped at ``limit`` lines (with a count of the rest)."""
    items = list(findings)
    lines = [str(f) for f in items[:limit]]
    if len(items) > limit:
        lines.append(f"... and {len(items) - limit} more")
    return "\n".join(lines)


def require_no_findings(findings: Iterable[Finding]) -> None:
    """Fail the current pytest test with one line per finding (no traceback noise) if there are any."""
    items = list(findings)
    if items:
        import pytest  # noqa: PLC0415 - only the suite calls this, always under pytest

        pytest.fail(format_findings(items), pytrace=False)


def display_path(path: Path | str) -> str:
    """``path`` relative to the working directory when it is inside it (shorter messages)."""
    candidate = Path(path)
    try:
        return str(candidate.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(candidate)
