"""The variables a dashboard's queries filter job and instance on, read from the queries whatever they are
called and however the matcher is written."""

from __future__ import annotations

import pytest

from obs_tests.checks.dashboards_lint import lint_dashboard
from obs_tests.checks.label_filters import filter_variables
from tests.checks.dashboard_helpers import with_queries


@pytest.mark.parametrize(
    "matcher",
    [
        pytest.param('instance=~"$node"', id="regex"),
        pytest.param('instance="$node:9100"', id="with-port"),
        pytest.param('instance=~"${node}"', id="braces"),
        pytest.param('instance=~"[[node]]"', id="old-syntax"),
    ],
)
def test_the_instance_variable_is_the_one_the_queries_filter_instance_on(matcher: str) -> None:
    """Defect 8: a `$node` variable every query filters instance on was reported as "no 'instance' variable"."""
    dashboard = with_queries(f'node_load1{{{matcher}, job="$job"}}', f'node_load5{{job="$job", {matcher}}}')
    assert lint_dashboard(dashboard) == []
    assert filter_variables(dashboard) == {"job": ("job",), "instance": ("node",)}


def test_a_variable_named_like_the_start_of_another_is_another_variable() -> None:
    # $nodename is another variable than $node
    other = with_queries('node_load1{instance=~"$nodename", job="$job"}', variables=("job", "node", "nodename"))
    assert filter_variables(other)["instance"] == ("nodename",)
