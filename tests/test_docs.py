"""Every command example in ``docs/*.md`` runs as written, and the docs' links lead somewhere.

A fenced block marked ``sh`` holds commands, one per line (``#`` starts a comment; a trailing
``# exit N`` says the command is expected to exit with N, else 0). Each runs with bash from the
repository root, the project's virtualenv first on ``PATH``, and must finish within a minute.

A block marked ``sh live`` needs something running (a stack, a server, Docker, a gateway for Locust) and
is not run; its ``obs-tests`` commands — and those of the README's ``sh`` blocks — are parsed by the real
command line instead, so a renamed command or option, or a value it refuses, fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from obs_tests.cli import cli
from obs_tests.config.policy import RULE_IDS

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
README = ROOT / "README.md"
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
_LIVE_BLOCK = re.compile(r"^```sh live\n(.*?)^```", re.MULTILINE | re.DOTALL)
_ANY_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_EXIT = re.compile(r"#\s*exit\s+(\d+)\b")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


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


def _live_commands() -> list[pytest.ParameterSet]:
    """The ``obs-tests`` command lines of ``sh live`` blocks in docs/ and of every ``sh`` block in the README."""
    sources = [(doc, _LIVE_BLOCK) for doc in DOCS] + [(README, _BLOCK)]
    found = []
    for doc, pattern in sources:
        text = doc.read_text(encoding="utf-8")
        for block in pattern.finditer(text):
            line_no = text[: block.start()].count("\n") + 2
            for offset, line in enumerate(block.group(1).replace("\\\n", " ").splitlines()):
                lexer = shlex.shlex(line.split(" #", 1)[0], posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                for command in _split_commands(list(lexer)):
                    if command[:1] == ["obs-tests"]:
                        where = f"{doc.relative_to(ROOT)}:{line_no + offset}"
                        found.append(pytest.param(command[1:], id=f"{where} {' '.join(command[:3])}"))
    return found


def _split_commands(words: list[str]) -> list[list[str]]:
    """``a && OBS_X=1 b | c`` → ``[[a], [b], [c]]``: the commands of a line, without leading assignments."""
    commands: list[list[str]] = [[]]
    for word in words:
        if word in {"&&", "||", "|", ";", "&"}:
            commands.append([])
        elif commands[-1] or not re.fullmatch(r"[A-Z_]+=.*", word):
            commands[-1].append(word)
    return [c for c in commands if c]


@pytest.mark.parametrize("args", _live_commands())
def test_docs_live_command_parses(args: list[str]) -> None:
    """The command, its options and their values are what the CLI accepts (nothing is run)."""
    command: click.Command = cli
    ctx: click.Context | None = None
    name, rest = "obs-tests", list(args)
    try:
        while True:
            ctx = command.make_context(name, rest, parent=ctx)
            if not isinstance(command, click.Group):
                return
            resolved_name, resolved, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
            assert resolved is not None and resolved_name is not None
            command, name = resolved, resolved_name
    except click.ClickException as exc:
        pytest.fail(f"obs-tests {shlex.join(args)}: {exc.format_message()}")
    except SystemExit as exc:  # health reports a usage error itself, as UNKNOWN
        pytest.fail(f"obs-tests {shlex.join(args)}: exit {exc.code}")


def _anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    text = _ANY_BLOCK.sub("", path.read_text(encoding="utf-8"))
    headings = re.findall(r"^#+ (.*)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("doc", [README, *DOCS, ROOT / "benchmarks" / "README.md"], ids=lambda p: p.name)
def test_docs_links_resolve_inside_the_repository(doc: Path) -> None:
    text = _ANY_BLOCK.sub("", doc.read_text(encoding="utf-8"))
    broken = []
    for link in _LINK.findall(text):
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if not target.exists() or not target.is_relative_to(ROOT):
            broken.append(f"{link}: no such file in the repository")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: no heading with that id in {target.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_links_every_docs_page() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [doc.name for doc in DOCS if f"](docs/{doc.name})" not in text]
    assert not missing, f"README.md does not link: {', '.join(missing)}"
