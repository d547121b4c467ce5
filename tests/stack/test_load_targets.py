"""The load job's targets file: a Locust process gone before it removed its entry is pruned, the others
stay; edits are atomic and survive a corrupt file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from obs_tests.stack.load_targets import announcer_pid, edit_targets, prune_dead


def _entry(port: int, pid: int, role: str = "local") -> dict[str, object]:
    return {"targets": [f"127.0.0.1:{port}"], "labels": {"service": f"locust-{role}-{pid}"}}


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_the_entry_of_a_process_that_is_gone_is_pruned_the_living_stay(tmp_path: Path) -> None:
    path = tmp_path / "targets.json"
    gone = _dead_pid()
    other = {"targets": ["127.0.0.1:9"], "labels": {"service": "something-else"}}
    edit_targets(path, lambda entries: [_entry(9001, gone, "worker"), _entry(9002, 1), other])
    assert prune_dead(path) == [f"locust-worker-{gone}"]
    kept = json.loads(path.read_text())
    assert [e["labels"]["service"] for e in kept] == ["locust-local-1", "something-else"]
    assert prune_dead(path) == []


def test_a_missing_or_corrupt_file_is_no_error(tmp_path: Path) -> None:
    path = tmp_path / "targets.json"
    assert prune_dead(path) == [] and not path.exists()
    path.write_text("{half a file")
    assert edit_targets(path, lambda entries: [*entries, _entry(9003, 1)]) == [_entry(9003, 1)]
    assert not list(tmp_path.glob("*.tmp*"))


def test_only_locust_entries_name_their_announcer() -> None:
    assert announcer_pid(_entry(1, 4242, "master")) == 4242
    assert announcer_pid({"labels": {"service": "locust-local"}}) is None
    assert announcer_pid({"labels": {"service": "gateway-12"}}) is None
    assert announcer_pid({"targets": []}) is None
