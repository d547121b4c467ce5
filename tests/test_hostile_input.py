"""Hostile and broken input through every entry point, refused fast and clearly.

Each case is a mistake (or an attack) a user's file, option or request can carry: alias bombs, huge
files, deep nesting, NaN/infinite/huge numbers, wrong types, bytes that are not UTF-8, BOMs, empty files,
duplicate keys, Python tags, path traversal, very long strings, bad URLs, credentials in URLs. Every
case asserts: exit 2 (``health``: 3, Nagios' UNKNOWN, which it documents for bad input) or HTTP 4xx;
done in under :data:`LIMIT` seconds (and a per-test timeout, so a hang fails instead of hanging the
suite); exactly one line that names the file and line, the option or the field; no traceback; and the
planted :data:`SECRET` never in the output.

Small inputs are files under ``tests/fixtures/hostile/`` (with the expected message in
``expected-*.json``); big ones (bombs, 50 MB) are made in ``tmp_path``. CLI commands run in-process
(click's CliRunner) so the time measured is the command's, not the interpreter's start; the REST API
is the real ``obs-tests serve`` (lazy stack: no stack starts unless a run is accepted).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner

from obs_tests.cli import cli

from .web.helpers import Server, scenario_dir, serving

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "fixtures" / "hostile"
CONTRACT = str(ROOT / "obs.yaml")
SECRET = "PLANTED-SECRET-7f3a"
LIMIT = 2.0
SCENARIOS: dict[str, str] = json.loads((HOSTILE / "expected-scenarios.json").read_text(encoding="utf-8"))
CONTRACTS: dict[str, str] = json.loads((HOSTILE / "expected-contracts.json").read_text(encoding="utf-8"))
# a location: file:line, a file, an option or argument, a field of a request, the variable or server URL named
_LOCATED = re.compile(
    r"\.(ya?ml|json)(:\d+)?: |'--[a-z-]+'|'\[[A-Z]+\]\.\.\.'|^[a-z_]+: |OBS_[A-Z_]+ "
    r"|(Prometheus|Alertmanager|Grafana) URL "
)

pytestmark = pytest.mark.timeout(60)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def invoke(args: list[str], env: dict[str, str] | None = None) -> Outcome:
    """``obs-tests <args>`` in-process, with no ``OBS_*`` variable of the caller's environment."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OBS_")}
    clean.update(env or {})
    started = time.monotonic()
    result = CliRunner().invoke(cli, args, env=clean)
    seconds = time.monotonic() - started
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"obs-tests {' '.join(args)} raised {result.exception!r}:\n{result.output}")
    # click returns (instead of raising SystemExit for) an Exit(code) outside standalone mode
    code = result.exit_code or (result.return_value if isinstance(result.return_value, int) else 0)
    return Outcome(code, result.stdout, result.stderr, seconds)


def assert_refused(outcome: Outcome, fragment: str, *, code: int = 2, stream: str = "stderr") -> str:
    """The checks every case shares; the one line."""
    text = getattr(outcome, stream)
    lines = [line for line in text.splitlines() if line.strip()]
    assert outcome.code == code, f"exit {outcome.code}, expected {code}:\n{outcome.output}"
    assert outcome.seconds < LIMIT, f"took {outcome.seconds:.2f}s (limit {LIMIT}s)"
    assert "Traceback" not in outcome.output, outcome.output
    assert SECRET not in outcome.output, outcome.output
    assert len(lines) == 1, f"expected one line on {stream}, got {len(lines)}:\n{text}"
    assert fragment in lines[0], f"{fragment!r} not in:\n{lines[0]}"
    assert _LOCATED.search(lines[0]), f"no location in: {lines[0]}"
    return lines[0]


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The 9-level "billion laughs": ~350 bytes that expand to 9^9 nodes."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = ["a: &a [" + ",".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        name, previous = names[level], names[level - 1]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * width) + "]")
    return "\n".join(lines) + "\n"


