"""Find processes this test session started, to prove none outlives a run.

A process is ours when its environment carries this session's ``OBS_TESTS_SESSION`` marker (every
process we start inherits it) — so a stack a developer runs in another terminal is never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

SESSION_VAR = "OBS_TESTS_SESSION"


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def _alive(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rfind(")") + 2 :].split()[0] not in ("Z", "X")


def _marked(pid: int, marker: bytes) -> bool:
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def our_processes(exclude: set[int] | None = None, session: str | None = None) -> dict[int, str]:
    """pid -> command line of every live process carrying this session's marker (or ``session``, the
    marker a test gave one child of its own: that child's processes, not the session's shared stacks)."""
    value = session or os.environ.get(SESSION_VAR)
    if not value:
        return {}
    marker = f"{SESSION_VAR}={value}".encode()
    skip = {os.getpid(), *(exclude or set())}
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        pid = int(entry.name)
        if _marked(pid, marker) and _alive(pid):
            found[pid] = cmdline(pid)
    return found
