"""Every command example in ``docs/*.md`` runs as written.

A fenced block marked ``sh`` holds commands, one per line (``#`` starts a comment; a trailing
``# exit N`` says the command is expected to exit with N, else 0). Each runs with bash from the
repository root, the project's virtualenv first on ``PATH``, and must finish within a minute.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from obs_tests.policy import RULE_IDS

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
_EXIT = re.compile(r"#\s*exit\s+(\d+)\b")


def _examples() -> list[pytest.ParameterSet]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for block in _BLOCK.finditer(text):
            line_no = text[: block.start()].count("\n") + 2
            for offset, line in enumerate(block.group(1).splitlines()):
                command = line.split(" #", 1)[0].strip()
                if not command or command.startswith("#"):
                    continue
                expected = _EXIT.search(line)
                code = int(expected.group(1)) if expected else 0
                where = f"{doc.name}:{line_no + offset}"
                found.append(pytest.param(command, code, id=where))
    return found


@pytest.mark.parametrize(("command", "code"), _examples())
def test_docs_command_example_runs(command: str, code: int) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == code, f"{command!r} exited {done.returncode}, expected {code}:\n{output}"
    assert "Traceback" not in done.stderr, done.stderr


def test_the_policy_page_lists_every_rule_id() -> None:
    text = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    missing = [rule for rule in RULE_IDS if f"| `{rule}` |" not in text]
    assert not missing, f"docs/policy.md does not list: {', '.join(missing)}"