def merge_bomb() -> str:
    """Merge keys instead of lists: each level merges the one before, 12 levels of 6."""
    lines = ["l0: &l0 {" + ", ".join(f"k{i}: {i}" for i in range(6)) + "}"]
    for level in range(1, 12):
        merged = ", ".join(f"m{i}: {{<<: *l{level - 1}}}" for i in range(6))
        lines.append(f"l{level}: &l{level} {{{merged}}}")
    return "\n".join(lines) + "\n"


# -- scenario files: scenario validate -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS), ids=lambda n: Path(n).stem)
def test_scenario_validate_refuses_hostile_file(name: str) -> None:
    path = HOSTILE / name
    line = assert_refused(invoke(["scenario", "validate", "-c", CONTRACT, str(path)]), SCENARIOS[name])
    assert line.startswith(f"ScenarioInvalid: {path}"), line


def test_every_hostile_scenario_fixture_has_an_expectation() -> None:
    assert {f"scenarios/{p.name}" for p in (HOSTILE / "scenarios").iterdir()} == set(SCENARIOS)
    assert len(SCENARIOS) + len(CONTRACTS) + len(GENERATED) + len(OPTIONS) + len(API) >= 60


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _sparse(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def _padded(tmp_path: Path, name: str, size: int) -> Path:
    """A real (not sparse) file of ``size`` bytes: a valid scenario, then comments."""
    head = b"name: padded\nsteps: []\n"
    line = b"# " + b"x" * 97 + b"\n"
    path = tmp_path / name
    with path.open("wb") as handle:
        handle.write(head)
        handle.write(line * ((size - len(head)) // len(line) + 1))
    return path


GENERATED: list[Any] = [
    pytest.param(
        lambda t: _write(t, "bomb.yaml", alias_bomb()),
        ":6: YAML aliases expand to more than 100,000 nodes",
        id="alias-bomb",
    ),
    pytest.param(
        lambda t: _write(t, "bomb-in-steps.yaml", "name: x\n" + alias_bomb().replace("a: &a", "steps: &a", 1)),
        ":7: YAML aliases expand to more than 100,000 nodes",
        id="alias-bomb-in-steps",
    ),
    pytest.param(
        lambda t: _write(t, "merge-bomb.yaml", merge_bomb()),
        "YAML aliases expand to more than 100,000",
        id="merge-bomb",
    ),
    pytest.param(
        lambda t: _sparse(t, "50mb.yaml", 50_000_000),
        ": 50,000,000 bytes — obs-tests reads files of at most 10,000,000 bytes",
        id="50-mb",
    ),
    pytest.param(
        lambda t: _padded(t, "11mb.yaml", 11_000_000),
        "bytes — obs-tests reads files of at most 10,000,000 bytes",
        id="11-mb",
    ),
    pytest.param(
        lambda t: _write(t, "deep.yaml", "name: x\nsteps: " + "[" * 10_000 + "]" * 10_000),
        ":2: nested more than 100 levels deep",
        id="deep-lists",
    ),
    pytest.param(
        lambda t: _write(
            t,
            "deep-map.yaml",
            "name: x\nsteps: []\nexpect:" + "".join(f"\n{' ' * (2 * i)}k{i}:" for i in range(1, 300)) + " 1\n",
        ),
        ": nested more than 100 levels deep",
        id="deep-mappings",
    ),
    pytest.param(
        lambda t: _write(t, "digits.yaml", "name: x\nsteps:\n  - wait_for_time: " + "9" * 5000 + "\n"),
        ":3: a number of 5,000 characters",
        id="5000-digits",
    ),
    pytest.param(
        lambda t: _write(t, "description.yaml", "name: x\ndescription: " + "lorem ipsum " * 2000 + "\nsteps: []\n"),
        ":2: description: a string of 23,999 characters — allowed: at most 10,000",
        id="long-description",
    ),
    pytest.param(
        lambda t: _write(t, "long-name.yaml", f"name: {'a' * 100_000}\nsteps: []\n"),
        ":1: name: a string of 100,000 characters — allowed: at most 200",
        id="long-name",
    ),
    pytest.param(lambda t: _write(t, "binary.yaml", bytes(range(256)) * 40), "not UTF-8 text", id="binary"),
    pytest.param(lambda t: t, "' is a directory.", id="directory"),
    pytest.param(lambda t: t / "nope.yaml", "nope.yaml: file not found — check the path", id="missing"),
]


@pytest.mark.parametrize(("make", "fragment"), GENERATED)
def test_scenario_validate_refuses_generated_hostile_file(tmp_path: Path, make: Any, fragment: str) -> None:
    path = make(tmp_path)
    line = assert_refused(invoke(["scenario", "validate", "-c", CONTRACT, str(path)]), fragment)
    assert len(line) < 400, line


@pytest.mark.parametrize(
    "name",
    ["scenarios/at-nan.yaml", "scenarios/users-huge.yaml", "scenarios/python-apply-tag.yaml", "scenarios/utf-16.yaml"],
    ids=lambda n: Path(n).stem,
)
def test_scenario_run_refuses_before_any_stack(tmp_path: Path, name: str) -> None:
    states = tmp_path / "state"
    outcome = invoke(
        ["scenario", "run", "-c", CONTRACT, "--report-dir", str(tmp_path / "reports"), str(HOSTILE / name)],
        env={"OBS_STATE_DIR": str(states)},
    )
    assert_refused(outcome, SCENARIOS[name])
    assert "scenario run —" not in outcome.stdout
    assert not states.exists() or not any(states.iterdir())
    assert not (tmp_path / "reports").exists()


def test_scenario_run_refuses_an_alias_bomb_before_any_stack(tmp_path: Path) -> None:
    bomb = _write(tmp_path, "bomb.yaml", alias_bomb())
    outcome = invoke(["scenario", "run", "-c", CONTRACT, "--report-dir", str(tmp_path / "r"), str(bomb)])
    assert_refused(outcome, "YAML aliases expand to more than 100,000 nodes")
    assert not (tmp_path / "r").exists()


# -- contracts: every command that reads one ------------------------------------------------------------

_COMMANDS: list[list[str]] = [
    ["lint", "--junit", "{tmp}/lint.xml", "-c"],
    ["check", "--report-dir", "{tmp}/reports", "-c"],
    ["up", "--state-dir", "{tmp}/state", "-c"],
    ["scenario", "validate", "-c"],
    ["scenario", "run", "--report-dir", "{tmp}/reports", "-c"],
    ["serve", "--lazy-stack", "--port", "0", "-c"],
    ["scenario", "list", "-c"],
]


def _contract_cases() -> list[Any]:
    cases = []
    for index, name in enumerate(sorted(CONTRACTS)):
        command = _COMMANDS[index % len(_COMMANDS)]
        cases.append(pytest.param(name, command, id=f"{Path(name).stem}-{command[0]}"))
    for command in _COMMANDS:  # the same NaN through every command
        cases.append(
            pytest.param("contracts/time-scale-nan.yaml", command, id=f"time-scale-nan-{'-'.join(command[:2])}")
        )
    return cases


@pytest.mark.parametrize(("name", "command"), _contract_cases())
def test_command_refuses_hostile_contract(tmp_path: Path, name: str, command: list[str]) -> None:
    args = [a.format(tmp=tmp_path) for a in command]
    outcome = invoke([*args, str(HOSTILE / name)])
    line = assert_refused(outcome, CONTRACTS[name])
    assert line.startswith(f"ContractInvalid: {HOSTILE / name}:"), line
    assert not (tmp_path / "state").exists() and not (tmp_path / "reports").exists()


@pytest.mark.parametrize("command", _COMMANDS, ids=lambda c: "-".join(c[:2]).strip("-"))
def test_command_refuses_alias_bomb_contract(tmp_path: Path, command: list[str]) -> None:
    bomb = _write(tmp_path, "obs.yaml", "version: 1\n" + alias_bomb().replace("a: &a", "jobs: &a", 1))
    outcome = invoke([*(a.format(tmp=tmp_path) for a in command), str(bomb)])
    assert_refused(outcome, f"{bomb}:7: YAML aliases expand to more than 100,000 nodes")


def test_health_refuses_hostile_contract_as_unknown(tmp_path: Path) -> None:
    outcome = invoke(
        [
            "health",
            "--prometheus-url",
            "http://127.0.0.1:9",
            "--contract",
            str(HOSTILE / "contracts/time-scale-nan.yaml"),
        ]
    )
    assert outcome.code == 3 and outcome.seconds < LIMIT
    first = outcome.stdout.splitlines()[0]
    assert first.startswith("HEALTH UNKNOWN: ") and CONTRACTS["contracts/time-scale-nan.yaml"] in first, first
    assert "Traceback" not in outcome.output


def test_every_hostile_contract_fixture_has_an_expectation() -> None:
    assert {f"contracts/{p.name}" for p in (HOSTILE / "contracts").iterdir()} == set(CONTRACTS)


# -- options ------------------------------------------------------------------------------------------

WEAK_TOKEN = "PLANTED-SECRET-7f3a"[:7] * 3  # 21 characters, 7 different ones
OPTIONS: list[Any] = [
    pytest.param(
        ["health", "--prometheus-url", "http://p:9090", "--timeout", "nan"],
        {},
        "'--timeout' (env var: 'OBS_TIMEOUT'): NaN is not a finite number — allowed: 0 < timeout ≤ 3600",
        3,
        id="health-timeout-nan",
    ),
    pytest.param(
        ["health", "--prometheus-url", "http://p:9090", "--timeout", "inf"],
        {},
        "infinity is not a finite number",
        3,
        id="health-timeout-inf",
    ),
    pytest.param(
        ["health", "--prometheus-url", "http://p:9090", "--stale-intervals", "1e309"],
        {},
        "infinity is not a finite number",
        3,
        id="health-stale-1e309",
    ),
    pytest.param(
        ["health", "--prometheus-url", "http://p:9090", "--slow-scrape-ratio", "80"],
        {},
        "80 is out of range — allowed: 0 < slow_scrape_ratio ≤ 1",
        3,
        id="health-ratio-percent",
    ),
    pytest.param(
        ["health", "--prometheus-url", "http://p:9090", "--window", "9" * 30 + "h"],
        {},
        "allowed: 1s ≤ window ≤ 7d",
        3,
        id="health-window-huge",
    ),
    pytest.param(
        ["health", "--prometheus-url", "http://p:9090"],
        {"OBS_TIMEOUT": "NaN"},
        "(env var: 'OBS_TIMEOUT'): NaN",
        3,
        id="health-env-nan",
    ),
    pytest.param(
        ["serve", "--lazy-stack", "--port", "70000"],
        {},
        "'--port' (env var: 'OBS_DASHBOARD_PORT'): 70000 is out of range — allowed: 0 ≤ port ≤ 65535",
        2,
        id="serve-port",
    ),
    pytest.param(["serve", "--lazy-stack", "--buffer", "nan"], {}, '"nan" is not an integer', 2, id="serve-buffer-nan"),
    pytest.param(
        ["serve", "--lazy-stack", "--time-scale", "nan"],
        {},
        "'--time-scale' (env var: 'OBS_TIME_SCALE'): NaN",
        2,
        id="serve-time-scale-nan",
    ),
    pytest.param(
        ["serve", "--lazy-stack", "--host", "0.0.0.0"],
        {"OBS_DASHBOARD_TOKEN": " " * 20},
        "OBS_DASHBOARD_TOKEN contains whitespace",
        2,
        id="serve-token-spaces",
    ),
    pytest.param(
        ["serve", "--lazy-stack", "--host", "0.0.0.0"],
        {"OBS_DASHBOARD_TOKEN": WEAK_TOKEN},
        "OBS_DASHBOARD_TOKEN is too easy to guess",
        2,
        id="serve-token-weak",
    ),
    pytest.param(
        ["serve", "--lazy-stack", "--host", "0.0.0.0"],
        {"OBS_DASHBOARD_TOKEN": SECRET * 2},
        "OBS_DASHBOARD_TOKEN is too easy to guess (a pattern",
        2,
        id="serve-token-never-shown",
    ),
    pytest.param(
        ["serve", "--lazy-stack", "-c", CONTRACT, "--grafana-url", f"http://admin:{SECRET}@grafana:99999"],
        {},
        "Grafana URL 'http://grafana:99999' has an invalid port",
        2,
        id="serve-grafana-url",
    ),
    pytest.param(
        ["check", "--time-scale", "nan"],
        {},
        "'--time-scale' (env var: 'OBS_TIME_SCALE'): NaN",
        2,
        id="check-time-scale-nan",
    ),
    pytest.param(
        ["check", "--scenario-stacks", "1e3"],
        {},
        '"1e3" is not an integer — allowed: 1 ≤ scenario_stacks ≤ 16',
        2,
        id="check-stacks-exponent",
    ),
    pytest.param(
        ["check", "-c", CONTRACT, "--prometheus-url", f"http://admin:{SECRET}@[::1"],
        {},
        "Prometheus URL 'http://[::1' is not valid",
        2,
        id="check-url-ipv6",
    ),
    pytest.param(
        ["check", "-c", CONTRACT, "--prometheus-url", f"http://admin:{SECRET}@prometheus:99999"],
        {},
        "Prometheus URL 'http://prometheus:99999' has an invalid port",
        2,
        id="check-url-port",
    ),
    pytest.param(
        ["check", "-c", CONTRACT, "--prometheus-url", "file:///etc/passwd"],
        {},
        "Prometheus URL 'file:///etc/passwd' is not valid",
        2,
        id="check-url-file",
    ),
    pytest.param(
        ["up", "--timeout", "nan"], {}, "'--timeout' (env var: 'OBS_STARTUP_TIMEOUT'): NaN", 2, id="up-timeout-nan"
    ),
    pytest.param(
        ["up", "--time-scale", "-1"],
        {},
        "-1 is out of range — allowed: 0 < time_scale ≤ 1",
        2,
        id="up-time-scale-negative",
    ),
    pytest.param(
        ["down", "--timeout", "inf"], {}, "'--timeout': infinity is not a finite number", 2, id="down-timeout-inf"
    ),
    pytest.param(
        ["scenario", "run", "--concurrency", "100000"],
        {},
        "100000 is out of range — allowed: 1 ≤ concurrency ≤ 64",
        2,
        id="run-concurrency",
    ),
    pytest.param(
        ["scenario", "run", "--stacks", "0"],
        {},
        "0 is out of range — allowed: 1 ≤ scenario_stacks ≤ 16",
        2,
        id="run-stacks-zero",
    ),
    pytest.param(
        ["scenario", "run"], {"OBS_TIME_SCALE": "inf"}, "(env var: 'OBS_TIME_SCALE'): infinity", 2, id="run-env-inf"
    ),
    pytest.param(
        ["scenario", "scale-rules", "--time-scale", "1e-400"],
        {},
        "0 is out of range — allowed: 0 < time_scale ≤ 1",
        2,
        id="scale-rules-underflow",
    ),
    pytest.param(
        ["scenario", "scale-rules", "--time-scale", "0.1", "--min-range", "nan"],
        {},
        "'--min-range': NaN",
        2,
        id="scale-rules-min-range",
    ),
]


def _harmless(args: list[str], tmp_path: Path) -> list[str]:
    """``args`` plus what keeps the command from doing anything real should the hostile option pass:
    a refused contract (no stack starts), a private state dir (``down`` stops nobody's stack), output in
    ``tmp_path``."""
    command = args[0] if args[0] != "scenario" else " ".join(args[:2])
    extra: list[str] = []
    if command in ("up", "down"):
        extra += ["--state-dir", str(tmp_path / "state")]
    if command in ("up", "check", "serve", "scenario run", "scenario scale-rules") and "-c" not in args:
        extra += ["-c", str(HOSTILE / "contracts" / "time-scale-nan.yaml")]
    if command in ("check", "scenario run"):
        extra += ["--report-dir", str(tmp_path / "reports")]
    if command == "scenario scale-rules":
        extra += ["-o", str(tmp_path / "build")]
    return [*args, *extra]


@pytest.mark.parametrize(("args", "env", "fragment", "code"), OPTIONS)
def test_cli_refuses_hostile_option(
    tmp_path: Path, args: list[str], env: dict[str, str], fragment: str, code: int
) -> None:
    outcome = invoke(_harmless(args, tmp_path), env)
    # health answers on stdout (the first line is what Nagios reads); the others on stderr
    line = assert_refused(outcome, fragment, code=code, stream="stdout" if args[0] == "health" else "stderr")
    assert line.startswith(("UsageError: ", "HEALTH UNKNOWN: UsageError: ")), line
    token = env.get("OBS_DASHBOARD_TOKEN", "").strip()
    assert not token or token not in outcome.output, outcome.output  # a token is never shown


# -- the REST API of obs-tests serve --------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real dashboard, no stack: one valid scenario, hostile ones, and an alias bomb."""
    root = tmp_path_factory.mktemp("hostile-dashboard")
    scenarios = scenario_dir(root / "scenarios")
    for name in ("at-nan", "python-apply-tag", "utf-16", "latin-1", "recursive-alias"):
        (scenarios / f"{name}.yaml").write_bytes((HOSTILE / "scenarios" / f"{name}.yaml").read_bytes())
    (scenarios / "bomb.yaml").write_text(alias_bomb())
    with serving(scenarios, root / "reports", extra=("--lazy-stack",)) as server:
        yield server


def _raw(server: Server, method: str, path: str, body: bytes | None, content_type: str) -> requests.Response:
    headers = {"Content-Type": content_type} if body is not None else {}
    return server.session.request(method, server.url + path, data=body, headers=headers, timeout=30)


def _body(text: str) -> bytes:
    return text.encode()


API: list[Any] = [
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "exchange-down", "time_scale": NaN}'),
        400,
        "time_scale: NaN is not a finite number — allowed: 0 < time_scale ≤ 1",
        id="run-nan",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "exchange-down", "time_scale": Infinity}'),
        400,
        "time_scale: infinity is not a finite number",
        id="run-infinity",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "exchange-down", "time_scale": -Infinity}'),
        400,
        "time_scale: -infinity is not a finite number",
        id="run-minus-infinity",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "exchange-down", "time_scale": 1e400}'),
        400,
        "time_scale: infinity is not a finite number",
        id="run-overflow",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "exchange-down", "time_scale": 1e300}'),
        400,
        "time_scale: 1e+300 is out of range — allowed: 0 < time_scale ≤ 1",
        id="run-huge",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "exchange-down", "time_scale": 0}'),
        400,
        "time_scale: 0 is out of range",
        id="run-zero",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "exchange-down", "time_scale": "NaN"}'),
        400,
        "time_scale: 'NaN' is not of type 'number', 'null'",
        id="run-nan-string",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "exchange-down", "time_scale": ' + "9" * 5000 + "}"),
        400,
        "request body is not valid JSON",
        id="run-5000-digits",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "exchange-down", "verbose": NaN}'),
        400,
        "verbose: nan is not of type 'boolean'",
        id="run-verbose-nan",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": NaN}'),
        400,
        "scenario: nan is not of type 'string'",
        id="run-scenario-nan",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "http://admin:' + SECRET + '@evil.example/x"}'),
        400,
        "scenario: 'http://evil.example/x' does not match",
        id="run-url-with-secret",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "../../obs"}'),
        400,
        "scenario: '../../obs' does not match",
        id="run-traversal",
    ),
    pytest.param(
        "POST", "/api/run", _body('{"scenario": "' + "a" * 5000 + '"}'), 400, "scenario: 'aaaaaaaa", id="run-long-name"
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "bomb"}'),
        422,
        "bomb.yaml:6: YAML aliases expand to more than 100,000 nodes",
        id="run-alias-bomb",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "at-nan"}'),
        422,
        "at-nan.yaml:10: chaos[0].at: NaN is not a finite number",
        id="run-nan-scenario",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "python-apply-tag"}'),
        422,
        "python-apply-tag.yaml:10: tag '!!python/object/apply:os.system' is not allowed",
        id="run-python-tag",
    ),
    pytest.param(
        "POST",
        "/api/run",
        _body('{"scenario": "recursive-alias"}'),
        422,
        "recursive-alias.yaml:13: alias *steps is used inside its own anchor",
        id="run-recursive-alias",
    ),
    pytest.param(
        "POST", "/api/run", _body('{"scenario": "utf-16"}'), 422, "utf-16.yaml:1: UTF-16 text", id="run-utf-16"
    ),
    pytest.param(
        "POST", "/api/run", b"[" * 30_000 + b"]" * 30_000, 400, "request body is not valid JSON", id="run-deep-body"
    ),
    pytest.param(
        "POST",
        "/api/run",
        b'\xff\xfe{"scenario": "exchange-down"}',
        400,
        "request body is not valid JSON",
        id="run-not-utf8",
    ),
    pytest.param(
        "POST",
        "/api/run",
        b'\xef\xbb\xbf{"scenario": "exchange-down", "time_scale": NaN}',
        400,
        "time_scale: NaN is not a finite number",
        id="run-bom-nan",
    ),
    pytest.param("POST", "/api/run", b" " * 70_000, 413, "request body of 70000 bytes — at most 65536", id="run-70-kb"),
    pytest.param(
        "POST",
        "/api/run",
        _body("scenario=exchange-down&time_scale=nan"),
        415,
        "send the body as application/json",
        id="run-form",
    ),
    pytest.param(
        "GET", "/api/runs?limit=NaN", None, 400, "limit: 'NaN' is not a non-negative integer", id="runs-limit-nan"
    ),
    pytest.param(
        "GET", "/api/runs?limit=1e3", None, 400, "limit: '1e3' is not a non-negative integer", id="runs-limit-exponent"
    ),
    pytest.param(
        "GET", "/api/runs?limit=" + "9" * 30, None, 400, "is not a non-negative integer", id="runs-limit-huge"
    ),
    pytest.param("GET", "/api/runs?limit=0", None, 400, "limit: 0 — must be between 1 and 500", id="runs-limit-zero"),
    pytest.param(
        "GET",
        "/api/stream?since=-1",
        None,
        400,
        "since: '-1' is not a non-negative integer",
        id="stream-since-negative",
    ),
    pytest.param(
        "GET", "/api/stream?since=inf", None, 400, "since: 'inf' is not a non-negative integer", id="stream-since-inf"
    ),
    pytest.param(
        "GET",
        "/api/stream?test_id=../../etc",
        None,
        400,
        "test_id: '../../etc' — test ids look like",
        id="stream-test-id",
    ),
    pytest.param(
        "GET",
        "/api/scenarios/..%2F..%2Fobs",
        None,
        400,
        'scenario name "../../obs" is not a file name',
        id="preview-traversal",
    ),
    pytest.param(
        "GET",
        "/api/scenarios/http:%2F%2Fadmin:" + SECRET + "@x",
        None,
        400,
        'scenario name "http://x" is not a file name',
        id="preview-url-secret",
    ),
    pytest.param("GET", "/api/status/NaN", None, 400, "test id 'NaN': test ids look like", id="status-nan"),
    pytest.param("GET", "/api/report/20200101-000000-abcdef.exe", None, 400, "report format 'exe'", id="report-format"),
    pytest.param("POST", "/api/stop/" + "9" * 400, None, 400, "test ids look like", id="stop-long-id"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "fragment"), API)
