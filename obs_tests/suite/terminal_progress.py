"""What the session waits for, shown through pytest's terminal past output capturing (as live logs are): a
line per phase, and on a terminal a status line while it lasts.

Example::

    with session_progress(pytestconfig).phase("starting the embedded stack", at_most=60.0):
        stack.__enter__()
"""

from __future__ import annotations

import contextlib
import os
import shutil

import pytest

from obs_tests.core.progress import Progress

__all__ = ["session_progress"]

_PROGRESS_KEY = pytest.StashKey[Progress]()


def session_progress(config: pytest.Config) -> Progress:
    """What the session waits for, through pytest's terminal past output capturing (as live logs are): a
    line per phase, and on a terminal a status line while it lasts. Silent with ``-qq`` or without pytest's
    terminal reporter."""
    if (cached := config.stash.get(_PROGRESS_KEY, None)) is not None:
        return cached
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or config.get_verbosity() < -1:
        progress = Progress(lambda line: None)
        config.stash[_PROGRESS_KEY] = progress
        return progress

    def uncaptured() -> contextlib.AbstractContextManager[None]:
        return capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()

    def write_line(line: str) -> None:
        with uncaptured():
            if getattr(reporter, "_width_of_current_line", 0):  # after -q's dots
                reporter.write("\n")
            reporter.ensure_newline()
            reporter.write_line(line)

    def draw(text: str) -> None:
        with uncaptured():
            reporter.write(text, flush=True)

    terminal = bool(getattr(reporter, "isatty", False)) and os.environ.get("TERM") != "dumb"
    progress = Progress(write_line, draw if terminal else None, width=lambda: shutil.get_terminal_size().columns)
    config.stash[_PROGRESS_KEY] = progress
    return progress
