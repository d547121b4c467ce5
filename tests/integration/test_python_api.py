"""The Python API examples of docs/stack.md, run as written: ``EmbeddedStack(contract)`` takes the contract's time
scale like every command, so the notification example's ``within=30`` holds (at 1.0, ``GatewayDown``'s
``for: 1m`` alone would exceed it)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.stack import EmbeddedStack

from .helpers import CONTRACT, ROOT

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def _python_block(containing: str) -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "docs" / "stack.md").read_text(), flags=re.S | re.M)
    [block] = [b for b in blocks if containing in b]
    return str(block)


def test_the_python_api_defaults_to_the_contracts_time_scale() -> None:
    contract = load_contract(CONTRACT)
    assert contract.stack.time_scale == 0.01
    assert EmbeddedStack(contract).time_scale == contract.stack.time_scale
    assert EmbeddedStack(contract, time_scale=1.0).time_scale == 1.0


def test_the_stack_docs_stack_and_notification_examples_run_as_written() -> None:
    api = _python_block("from obs_tests.stack import EmbeddedStack")
    notify = _python_block("wait_for_notification(")
    program = api + textwrap.indent(notify, "    ") + '    print("notified:", note["labels"]["alertname"])\n'
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notified: GatewayDown" in result.stdout
    assert re.search(r"^gateway \d+ \d+ running True", result.stdout, flags=re.M), result.stdout