def test_api_refuses_hostile_request(
    dashboard: Server, method: str, path: str, body: bytes | None, status: int, fragment: str
) -> None:
    started = time.monotonic()
    form = body is not None and body.startswith(b"scenario=")
    response = _raw(dashboard, method, path, body, "application/x-www-form-urlencoded" if form else "application/json")
    seconds = time.monotonic() - started
    assert response.status_code == status, response.text
    assert seconds < LIMIT, f"took {seconds:.2f}s"
    doc = response.json()
    assert doc["status"] == status and "\n" not in doc["error"], doc
    assert fragment in doc["error"], doc["error"]
    assert SECRET not in response.text and "Traceback" not in response.text


def test_api_lists_hostile_scenarios_fast_each_with_its_line(dashboard: Server) -> None:
    started = time.monotonic()
    response = dashboard.get("/api/scenarios")
    assert time.monotonic() - started < LIMIT
    assert response.status_code == 200
    listed = {s["name"]: s for s in response.json()["scenarios"]}
    assert listed["exchange-down"]["valid"] is True
    assert listed["bomb"]["error"] == {
        "message": "bomb.yaml:6: YAML aliases expand to more than 100,000 nodes — obs-tests refuses alias bombs; "
        "write the data out or use fewer nested aliases",
        "line": 6,
    }
    for name in ("at-nan", "python-apply-tag", "utf-16", "latin-1", "recursive-alias"):
        assert listed[name]["valid"] is False and listed[name]["error"]["line"] is not None, listed[name]
    preview = dashboard.get("/api/scenarios/bomb")
    assert preview.status_code == 200 and preview.json()["error"]["line"] == 6


