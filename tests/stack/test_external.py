"""A stack reached by URL: URLs normalised once, unknown components named, every process fault refused with
the way to get one."""

from __future__ import annotations

import pytest

from obs_tests.errors import ControlUnavailable, UnknownComponent, UsageError
from obs_tests.stack.external import ExternalStack


def test_urls_are_normalised_and_optional_ones_absent() -> None:
    stack = ExternalStack("http://prom:9090/", grafana_url="http://grafana:3000")
    assert stack.prometheus_url == "http://prom:9090"
    assert stack.alertmanager_url is None
    assert stack.url("grafana") == "http://grafana:3000"
    assert stack.prometheus().base_url == "http://prom:9090"
    assert not stack.controllable


def test_an_unknown_component_names_what_was_given() -> None:
    stack = ExternalStack("http://prom:9090", "http://am:9093")
    with pytest.raises(UnknownComponent, match="no URL for 'gateway' — this stack was given: prometheus, alertmanager"):
        stack.url("gateway")


@pytest.mark.parametrize("action", ["kill", "stop", "pause", "resume", "start", "restart"])
def test_process_faults_are_refused_with_the_fix(action: str) -> None:
    stack = ExternalStack("http://prom:9090")
    with pytest.raises(ControlUnavailable, match=f"cannot {action} 'gateway': .*use the embedded stack"):
        getattr(stack, action)("gateway")


def test_a_bad_url_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        ExternalStack("prom:9090")
