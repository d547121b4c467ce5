"""The contract's expected-empty declarations that name no dashboard, panel or query are findings."""

from __future__ import annotations

from obs_tests.checks.empty_declarations import check_expectations
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.dashboards.dashboard_json import dashboard_files, load_dashboard
from tests.checks.dashboard_helpers import BUNDLED


def test_stale_declarations_are_findings() -> None:
    dashboards = [load_dashboard(p) for p in dashboard_files(BUNDLED)]
    findings = check_expectations(
        dashboards,
        [
            ExpectedEmpty("obs-gateway", "NATS publish failure", "typo"),
            ExpectedEmpty("obs-nope", "x", "gone"),
            ExpectedEmpty("obs-load", "Locust users", "wrong ref", "Z"),
            ExpectedEmpty("gateway.json", "NATS publish failures", "by file name is fine"),
        ],
    )
    messages = [f"{f.subject}: {f.message}" for f in findings]
    assert messages[0] == (
        "dashboards.expected_empty[0]: dashboard 'obs-gateway' has no panel 'NATS publish failure' "
        "(did you mean 'NATS publish failures'?)"
    )
    assert messages[1].startswith("dashboards.expected_empty[1]: no dashboard 'obs-nope' — known: obs-agents")
    assert messages[2] == "dashboards.expected_empty[2]: panel 'Locust users' has no query 'Z' — its queries: A"
    assert len(messages) == 3
