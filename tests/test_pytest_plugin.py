"""The plugin's own options are checked like the CLI's: a number out of range is a usage error."""

from __future__ import annotations

from typing import Any

import pytest

from obs_tests.pytest_plugin import scenario_stacks


class _Config:
    def __init__(self, value: str) -> None:
        self.value = value

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.value if name == "--obs-scenario-stacks" else default


@pytest.mark.parametrize("text", ["0", "17", "1000", "nan", "1e3", "-1", "2.5"])
def test_scenario_stacks_out_of_range_is_a_usage_error(text: str) -> None:
    with pytest.raises(pytest.UsageError, match=r"--obs-scenario-stacks .*: a whole number of stacks, 1 to 16"):
        scenario_stacks(_Config(text))  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("16", 16), (" 4 ", 4)])
def test_scenario_stacks_in_range(text: str, value: int) -> None:
    assert scenario_stacks(_Config(text)) == value  # type: ignore[arg-type]
