"""obs_tests/suite/test_chaos.py on a stack of yours: scenario coverage is not applicable there."""

from __future__ import annotations

from pathlib import Path

from tests.suite.conftest import run_check


def test_scenario_coverage_is_not_applicable_on_a_prometheus_of_yours(foreign: Path, recorded_prometheus: str) -> None:
    """Defect 3: no scenario can run against a Prometheus by URL: skipped with the reason, and the report
    says not applicable instead of 0/N alerts exercised."""
    code, out, report = run_check(foreign, recorded_prometheus, "test_every_alert_has_a_scenario")
    assert code == 0, out
    assert (
        "SKIP  chaos: alerts exercised by scenarios: not applicable — the chaos scenarios inject faults into the "
        "embedded stack's components"
    ) in out
    alerts = report["coverage"]["alerts"]  # type: ignore[index]
    assert "this run checks a Prometheus of yours" in alerts["not_applicable"]
    assert (
        "0/" not in (Path(foreign) / "reports" / "summary.md").read_text().split("alerts exercised")[1].split("\n")[0]
    )
