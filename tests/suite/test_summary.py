"""The terminal summary of `obs-tests check`: which line to read first when a target is down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from obs_tests.suite import summary
from obs_tests.suite.summary import SummaryCollector


def _outcome(family: str, name: str, outcome: str, said: str = "") -> summary.TestOutcome:
    return summary.TestOutcome(f"obs_tests/suite/test_{family}.py::{name}", family, name, outcome, 0.1, said)


def test_a_target_down_is_the_line_to_start_with() -> None:
    """node_exporter stopped: ~57 checks fail (freshness, presence, selectors) beside the one naming it."""
    collector = SummaryCollector()
    collector.outcomes += [
        _outcome("targets", "test_job_targets_up[node]", "failed", "node: 0/1 targets up (127.0.0.1:9100)"),
        _outcome("targets", "test_job_targets_up[redis]", "passed", "redis: 1/1 targets up (127.0.0.1:9121)"),
        _outcome("metrics", "test_metric_fresh[node_load1]", "failed"),
        _outcome("rules", "test_rule_selectors_match_live[HostHighLoad]", "failed"),
    ]
    assert collector.start_with() == (
        "Start with the targets: node: 0/1 targets up (127.0.0.1:9100) — the checks of what a target down "
        "exports fail with it (2 more failed)"
    )


def test_nothing_to_start_with_without_a_target_down_or_other_failures() -> None:
    collector = SummaryCollector()
    collector.outcomes += [_outcome("rules", "test_rule_lint", "failed")]
    assert collector.start_with() == ""
    collector.outcomes = [_outcome("targets", "test_job_targets_up[node]", "failed", "node: 0/1 targets up")]
    assert collector.start_with() == ""  # its own FAIL line says it all


def _report(name: str, properties: list[tuple[str, object]]) -> pytest.TestReport:
    nodeid = f"obs_tests/suite/test_load.py::{name}"
    return pytest.TestReport(
        nodeid, ("", 0, name), {}, "passed", None, "call", user_properties=properties, duration=3.0
    )


def test_a_checks_details_are_printed_under_its_line_and_kept_in_the_json(tmp_path: Path) -> None:
    table = ["Locust: 460 requests in 4.1s", "name  reqs", "signal  414"]
    collector = SummaryCollector()
    collector.pytest_runtest_logreport(
        _report("test_accounting_under_load", [("summary", "460 requests"), ("details", table)])
    )
    collector.pytest_runtest_logreport(_report("test_latency_histogram_matches_locust", [("summary", "p50 ok")]))
    lines = collector.lines()
    assert lines[0] == "  PASS  load: 460 requests\n" + "\n".join(f"          {line}" for line in table)
    assert lines[1] == "  PASS  load: p50 ok"
    collector.write_json(tmp_path / "summary.json")
    written = json.loads((tmp_path / "summary.json").read_text())
    assert [t["details"] for t in written["tests"]] == [table, []]


def _run_selected(tmp_path: Path, *selection: str) -> tuple[SummaryCollector, int | pytest.ExitCode]:
    module = tmp_path / f"test_selected_{tmp_path.name.replace('-', '_')}.py"  # a name of its own per run
    module.write_text("import pytest\n\n@pytest.mark.slow\ndef test_slow():\n    pass\n\ndef test_quick():\n    pass\n")
    collector = SummaryCollector()
    code = pytest.main([str(module), "-q", "-p", "no:cacheprovider", *selection], plugins=[collector])
    return collector, code


def test_the_checks_a_selection_leaves_out_are_counted_and_kept_in_the_json(tmp_path: Path) -> None:
    collector, code = _run_selected(tmp_path, "-m", "not slow")
    assert (code, collector.deselected, collector.selection_error) == (pytest.ExitCode.OK, 1, "")
    assert [o.name for o in collector.outcomes] == ["test_quick"]
    collector.write_json(tmp_path / "summary.json")
    assert json.loads((tmp_path / "summary.json").read_text())["deselected"] == 1


@pytest.mark.parametrize(
    ("selection", "said"),
    [
        pytest.param(("-m", "slow and"), "Wrong expression passed to '-m': slow and", id="marker-expression"),
        pytest.param(("-k", "quick or ("), "Wrong expression passed to '-k': quick or (", id="keyword-expression"),
    ],
)
def test_a_selection_pytest_refuses_is_kept_with_its_reason(
    tmp_path: Path, selection: tuple[str, ...], said: str
) -> None:
    collector, code = _run_selected(tmp_path, *selection)
    assert code == pytest.ExitCode.USAGE_ERROR
    assert collector.selection_error.startswith(said)
    assert collector.outcomes == [] and collector.deselected == 0
