"""Every stack is a :class:`Stack`: mypy proves it (``obs_tests/stack/__init__.py`` assigns each class to
``type[Stack]``, and ``make lint`` fails on a missing or mistyped member); here, at run time, each has every
member, and what an external stack cannot do it refuses with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.errors import ControlUnavailable
from obs_tests.stack import ComposeStack, ExternalStack, Stack

ROOT = Path(__file__).resolve().parents[2]


def _stacks() -> list[object]:
    """The stacks that answer without servers (a started embedded stack: tests/integration/test_embedded_stack.py)."""
    contract = load_contract(ROOT / "obs.yaml")
    return [
        ExternalStack("http://127.0.0.1:9090", "http://127.0.0.1:9093"),
        ComposeStack(contract, compose_file=ROOT / "docker-compose.yml", client=object()),
    ]


@pytest.mark.parametrize("stack", _stacks(), ids=lambda s: type(s).__name__)
def test_every_stack_is_a_stack(stack: object) -> None:
    assert isinstance(stack, Stack)


def test_something_that_is_not_a_stack_is_not() -> None:
    class UrlsOnly:
        prometheus_url = "http://127.0.0.1:9090"

    assert not isinstance(UrlsOnly(), Stack)


def test_an_external_stack_runs_as_written_and_refuses_faults() -> None:
    stack: Stack = ExternalStack("http://127.0.0.1:9090")
    assert stack.time_scale == 1.0 and stack.load_targets is None and not stack.controllable
    assert set(stack.components) == {"prometheus"}
    assert stack.heal() == []
    with pytest.raises(ControlUnavailable, match="cannot kill 'gateway': this stack is reached by URL"):
        stack.kill("gateway")


#: the modules that hold a stack: they use the protocol, never probe what a stack has
SEAM = ["scenarios/runner.py", "scenarios/lanes.py", "chaos/faults.py", "chaos/controller.py", "web/runs.py"]


@pytest.mark.parametrize("module", SEAM)
def test_no_module_holding_a_stack_probes_it(module: str) -> None:
    text = (ROOT / "obs_tests" / module).read_text(encoding="utf-8")
    for probe in ("hasattr(", "getattr(", "stack: Any", "backend: Any"):
        assert probe not in text, f"obs_tests/{module} uses {probe} — use a member of obs_tests.stack.protocol.Stack"


def test_only_the_embedded_stack_lets_a_fault_change_a_replicas_configuration() -> None:
    external, compose = _stacks()
    with pytest.raises(
        ControlUnavailable, match="cannot change the configuration of 'prometheus': this stack is reached"
    ):
        external.config_file("prometheus")  # type: ignore[attr-defined]
    with pytest.raises(ControlUnavailable, match="on a compose stack \\(mounted read-only\\)"):
        compose.config_file("prometheus")  # type: ignore[attr-defined]
