"""What the dashboard shows of a run, computed from its timeline events and its JSON report.

The same functions serve a live run (events as they arrive) and a finished one (the report's
``timeline``, ``alerts`` and ``chaos``), so a page opened mid-run, after it, or after a server restart
shows the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from obs_tests.chaos.faults import CHAOS_COUNTERS
from obs_tests.clients.base import redact_url

__all__ = ["LOG_LEVELS", "alert_rows", "bot_view", "chaos_counters", "chaos_view", "event_line", "public_url"]

LOG_LEVELS = ("INFO", "SUCCESS", "WARNING", "ERROR")


def public_url(url: str | None) -> str | None:
    """``url`` without user info (``http://admin:pw@host`` → ``http://host``): never show credentials."""
    return redact_url(url) if url else None


def _label_key(labels: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in labels.items() if k != "alertname"))


def alert_rows(events: Iterable[Mapping[str, Any]], timings: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """One row per alert series seen (state now and when it went pending/firing/resolved, seconds since
    the scenario start), with the measured times of the report's ``alerts`` when known and the limit that
    judged each (``fire_bound``/``resolve_bound``, from ``fire_source``/``resolve_source``: ``within`` — the
    scenario's own — or ``computed``).
    An expected alert that never fired gets a row in state ``inactive``."""
    rows: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    for event in events:
        if event.get("kind") != "alert":
            continue
        labels = dict(event.get("labels") or {})
        key = (str(event.get("name")), _label_key(labels))
        row = rows.setdefault(
            key,
            {
                "alert": key[0],
                "labels": dict(key[1]),
                "state": "inactive",
                "pending_at": None,
                "firing_at": None,
                "resolved_at": None,
            },
        )
        state = str(event.get("state"))
        row["state"] = state
        stamp = f"{state}_at"
        if stamp in row and row[stamp] is None:
            row[stamp] = event.get("t")
    out = list(rows.values())
    for timing in timings:
        name = str(timing.get("alert"))
        bounds = timing.get("bounds") or {}
        limits = timing.get("limits") or {}
        sources = timing.get("bound_source") or {}
        measured = {
            "expected": True,
            "fault": timing.get("fault"),
            "fired_after": timing.get("fired_after"),
            "notified_after": timing.get("notified_after"),
            "resolved_after": timing.get("resolved_after"),
            # the limit that judged the phase (a scenario's within, or the computed bound + tolerance) and
            # where it comes from; reports older than the limits: the computed bound
            "fire_bound": limits.get("fire", bounds.get("fire")),
            "fire_source": sources.get("fire", "computed" if "fire" in bounds else None),
            "resolve_bound": limits.get("clear", bounds.get("resolve")),
            "resolve_source": sources.get("clear", "computed" if "resolve" in bounds else None),
        }
        matching = [r for r in out if r["alert"] == name]
        if not matching:
            row = {"alert": name, "labels": {}, "state": "inactive", "pending_at": None, "firing_at": None}
            row["resolved_at"] = None
            out.append(row)
            matching = [row]
        for row in matching:
            row.update(measured)
    return sorted(out, key=lambda r: (r["firing_at"] is None, r["firing_at"] or 0.0, r["alert"]))


def chaos_view(events: Iterable[Mapping[str, Any]], final: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Faults applied / reverted and the ones still active. ``final`` is the report's ``chaos`` (it also
    counts faults the runner applies without a timeline event, such as the setup market)."""
    if final:
        faults = [dict(f) for f in final.get("faults") or []]
        active = [str(f["name"]) for f in faults if f.get("applied_at") is not None and f.get("reverted_at") is None]
        return {
            "applied": int(final.get("applied", 0)),
            "reverted": int(final.get("reverted", 0)),
            "revert_failed": int(final.get("revert_failed", 0)),
            "active": active,
            "faults": faults,
            "errors": [str(e) for e in final.get("errors") or []],
        }
    applied: dict[str, dict[str, Any]] = {}
    for event in events:
        kind, name = event.get("kind"), str(event.get("name"))
        if kind == "fault" and event.get("state") == "applied":
            what = str((event.get("detail") or {}).get("what", name))
            applied[name] = {"name": name, "what": what, "applied_at": event.get("t"), "reverted_at": None}
        elif kind == "revert" and name in applied and applied[name]["reverted_at"] is None:
            applied[name]["reverted_at"] = event.get("t")
    faults = list(applied.values())
    return {
        "applied": len(faults),
        "reverted": sum(1 for f in faults if f["reverted_at"] is not None),
        "revert_failed": 0,
        "active": [f["name"] for f in faults if f["reverted_at"] is None],
        "faults": faults,
        "errors": [],
    }


def event_line(event: Mapping[str, Any]) -> str:
    """A log line for a timeline event (verbose runs)."""
    kind, name, state = event.get("kind"), event.get("name"), event.get("state")
    labels = {k: v for k, v in (event.get("labels") or {}).items() if k not in ("alertname", "severity")}
    where = f" {{{', '.join(f'{k}={v}' for k, v in sorted(labels.items()))}}}" if labels else ""
    detail = event.get("detail") or {}
    if kind == "alert":
        return f"alert {name}{where} → {state}"
    if kind == "notification":
        return f"notification {name} {state} → {detail.get('receiver', '?')}"
    if kind == "fault":
        return f"fault {name} {state}: {detail.get('what', '')}".rstrip(": ")
    if kind == "revert":
        return f"fault {name} {state}"
    return f"{kind} {name} {state}".rstrip()


def chaos_counters(stats: Mapping[str, Any] | None) -> dict[str, float]:
    """What event chaos did — ``events_delayed``, ``events_dropped``, ``failures_injected``,
    ``events_modified``, ``total_delay_ms`` — from a result's ``chaos`` block, or from a bot's
    ``GET /admin/events`` stats (summed over its rules, as a result counts them: an event two rules
    delayed counts twice); 0 for what is not given."""
    given = stats or {}
    by_rule = given.get("by_rule")
    if isinstance(by_rule, Mapping) and by_rule:
        rules = [r for r in by_rule.values() if isinstance(r, Mapping)]
        return {key: _number(sum(_number(r.get(key)) for r in rules)) for key in CHAOS_COUNTERS}
    return {key: _number(given.get(key)) for key in CHAOS_COUNTERS}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return value


def bot_view(
    events: Mapping[str, Any] | None,
    chaos: Mapping[str, Any] | None,
    *,
    exchange: Mapping[str, Any] | None = None,
    recording: str | None = None,
    live: bool = False,
) -> dict[str, Any] | None:
    """A trading-bot run's recorded bus events — ``total``, ``by_name``, ``cycles``, ``missing`` (by name,
    and ``missing_total``), ``corrupted`` — and what event chaos did (:func:`chaos_counters`), with the
    prices its bot saw and its recording once it ended (``live``: sampled while it runs). None for a run
    without bot events (``events`` is None)."""
    if events is None:
        return None
    missing = {str(k): int(_number(v)) for k, v in (events.get("missing") or {}).items()}
    by_name = {str(k): int(_number(v)) for k, v in (events.get("by_name") or {}).items()}
    return {
        "live": live,
        "events": {
            "total": int(_number(events.get("total"))),
            "by_name": by_name,
            "cycles": int(_number(events.get("cycles"))),
            "missing": missing,
            "missing_total": sum(missing.values()),
            "corrupted": int(_number(events.get("corrupted"))),
        },
        "chaos": chaos_counters(chaos),
        "exchange": dict(exchange) if exchange else None,
        "recording": recording,
    }
