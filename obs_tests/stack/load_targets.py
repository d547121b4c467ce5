"""The embedded stack's file of Prometheus' ``load`` job (file_sd): each Locust process announces its metrics
address there when it starts (``load/metrics.py``) and removes it when it quits.

A Locust process killed before it could remove its entry (SIGKILL, the OOM killer, its owner killed) would
stay a target DOWN in Prometheus for the rest of the stack's life — every later health check would report
it. :func:`prune_dead` drops the entries of processes that are gone; the next announcement and the stack's
``heal()`` call it. Every change holds the file's lock and replaces the file atomically (Prometheus never
reads half a file).

Example::

    edit_targets(path, lambda entries: [*entries, {"targets": ["127.0.0.1:9646"], "labels": {...}}])
    prune_dead(path)        # ['locust-worker-4242'] when that process is gone
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from obs_tests.stack.process import pid_alive

__all__ = ["announcer_pid", "edit_targets", "prune_dead"]

Entries = list[dict[str, Any]]


def edit_targets(path: Path, change: Callable[[Entries], Entries]) -> Entries:
    """Apply ``change`` to the file's entries under its lock and write the result atomically; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            entries: Entries = json.loads(text) if text.strip() else []
        except ValueError:
            entries = []
        changed = change(entries)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(changed), encoding="utf-8")
        tmp.replace(path)
        return changed


def announcer_pid(entry: dict[str, Any]) -> int | None:
    """The pid of the Locust process that announced ``entry`` (its ``service`` label is
    ``locust-<role>-<pid>``), or None for an entry of another kind."""
    service = str(entry.get("labels", {}).get("service", ""))
    tail = service.rsplit("-", 1)[-1]
    return int(tail) if service.startswith("locust-") and tail.isdigit() else None


def prune_dead(path: Path) -> list[str]:
    """Drop the entries of Locust processes that are gone; the ``service`` labels dropped."""
    if not path.exists():
        return []
    dropped: list[str] = []

    def keep_alive(entries: Entries) -> Entries:
        kept = []
        for entry in entries:
            pid = announcer_pid(entry)
            if pid is not None and not pid_alive(pid):
                dropped.append(str(entry["labels"]["service"]))
            else:
                kept.append(entry)
        return kept

    edit_targets(path, keep_alive)
    return dropped
