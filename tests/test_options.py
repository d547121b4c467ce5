"""``Number``, the click type of every numeric option: finite and in range, or a usage error naming the range."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from obs_tests.commands.options import TIME_SCALE, TIMEOUT, Number


@click.command()
@click.option("--timeout", type=TIMEOUT, default=10.0)
@click.option("--count", type=Number(int, minimum=1, maximum=16), default=1)
@click.option("--time-scale", type=TIME_SCALE, default=None)
def command(timeout: float, count: int, time_scale: float | None) -> None:
    click.echo(f"{timeout!r} {count!r} {time_scale!r}")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["--timeout", "nan"], "'--timeout': NaN is not a finite number — allowed: 0 < timeout ≤ 3600", id="nan"
        ),
        pytest.param(["--timeout", "-inf"], "-infinity is not a finite number", id="minus-inf"),
        pytest.param(["--timeout", "Infinity"], "infinity is not a finite number", id="infinity"),
        pytest.param(["--timeout", "0"], "0 is out of range — allowed: 0 < timeout ≤ 3600", id="zero"),
        pytest.param(["--timeout", "1e300"], "1e+300 is out of range", id="huge"),
        pytest.param(["--timeout", "ten"], '"ten" is not a number', id="word"),
        pytest.param(["--count", "1.5"], '"1.5" is not an integer — allowed: 1 ≤ count ≤ 16', id="fraction"),
        pytest.param(["--count", "100000000000"], "100000000000 is out of range", id="count-huge"),
        pytest.param(["--time-scale", "1.01"], "allowed: 0 < time_scale ≤ 1", id="scale"),
    ],
)
def test_number_option_refuses_with_the_range(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param([], "10.0 1 None", id="defaults"),
        pytest.param(["--timeout", "3600", "--count", "16", "--time-scale", "1"], "3600.0 16 1.0", id="upper"),
        pytest.param(["--timeout", " 0.25 ", "--count", "1", "--time-scale", "1e-3"], "0.25 1 0.001", id="lower"),
    ],
)
def test_number_option_accepts_the_range(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == expected


def test_number_describes_its_range() -> None:
    assert TIMEOUT.allowed("timeout") == "0 < timeout ≤ 3600"
    assert Number(float).allowed() == "any finite number"
    assert repr(Number(int, minimum=1, maximum=16)) == "Number(int, 1 ≤ x ≤ 16)"
