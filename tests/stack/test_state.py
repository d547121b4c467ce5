from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from obs_tests.stack.process import ProcessIdentity, pid_alive
from obs_tests.stack.state import (
    ComponentRecord,
    StackRecord,
    list_records,
    load_targets_for,
    prometheus_for,
    reap_stale,
    write_record,
)


def _record(owner: ProcessIdentity, workdir: Path, comps: dict[str, ComponentRecord]) -> StackRecord:
    return StackRecord(
        id="abc",
        owner_pid=owner.pid,
        owner_start_time=owner.start_time,
        workdir=str(workdir),
        contract="obs.yaml",
        started_at=0.0,
        components=comps,
    )


def test_roundtrip(tmp_path: Path) -> None:
    me = ProcessIdentity.of(os.getpid())
    assert me
    comp = ComponentRecord("gateway", 1, 2, {"http": 8000}, "http://127.0.0.1:8000", "/tmp/x.log")
    write_record(tmp_path, _record(me, tmp_path / "w", {"gateway": comp}))
    (tmp_path / "stack-garbage.json").write_text("{not json")
    [loaded] = list_records(tmp_path)
    assert loaded.id == "abc"
    assert loaded.components["gateway"].ports == {"http": 8000}
    assert loaded.owner().alive()


def test_reap_stale_kills_orphans_of_a_dead_owner(tmp_path: Path) -> None:
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        ident = ProcessIdentity.of(orphan.pid)
        assert ident
        workdir = tmp_path / "work"
        workdir.mkdir()
        comp = ComponentRecord("sleeper", ident.pid, ident.start_time, {"http": 1}, "", "")
        write_record(tmp_path, _record(ProcessIdentity(dead_owner.pid, 1), workdir, {"sleeper": comp}))
        reaped = reap_stale(tmp_path, grace=2)
        assert [r.id for r in reaped] == ["abc"]
        orphan.wait(timeout=5)
        assert not pid_alive(orphan.pid)
        assert not workdir.exists()
        assert list_records(tmp_path) == []
    finally:
        orphan.kill()
        orphan.wait()


def test_reap_stale_spares_live_owner_and_reused_pids(tmp_path: Path) -> None:
    me = ProcessIdentity.of(os.getpid())
    assert me
    innocent = subprocess.Popen(["sleep", "60"])
    try:
        ident = ProcessIdentity.of(innocent.pid)
        assert ident
        # live owner: nothing reaped
        comp = ComponentRecord("x", ident.pid, ident.start_time, {}, "", "")
        write_record(tmp_path, _record(me, tmp_path, {"x": comp}))
        assert reap_stale(tmp_path) == []
        # dead owner, but the recorded pid now belongs to another process (start time differs)
        reused = ComponentRecord("x", ident.pid, ident.start_time + 99, {}, "", "")
        record = _record(ProcessIdentity(2**22 + 7, 1), tmp_path / "w", {"x": reused})
        write_record(tmp_path, record)
        reap_stale(tmp_path, grace=0.5)
        assert innocent.poll() is None
    finally:
        innocent.kill()
        innocent.wait()


def test_a_record_write_interrupted_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    me = ProcessIdentity.of(os.getpid())
    assert me

    def interrupted(self: Path, target: Path) -> Path:
        raise KeyboardInterrupt("received SIGINT")

    monkeypatch.setattr(Path, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_record(tmp_path, _record(me, tmp_path / "w", {}))
    assert list(tmp_path.iterdir()) == []


def test_reap_stale_removes_the_temporary_files_of_dead_writers(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f"stack-abc.tmp{dead.pid}-1").write_text("{")
    (tmp_path / f"stack-abd.tmp{os.getpid()}-1").write_text("{")  # being written by a live writer
    reap_stale(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [f"stack-abd.tmp{os.getpid()}-1"]


def test_the_prometheus_and_load_targets_of_the_stack_serving_a_url(tmp_path: Path) -> None:
    me = ProcessIdentity.of(os.getpid())
    assert me
    gateway = ComponentRecord("gateway", 1, 2, {"http": 8000}, "http://127.0.0.1:8000", "/tmp/g.log")
    prometheus = ComponentRecord("prometheus", 3, 4, {"http": 9090}, "http://127.0.0.1:9090", "/tmp/p.log")
    record = _record(me, tmp_path / "w", {"gateway": gateway, "prometheus": prometheus})
    record.load_targets = str(tmp_path / "load.json")
    write_record(tmp_path, record)
    assert prometheus_for("http://localhost:8000/", tmp_path) == "http://127.0.0.1:9090"
    assert load_targets_for("http://127.0.0.1:8000", tmp_path) == tmp_path / "load.json"
    assert prometheus_for("http://127.0.0.1:8001", tmp_path) is None  # no stack serves it
    assert prometheus_for("not a url", tmp_path) is None


def test_a_stack_whose_owner_is_gone_serves_nothing(tmp_path: Path) -> None:
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    gone = ProcessIdentity(dead_owner.pid, 1)
    gateway = ComponentRecord("gateway", 1, 2, {"http": 8000}, "http://127.0.0.1:8000", "/tmp/g.log")
    prometheus = ComponentRecord("prometheus", 3, 4, {"http": 9090}, "http://127.0.0.1:9090", "/tmp/p.log")
    write_record(tmp_path, _record(gone, tmp_path / "w", {"gateway": gateway, "prometheus": prometheus}))
    assert prometheus_for("http://127.0.0.1:8000", tmp_path) is None