def test_api_stays_healthy_after_hostile_requests(dashboard: Server) -> None:
    for text in (
        '{"scenario": "exchange-down", "time_scale": NaN}',
        '{"scenario": "exchange-down", "time_scale": 1e400}',
    ):
        assert _raw(dashboard, "POST", "/api/run", _body(text), "application/json").status_code == 400
    info = dashboard.info()
    assert info["active_run"] is None and info["stack"]["state"] == "stopped"
    assert dashboard.get("/api/runs").json()["runs"] == []
    assert "Traceback" not in dashboard.output and "ERROR" not in dashboard.output


def test_docs_show_the_messages_the_commands_print(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/input-limits.md quotes the one line each example prints: it must be what they print today."""
    monkeypatch.chdir(ROOT)  # the examples name files relative to the repository
    text = (ROOT / "docs" / "input-limits.md").read_text(encoding="utf-8")
    examples = text.split("## Examples", 1)[1]
    commands = re.search(r"```sh\n(.*?)```", examples, re.DOTALL)
    printed = re.search(r"They print, in order:\n\n```\n(.*?)```", examples, re.DOTALL)
    assert commands is not None and printed is not None
    expected = printed.group(1).splitlines()
    lines = [line.split("  #", 1)[0].strip() for line in commands.group(1).splitlines() if line.strip()]
    assert len(lines) == len(expected)
    for line, message in zip(lines, expected, strict=True):
        env: dict[str, str] = {}
        words = line.split()
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        assert words[0] == "obs-tests"
        outcome = invoke(words[1:], env)
        assert message in outcome.output.splitlines(), f"{line}\n  docs:    {message}\n  printed: {outcome.output}"


def test_lint_reports_an_alias_bomb_rule_file_as_a_located_finding(tmp_path: Path) -> None:
    """A rule file is something lint judges: a bomb among them is an error finding (exit 1) at its line,
    found in milliseconds, and the other checks still run."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bomb.yml").write_text(alias_bomb())
    doc = yaml.safe_load((ROOT / "obs.yaml").read_text(encoding="utf-8"))
    doc["files"] = {
        "prometheus_config": str(ROOT / "prometheus/prometheus.yml"),
        "rules": [str(rules)],
        "rule_tests": str(tmp_path / "no-tests"),
        "alertmanager_config": str(ROOT / "alertmanager/alertmanager.yml"),
        "alertmanager_tests": str(ROOT / "alertmanager/tests"),
        "dashboards": str(ROOT / "grafana_dashboards"),
        "scenarios": str(tmp_path / "no-scenarios"),
    }
    contract = tmp_path / "obs.yaml"
    contract.write_text(yaml.safe_dump(doc))
    outcome = invoke(["lint", "-c", str(contract), "--junit", str(tmp_path / "lint.xml")])
    assert outcome.code == 1, outcome.output
    assert f"{rules / 'bomb.yml'}:6: YAML aliases expand to more than 100,000 nodes" in outcome.stdout
    assert "Traceback" not in outcome.output
