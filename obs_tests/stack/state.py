"""State files: how ``obs-tests status``/``down`` and the next run find a stack's processes.

Each running embedded stack keeps ``<state dir>/stack-<id>.json`` up to date: its owner process, its
working directory and every component's pid (with the kernel start time, so a reused pid is never
mistaken for ours), port and URL. A clean teardown deletes the file. A file whose owner is gone was
left by a crashed run: :func:`reap_stale` kills what it lists and removes its working directory.

The state dir is ``$OBS_STATE_DIR`` or ``~/.cache/obs-tests/stacks``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from obs_tests.stack.process import ProcessIdentity, pid_alive, terminate_identities

__all__ = [
    "ComponentRecord",
    "StackRecord",
    "default_state_dir",
    "list_records",
    "load_targets_for",
    "new_stack_id",
    "prometheus_for",
    "reap_record",
    "reap_stale",
    "record_path",
    "remove_record",
    "wait_owner_exit",
    "write_record",
]

STATE_VERSION = 1
_TMP = ".tmp"  # stack-<id>.tmp<pid>-<thread>: a record being written


def new_stack_id() -> str:
    """A fresh stack id (12 hex digits): the state file is ``stack-<id>.json``."""
    return uuid.uuid4().hex[:12]


def default_state_dir() -> Path:
    """``$OBS_STATE_DIR`` or ``~/.cache/obs-tests/stacks``."""
    env = os.environ.get("OBS_STATE_DIR")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "obs-tests" / "stacks"


@dataclass
class ComponentRecord:
    """One component as written in the state file."""

    name: str
    pid: int | None
    start_time: int | None
    ports: dict[str, int]
    url: str
    log: str
    paused: bool = False

    def identity(self) -> ProcessIdentity | None:
        """The recorded process identity (None if the component was not running)."""
        if self.pid is None or self.start_time is None:
            return None
        return ProcessIdentity(self.pid, self.start_time)


@dataclass
class StackRecord:
    """A whole stack as written in the state file."""

    id: str
    owner_pid: int
    owner_start_time: int
    workdir: str
    contract: str
    started_at: float
    ready: bool = False
    detached: bool = False
    origin: str = "api"  # "up" for stacks started by `obs-tests up`, "api" for EmbeddedStack users
    remove_workdir: bool = True
    #: the file_sd file of Prometheus job ``load``: Locust processes driving this stack announce their metrics
    #: there ("" for a stack without one)
    load_targets: str = ""
    components: dict[str, ComponentRecord] = field(default_factory=dict)
    path: Path | None = None

    def owner(self) -> ProcessIdentity:
        """The process that runs (supervises) this stack."""
        return ProcessIdentity(self.owner_pid, self.owner_start_time)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        data = asdict(self)
        data.pop("path")
        data["version"] = STATE_VERSION
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> StackRecord:
        """Parse what :meth:`to_json` wrote."""
        components = {
            name: ComponentRecord(**{k: v for k, v in comp.items() if k in ComponentRecord.__dataclass_fields__})
            for name, comp in data.get("components", {}).items()
        }
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "components"}
        return cls(**fields, components=components, path=path)


def record_path(state_dir: Path, stack_id: str) -> Path:
    """Where the state file of stack ``stack_id`` is (or would be)."""
    return state_dir / f"stack-{stack_id}.json"


def write_record(state_dir: Path, record: StackRecord) -> Path:
    """Atomically write ``record`` into ``state_dir``; returns the file path."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = record_path(state_dir, record.id)
    # one temporary file per writer: two threads updating the same stack (concurrent scenarios pausing
    # two components) must not rename each other's file away
    tmp = path.with_suffix(f"{_TMP}{os.getpid()}-{threading.get_ident()}")
    try:
        tmp.write_text(json.dumps(record.to_json(), indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except BaseException:  # an interrupt between the two: no half-written file left behind
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    record.path = path
    return path


def remove_record(record: StackRecord) -> None:
    """Delete the record's state file (if any)."""
    if record.path is not None:
        with contextlib.suppress(FileNotFoundError):
            record.path.unlink()


def list_records(state_dir: Path) -> list[StackRecord]:
    """Every readable state file in ``state_dir`` (unreadable ones are skipped)."""
    if not state_dir.is_dir():
        return []
    records = []
    for path in sorted(state_dir.glob("stack-*.json")):
        try:
            records.append(StackRecord.from_json(json.loads(path.read_text(encoding="utf-8")), path))
        except (OSError, ValueError, TypeError):
            continue
    return records


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url.strip())
    host = "127.0.0.1" if parts.hostname in ("localhost", "::1") else (parts.hostname or "")
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme, host, port


def _serving(url: str, state_dir: Path | None) -> list[StackRecord]:
    """The running stacks of ``state_dir`` one of whose components serves ``url``."""
    wanted = _origin(url)
    if not wanted[1] or wanted[2] is None:
        return []
    return [
        record
        for record in list_records(state_dir or default_state_dir())
        if record.owner().alive() and any(_origin(comp.url) == wanted for comp in record.components.values())
    ]


def load_targets_for(url: str, state_dir: Path | None = None) -> Path | None:
    """The ``load`` targets file of the running stack one of whose components serves ``url`` (e.g. a Locust
    ``--host`` pointed at the embedded gateway), or None when no running stack of ``state_dir`` serves it."""
    return next((Path(r.load_targets) for r in _serving(url, state_dir) if r.load_targets), None)


def prometheus_for(url: str, state_dir: Path | None = None) -> str | None:
    """The Prometheus URL of the running stack one of whose components serves ``url`` (a Locust ``--host``
    pointed at the embedded gateway: where its load report reads the gateway's histogram), or None."""
    for record in _serving(url, state_dir):
        if (prometheus := record.components.get("prometheus")) is not None and prometheus.url:
            return prometheus.url
    return None


def reap_stale(state_dir: Path, grace: float = 5.0) -> list[StackRecord]:
    """Kill the processes of every stack whose owner is gone; returns the records reaped. Also removes
    the temporary files of writers that died (SIGKILLed) between writing a record and renaming it."""
    for tmp in state_dir.glob(f"stack-*{_TMP}*") if state_dir.is_dir() else []:
        writer = tmp.suffix.removeprefix(_TMP).split("-")[0]
        if writer.isdigit() and not pid_alive(int(writer)):
            with contextlib.suppress(OSError):
                tmp.unlink()
    reaped = []
    for record in list_records(state_dir):
        if record.owner().alive():
            continue
        reap_record(record, grace=grace)
        reaped.append(record)
    return reaped


def reap_record(record: StackRecord, grace: float = 5.0) -> list[int]:
    """Kill every component process of ``record`` that still runs, remove its files."""
    identities = [i for c in record.components.values() if (i := c.identity()) is not None]
    killed = terminate_identities(identities, grace=grace)
    if record.remove_workdir and record.workdir:
        shutil.rmtree(record.workdir, ignore_errors=True)
    remove_record(record)
    return killed


def wait_owner_exit(record: StackRecord, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the stack's owner process to exit."""
    deadline = time.monotonic() + timeout
    owner = record.owner()
    while owner.alive():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)  # poll spacing while the owner tears its stack down
    return True
