"""The tree stays readable: every module has a test module mirroring its path (``obs_tests/stack/probes.py`` ↔
``tests/stack/test_probes.py``) or names, with its reason, the test module that covers it; and no module
grows past ~500 lines — those above it today are listed with their size, which may only shrink — and no
function past 60."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "obs_tests"

#: module -> (the test module covering it, a name that test uses, why it is not a mirrored test module)
TESTED_ELSEWHERE: dict[str, tuple[str, str, str]] = {
    "scenarios/event_session.py": (
        "tests/integration/test_bot_scenarios.py",
        "EventSession",
        "it needs the bot on a live NATS: every bot scenario run there sets one up and takes it down",
    ),
    "scenarios/standalone.py": (
        "tests/integration/test_bot_scenarios.py",
        "test_the_standalone_python_api_starts_its_own_stack",
        "a runner given no stack starts one: only a live run shows it",
    ),
    "chaos/faults.py": (
        "tests/chaos/test_controller.py",
        "obs_tests.chaos.faults",
        "each fault through its controller",
    ),
    "clients/services.py": ("tests/integration/test_metric_checks.py", "ServiceClient", "the live mock services"),
    "commands/health.py": ("tests/health/test_command.py", '"health"', "with the health package's tests"),
    "commands/init.py": ("tests/commands/test_starter.py", '"init"', "with the starter it drives"),
    "commands/lint.py": ("tests/suite/test_static.py", '"lint"', "with the lint it drives"),
    "commands/options.py": ("tests/test_options.py", "obs_tests.commands.options", "shared by every command"),
    "commands/scenario.py": ("tests/test_cli.py", '"scenario"', "the CLI's tests run each command"),
    "commands/serve.py": ("tests/web/test_serve_cli.py", '"serve"', "with the web package's tests"),
    "commands/stack.py": ("tests/integration/test_cli_stack.py", '"status"', "up/status/down need real stacks"),
    "core/findings.py": ("tests/config/test_policy.py", "obs_tests.core.findings", "findings are judged by the policy"),
    "health/prometheus_alerting.py": (
        "tests/health/test_run.py",
        "judge_alertmanagers",
        "whole runs on recorded APIs",
    ),
    "health/prometheus_rules.py": ("tests/health/test_run.py", "judge_rules", "whole runs on recorded APIs"),
    "health/prometheus_server.py": ("tests/health/test_run.py", '"prometheus.api"', "whole runs on recorded APIs"),
    "health/prometheus_targets.py": ("tests/health/test_run.py", '"prometheus.targets"', "whole runs on recorded APIs"),
    "health/recency.py": ("tests/health/test_run.py", "recovered", "through the judges reading it, in whole runs"),
    "health/prometheus_state.py": ("tests/health/test_run.py", "prometheus_state", "whole runs on recorded APIs"),
    "health/settings.py": ("tests/health/test_run.py", "HealthSettings", "whole runs on recorded APIs"),
    "reports/junit.py": ("tests/config/test_policy.py", "junit", "written with the findings it reports"),
    "clients/webhook_sink.py": (
        "tests/integration/test_alerting_probes.py",
        "wait_for_notification",
        "a live webhook sink",
    ),
    "scenarios/bounds.py": ("tests/scenarios/test_races.py", "bounds", "the race check is its user"),
    "scenarios/record.py": ("tests/integration/test_chaos.py", "obs_tests.scenarios.record", "records a live run"),
    "demo/__main__.py": ("tests/demo/test_main.py", "__main__", "a module named __main__"),
    "suite/config_lint.py": ("tests/suite/test_static.py", '"routing"', "`obs-tests lint` on broken configs"),
    "suite/lint_report.py": ("tests/config/test_policy.py", "lint_report", "its sections judged under the policy"),
    "suite/rule_lint.py": ("tests/suite/test_static.py", '"rule lint"', "`obs-tests lint` on broken configs"),
    "stack/components.py": ("tests/stack/test_render.py", "components", "rendered into the configs"),
    "stack/containers.py": ("tests/chaos/test_controller.py", "ComposeBackend", "docker SDK calls, with the faults"),
    "stack/embedded.py": ("tests/integration/test_embedded_stack.py", "EmbeddedStack", "starts real servers"),
    "clients/tools.py": ("tests/rules/test_rulefiles.py", "obs_tests.clients.tools", "promtool runs on rule files"),
    "web/app.py": ("tests/web/test_api.py", "/api/", "the API over HTTP"),
    "web/runs.py": ("tests/web/test_stream.py", "obs_tests.web.runs", "runs publish to the stream"),
}

#: modules over ~500 lines today, with their size: they may shrink, never grow (issue 18 splits them)
LONG: dict[str, int] = {}
MAX_LINES = 500


def _modules() -> list[str]:
    return sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
        and "__pycache__" not in path.parts
        and not (path.parent.name == "suite" and (path.name.startswith("test_") or path.name == "conftest.py"))
    )


def _mirror(module: str) -> Path:
    path = Path(module)
    return ROOT / "tests" / path.parent / f"test_{path.name}"


@pytest.mark.parametrize("module", _modules())
def test_every_module_has_its_test_module_or_a_reason(module: str) -> None:
    if module not in TESTED_ELSEWHERE:
        assert _mirror(module).is_file(), (
            f"obs_tests/{module} has no test module: add {_mirror(module).relative_to(ROOT)}, or name the test "
            "module covering it in TESTED_ELSEWHERE with the reason"
        )
        return
    test, name, reason = TESTED_ELSEWHERE[module]
    assert reason
    assert not _mirror(module).is_file(), f"obs_tests/{module} has its mirrored test module now: drop its entry"
    assert name in (ROOT / test).read_text(), f"{test} does not use {name}: the entry for obs_tests/{module} is stale"


def test_no_entry_names_a_module_that_is_gone() -> None:
    assert set(TESTED_ELSEWHERE) <= set(_modules())
    assert set(LONG) <= set(_modules())


@pytest.mark.parametrize("module", _modules())
def test_no_module_grows_past_its_size(module: str) -> None:
    lines = len((PACKAGE / module).read_text().splitlines())
    limit = LONG.get(module, MAX_LINES)
    assert lines <= limit, (
        f"obs_tests/{module}: {lines} lines, over {limit} — split it by concern (aim ≤ {MAX_LINES})"
        if module not in LONG
        else f"obs_tests/{module}: {lines} lines, it may only shrink from {limit}"
    )


#: the only modules at the package root: its face, the command line and the error tree
ROOT_MODULES = {"__init__.py", "cli.py", "errors.py"}


def test_every_module_lives_in_a_package_that_names_its_concern() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ROOT_MODULES)
    assert not loose, f"modules at the root of obs_tests/: {loose} — move each into the package of its concern"


def test_module_names_are_unique() -> None:
    seen: dict[str, list[str]] = {}
    for module in _modules():
        name = Path(module).name
        if name not in ("__main__.py",):
            seen.setdefault(name, []).append(module)
    twice = {name: where for name, where in seen.items() if len(where) > 1}
    assert not twice, f"one name, two modules (rename one for what it does): {twice}"


MAX_FUNCTION_LINES = 60


def _long_functions(modules: dict[str, str]) -> list[str]:
    """``module: function (N lines)`` for every function (methods, nested ones) over the limit."""
    long = []
    for module, text in modules.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"obs_tests/{module}: {node.name} ({lines} lines)")
    return long


def test_no_function_is_longer_than_60_lines() -> None:
    long = _long_functions({module: (PACKAGE / module).read_text(encoding="utf-8") for module in _modules()})
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines — cut each into well-named helpers: {long}"


def test_a_function_of_61_lines_is_named() -> None:
    method = ["    async def long(self):", *(f"        x{i} = {i}" for i in range(59)), "        return 0"]
    text = "\n".join(["class C:", "    def fine(self):", "        return 1", *method, ""])
    assert _long_functions({"a.py": text}) == ["obs_tests/a.py: long (61 lines)"]
