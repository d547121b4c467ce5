"""The suite's order: checks on the session's stack first, stack-free checks next, the chaos module last
(so the session's stack can be lent to the scenario pool while the stack-free checks run)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from obs_tests.suite.conftest import pytest_collection_modifyitems


def _item(name: str, module: str, *fixtures: str) -> Any:
    return SimpleNamespace(name=name, path=Path("obs_tests/suite") / module, fixturenames=list(fixtures))


def test_stack_checks_then_stack_free_then_chaos() -> None:
    items = [
        _item("config_valid", "test_rules.py", "contract"),
        _item("routing_live", "test_alerting.py", "stack", "prom"),
        _item("scenario[a]", "test_chaos.py", "stack", "mock_system"),
        _item("rule_unit_tests", "test_rules.py", "contract", "rule_files"),
        _item("coverage", "test_chaos.py", "contract"),
        _item("selectors_live", "test_rules.py", "stack", "prom"),
    ]
    pytest_collection_modifyitems(cast(pytest.Config, None), items)
    assert [i.name for i in items] == [
        "routing_live",
        "selectors_live",
        "config_valid",
        "rule_unit_tests",
        "scenario[a]",
        "coverage",
    ]
