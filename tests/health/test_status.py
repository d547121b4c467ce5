from __future__ import annotations

import math

import jsonschema
import pytest

from obs_tests.config.validation import load_schema
from obs_tests.health.status import CheckResult, HealthReport, Problem, Status, worst


def _check(name: str, status: Status, summary: str = "fine") -> CheckResult:
    problems = [] if status is Status.OK else [Problem(status, "thing", summary)]
    return CheckResult.judge(name, "prometheus", "fine", problems)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param([], Status.OK, id="none"),
        pytest.param([Status.OK, Status.WARNING], Status.WARNING, id="warning"),
        pytest.param([Status.WARNING, Status.UNKNOWN], Status.UNKNOWN, id="unknown-over-warning"),
        pytest.param([Status.UNKNOWN, Status.CRITICAL, Status.WARNING], Status.CRITICAL, id="critical-over-unknown"),
    ],
)
def test_worst_orders_ok_warning_unknown_critical(statuses: list[Status], expected: Status) -> None:
    assert worst(statuses) is expected


def test_judge_names_the_most_severe_problem_first() -> None:
    result = CheckResult.judge(
        "prometheus.rules",
        "prometheus",
        "all good",
        [Problem(Status.WARNING, "group 'a'", "slow"), Problem(Status.CRITICAL, "group 'b'", "broken")],
    )
    assert result.status is Status.CRITICAL
    assert result.summary == "group 'b': broken (+1 more)"
    assert [p.subject for p in result.problems] == ["group 'b'", "group 'a'"]


def test_summary_line_counts_problems_and_perfdata() -> None:
    report = HealthReport(
        [
            _check("prometheus.targets", Status.CRITICAL, "target down | really"),
            _check("prometheus.rules", Status.WARNING, "slow"),
            _check("prometheus.api", Status.OK),
            CheckResult.skip("prometheus.notifications", "prometheus", "no self-scrape"),
        ],
        duration=0.1234,
    )
    line = report.summary_line()
    assert line.startswith("HEALTH CRITICAL: 1 critical, 1 warning, 1 ok, 1 skipped — prometheus.targets: thing: ")
    assert "target down / really" in line  # a '|' would start the performance data
    assert line.count("|") == 1
    assert line.endswith("| duration_seconds=0.123")
    assert "\n" not in line
    assert report.to_text().splitlines()[1].startswith("CRITICAL  prometheus.targets")
    assert report.to_text().splitlines()[-1].startswith("SKIP      prometheus.notifications")


def test_json_document_is_valid_and_non_finite_numbers_are_null() -> None:
    check = CheckResult("prometheus.ingestion", "prometheus", Status.OK, "ok", metrics={"rate": math.inf})
    document = HealthReport([check]).to_json()
    jsonschema.validate(document, load_schema("health"))
    assert document["checks"][0]["metrics"] == {"rate": None}
    assert document["counts"] == {"OK": 1, "WARNING": 0, "CRITICAL": 0, "UNKNOWN": 0, "SKIPPED": 0}


def test_schema_rejects_a_wrong_document() -> None:
    document = HealthReport([_check("prometheus.api", Status.OK)]).to_json()
    document["status"] = "FINE"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, load_schema("health"))
