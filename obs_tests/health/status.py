"""What ``obs-tests health`` reports: a status per check, the problems behind it, the overall verdict.

Statuses are Nagios' (the exit code is the status): **0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN**. The
overall status is the worst check by the order OK < WARNING < UNKNOWN < CRITICAL: a known outage
outranks a part that could not be judged, and a part that could not be judged outranks a warning.

Example::

    result = CheckResult.judge("prometheus.targets", "prometheus", "14/14 targets up", problems)
    report = HealthReport([result], endpoints={"prometheus": "http://prometheus:9090"})
    print(report.summary_line())       # HEALTH OK: 1 checks OK — ... | targets_up=14;;;0;14 ...
    sys.exit(report.exit_code)
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

__all__ = ["SCHEMA_VERSION", "CheckResult", "HealthReport", "Problem", "Status", "parse_time", "worst"]

#: version of the JSON document (``obs_tests/schemas/health.schema.json``)
SCHEMA_VERSION = 1


class Status(IntEnum):
    """Nagios plugin states; the value is the exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def rank(self) -> int:
        """Severity order for combining: OK < WARNING < UNKNOWN < CRITICAL."""
        return {Status.OK: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}[self]


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status (OK for none)."""
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


Field = str | int | float | bool | None


@dataclass(frozen=True)
class Problem:
    """One thing wrong: its severity, what it is about and what to do.

    ``fields`` carries the structured facts behind the message (``job``, ``instance``, ``last_error``,
    ``group``, ...), copied into the JSON output.
    """

    status: Status
    subject: str
    message: str
    fields: Mapping[str, Field] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}" if self.subject else self.message


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check."""

    name: str
    component: str
    status: Status
    summary: str
    problems: tuple[Problem, ...] = ()
    #: why the check was not judged (then ``status`` is OK and the check counts as skipped)
    skipped: str | None = None
    #: numbers worth graphing (Nagios performance data)
    metrics: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def judge(
        cls,
        name: str,
        component: str,
        ok_summary: str,
        problems: Sequence[Problem],
        metrics: Mapping[str, float] | None = None,
    ) -> CheckResult:
        """OK with ``ok_summary`` when there are no problems; else the worst problem's status, and a
        summary naming the first problem of that status (and how many more there are)."""
        if not problems:
            return cls(name, component, Status.OK, ok_summary, (), None, dict(metrics or {}))
        status = worst(p.status for p in problems)
        ordered = sorted(problems, key=lambda p: -p.status.rank)
        summary = str(ordered[0])
        if len(problems) > 1:
            summary += f" (+{len(problems) - 1} more)"
        return cls(name, component, status, summary, tuple(ordered), None, dict(metrics or {}))

    @classmethod
    def skip(cls, name: str, component: str, reason: str) -> CheckResult:
        """A check that could not be judged for a reason that is not a failure (reported, counts as OK)."""
        return cls(name, component, Status.OK, f"not checked: {reason}", (), reason)

    @classmethod
    def unknown(cls, name: str, component: str, message: str) -> CheckResult:
        """A check that could not be judged because its data could not be fetched."""
        return cls(name, component, Status.UNKNOWN, message, (Problem(Status.UNKNOWN, "", message),))

    @property
    def label(self) -> str:
        """``OK``/``WARNING``/``CRITICAL``/``UNKNOWN``, or ``SKIP`` for a check that was not judged."""
        return "SKIP" if self.skipped else self.status.name

    def to_json(self) -> dict[str, Any]:
        """The check as the JSON schema describes it."""
        return {
            "name": self.name,
            "component": self.component,
            "status": self.status.name,
            "summary": self.summary,
            "skipped": self.skipped,
            "problems": [
                {"status": p.status.name, "subject": p.subject, "message": p.message, **dict(p.fields)}
                for p in self.problems
            ],
            "metrics": {k: _finite(v) for k, v in self.metrics.items()},
        }


