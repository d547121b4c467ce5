"""Find processes this test session started, to prove none outlives a run.

A process is ours when its environment carries this session's ``OBS_TESTS_SESSION`` marker (every
process we start inherits it) — so a stack a developer runs in another terminal is never touched.
"""

from __future__ import annotations

import os

import psutil

SESSION_VAR = "OBS_TESTS_SESSION"


def cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def alive(pid: int) -> bool:
    """True when ``pid`` exists and is neither a zombie nor dead."""
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.Error:
        return False


def _marked(proc: psutil.Process, value: str) -> bool:
    try:
        return proc.environ().get(SESSION_VAR) == value
    except psutil.Error:
        return False


def our_processes(exclude: set[int] | None = None, session: str | None = None) -> dict[int, str]:
    """pid -> command line of every live process carrying this session's marker (or ``session``, the
    marker a test gave one child of its own: that child's processes, not the session's shared stacks)."""
    value = session or os.environ.get(SESSION_VAR)
    if not value:
        return {}
    skip = {os.getpid(), *(exclude or set())}
    found: dict[int, str] = {}
    for proc in psutil.process_iter():
        if proc.pid not in skip and _marked(proc, value) and alive(proc.pid):
            found[proc.pid] = cmdline(proc.pid)
    return found