def parse_time(text: str) -> float | None:
    """RFC 3339 (with Prometheus' nanoseconds) -> unix seconds; None for empty, unparsable or the zero time."""
    if not text or text.startswith("0001-01-01"):
        return None
    head, _, tail = text.partition(".")
    if tail:
        digits = "".join(ch for ch in tail if ch.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class HealthReport:
    """Every check of one run and the overall verdict."""

    checks: list[CheckResult]
    endpoints: dict[str, str | None] = field(default_factory=dict)
    warn_only: bool = False
    started_at: float = field(default_factory=time.time)
    duration: float = 0.0

    @property
    def status(self) -> Status:
        """The worst check status, as judged."""
        return worst(c.status for c in self.checks)

    @property
    def reported_status(self) -> Status:
        """What the exit code says: with ``warn_only`` a CRITICAL is reported as WARNING."""
        status = self.status
        if self.warn_only and status is Status.CRITICAL:
            return Status.WARNING
        return status

    @property
    def exit_code(self) -> int:
        """Nagios exit code of the run."""
        return int(self.reported_status)

    def counts(self) -> dict[str, int]:
        """How many checks are OK, WARNING, CRITICAL, UNKNOWN and skipped."""
        out = {s.name: 0 for s in Status} | {"SKIPPED": 0}
        for check in self.checks:
            out["SKIPPED" if check.skipped else check.status.name] += 1
        return out

    def ordered(self) -> list[CheckResult]:
        """Checks with the most severe first (skipped last), otherwise in run order."""
        return sorted(self.checks, key=lambda c: (c.skipped is not None, -c.status.rank))

    def perfdata(self) -> dict[str, float]:
        """Every check's metrics, plus the run's duration."""
        out: dict[str, float] = {}
        for check in self.checks:
            out.update(check.metrics)
        out["duration_seconds"] = round(self.duration, 3)
        return out

    def summary_line(self) -> str:
        """The Nagios first line: ``HEALTH CRITICAL: <counts> — <worst problems> | <perfdata>``."""
        counts = self.counts()
        parts = [f"{counts[s]} {s.lower()}" for s in ("CRITICAL", "UNKNOWN", "WARNING") if counts[s]]
        parts.append(f"{counts['OK']} ok")
        if counts["SKIPPED"]:
            parts.append(f"{counts['SKIPPED']} skipped")
        text = f"HEALTH {self.reported_status.name}: {', '.join(parts)}"
        if self.warn_only and self.status is Status.CRITICAL:
            text += " (CRITICAL reported as WARNING: --warn-only)"
        failing = [c for c in self.ordered() if c.status is not Status.OK]
        if failing:
            shown = "; ".join(f"{c.name}: {c.summary}" for c in failing[:3])
            if len(failing) > 3:
                shown += f"; +{len(failing) - 3} more"
            text += f" — {shown}"
        perf = " ".join(f"{k}={_perf(v)}" for k, v in self.perfdata().items())
        return f"{_one_line(text)} | {perf}"

    def to_text(self) -> str:
        """The summary line, then one line per check (most severe first) and one per problem."""
        lines = [self.summary_line()]
        width = max((len(c.name) for c in self.checks), default=0)
        for check in self.ordered():
            lines.append(f"{check.label:<9} {check.name:<{width}}  {check.summary}")
            if len(check.problems) > 1 or (check.problems and str(check.problems[0]) not in check.summary):
                lines.extend(f"{'':<9} {'':<{width}}  - {p.status.name}: {p}" for p in check.problems)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The JSON document (schema ``obs_tests/schemas/health.schema.json``)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "summary": self.summary_line(),
            "status": self.reported_status.name,
            "judged_status": self.status.name,
            "exit_code": self.exit_code,
            "warn_only": self.warn_only,
            "checked_at": _iso(self.started_at),
            "duration_seconds": round(self.duration, 3),
            "endpoints": {"prometheus": None, "alertmanager": None, "grafana": None} | dict(self.endpoints),
            "counts": self.counts(),
            "checks": [c.to_json() for c in self.checks],
            "perfdata": {k: _finite(v) for k, v in self.perfdata().items()},
        }


def _perf(value: float) -> str:
    if not math.isfinite(value):
        return "U"
    return f"{value:g}" if value == int(value) or abs(value) >= 1 else f"{value:.4g}"


def _one_line(text: str) -> str:
    # Nagios reads the first line; a '|' there starts performance data.
    return " ".join(text.replace("|", "/").split())
