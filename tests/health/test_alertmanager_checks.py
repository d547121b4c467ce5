"""Alertmanager health: green as recorded; each check fails on a broken Alertmanager."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from obs_tests.clients.prometheus import Sample, Target
from obs_tests.health import HealthReport, HealthSettings, Status, run_health
from obs_tests.health.alertmanager_checks import judge_am_notifications

from .conftest import FakeApi, Route


def _run(prometheus: FakeApi, alertmanager_url: str) -> HealthReport:
    return run_health(HealthSettings(prometheus_url=prometheus.url, alertmanager_url=alertmanager_url, timeout=2.0))


def _check(report: HealthReport, name: str) -> tuple[Status, str]:
    [check] = [c for c in report.checks if c.name == name]
    return check.status, "\n".join([check.summary, *(str(p) for p in check.problems)])


def test_recorded_alertmanager_is_ok(prometheus: FakeApi, alertmanager: FakeApi) -> None:
    report = _run(prometheus, alertmanager.url)
    assert report.status is Status.OK, report.to_text()
    assert _check(report, "alertmanager.api")[1].startswith("Alertmanager 0.25.0 at http://127.0.0.1:")
    assert _check(report, "alertmanager.cluster")[1] == "clustering disabled (a single instance)"
    assert _check(report, "pipeline.watchdog")[1] == "Watchdog firing in Prometheus and received by Alertmanager"


def _not_ready(api: FakeApi) -> None:
    api.routes["/-/ready"] = Route(503, b"not ready", "text/plain")


def _settling(api: FakeApi) -> None:
    api.json("/api/v2/status")["cluster"] = {"status": "settling", "peers": [{"name": "a", "address": "x:9094"}]}


def _no_receivers(api: FakeApi) -> None:
    api.routes["/api/v2/receivers"] = Route(body=[])


def _watchdog_not_received(api: FakeApi) -> None:
    api.routes["/api/v2/alerts"] = Route(body=[])
    api.json("/api/v2/status")["uptime"] = "2026-01-01T00:00:00.000Z"


def _watchdog_not_received_yet(api: FakeApi) -> None:
    api.routes["/api/v2/alerts"] = Route(body=[])  # recorded: Alertmanager started seconds before


CASES = [
    pytest.param(_not_ready, "alertmanager.api", Status.CRITICAL, "not ready", id="not-ready"),
    pytest.param(
        _settling, "alertmanager.cluster", Status.WARNING, "cluster status 'settling' with 1 peer", id="settling"
    ),
    pytest.param(_no_receivers, "alertmanager.receivers", Status.CRITICAL, "no receiver", id="no-receivers"),
    pytest.param(
        _watchdog_not_received, "pipeline.watchdog", Status.CRITICAL, "does not have it", id="watchdog-not-received"
    ),
    pytest.param(
        _watchdog_not_received_yet,
        "pipeline.watchdog",
        Status.WARNING,
        "not yet in Alertmanager",
        id="watchdog-not-received-after-restart",
    ),
]


@pytest.mark.parametrize(("mutate", "check", "status", "fragment"), CASES)
def test_alertmanager_check_fails_on_broken_input(
    prometheus: FakeApi,
    alertmanager: FakeApi,
    mutate: Callable[[FakeApi], None],
    check: str,
    status: Status,
    fragment: str,
) -> None:
    assert _check(_run(prometheus, alertmanager.url), check)[0] is Status.OK
    mutate(alertmanager)
    got, text = _check(_run(prometheus, alertmanager.url), check)
    assert got is status, text
    assert fragment in text


def test_stopped_alertmanager_is_critical(prometheus: FakeApi, closed_port: int) -> None:
    report = _run(prometheus, f"http://127.0.0.1:{closed_port}")
    status, text = _check(report, "alertmanager.api")
    assert status is Status.CRITICAL
    assert f"cannot connect to Alertmanager at http://127.0.0.1:{closed_port}: connection refused" in text
    assert report.exit_code == 2


@pytest.mark.parametrize(
    ("route", "fragment"),
    [
        pytest.param(Route(200, b"<html>Grafana</html>", "text/html"), "answered HTML", id="html"),
        pytest.param(Route(200, {"hello": "world"}), "is this URL really Alertmanager", id="json-not-am"),
        pytest.param(Route(401, b"no", "text/plain"), "refused our credentials", id="401"),
    ],
)
def test_not_an_alertmanager_is_unknown(
    prometheus: FakeApi, serve: Callable[[FakeApi], FakeApi], route: Route, fragment: str
) -> None:
    fake = serve(FakeApi(routes={"/-/ready": Route(body=b"OK", content_type="text/plain"), "/api/v2/status": route}))
    report = _run(prometheus, fake.url)
    status, text = _check(report, "alertmanager.api")
    assert status is Status.UNKNOWN
    assert fragment in text


def _vector(rows: list[tuple[str, float]]) -> list[Sample]:
    return [Sample({"instance": "am:9093", "integration": name}, value, 0.0) for name, value in rows]


@pytest.mark.parametrize(
    ("failed", "total", "status", "fragment"),
    [
        pytest.param([("webhook", 0)], [("webhook", 12)], Status.OK, "12 notifications", id="none-failed"),
        pytest.param([("webhook", 3)], [("webhook", 12)], Status.WARNING, "3 of 12 notifications failed", id="some"),
        pytest.param([("email", 5)], [("email", 5)], Status.CRITICAL, "every one: nobody is being notified", id="all"),
    ],
)
def test_failing_notifications(
    failed: list[tuple[str, float]], total: list[tuple[str, float]], status: Status, fragment: str
) -> None:
    result = judge_am_notifications(_vector(failed), _vector(total), "10m", scraped=True, alertmanager_given=True)
    assert result.status is status
    assert fragment in result.summary


@pytest.mark.parametrize(("given", "status"), [(True, Status.WARNING), (False, Status.OK)])
def test_alertmanager_not_scraped(given: bool, status: Status) -> None:
    result = judge_am_notifications([], [], "10m", scraped=False, alertmanager_given=given)
    assert result.status is status
    assert ("does not scrape Alertmanager" in result.summary) is given
    assert (result.skipped is not None) is not given


def _target(job: str, instance: str, health: str) -> Target:
    return Target(job, instance, health, {"job": job}, f"http://{instance}/metrics", "", None, 0.0, 15.0, 10.0)


def test_an_alertmanager_whose_scrape_is_down_is_not_called_unscraped() -> None:
    """Alertmanager paused: its counters go stale; the job exists, its target is down — it said 'Prometheus
    does not scrape Alertmanager … add a scrape job'."""
    down = [_target("alertmanager", "127.0.0.1:9093", "down"), _target("node", "127.0.0.1:9100", "up")]
    result = judge_am_notifications(
        [], [], "10m", scraped=False, alertmanager_given=True, targets=down, alertmanager_url="http://127.0.0.1:9093"
    )
    assert result.skipped == (
        "not judged now: Prometheus cannot scrape Alertmanager (job alertmanager target 127.0.0.1:9093 is down), "
        "so its notification counters are stale"
    )
    # found by address when the job has another name
    by_address = [_target("am-main", "127.0.0.1:9093", "down")]
    result = judge_am_notifications(
        [], [], "10m", scraped=False, alertmanager_given=True, targets=by_address,
        alertmanager_url="http://user:pw@127.0.0.1:9093",
    )  # fmt: skip
    assert result.skipped is not None and "job am-main target 127.0.0.1:9093 is down" in result.skipped
    # no such job at all: the scrape job is missing, as before
    missing = judge_am_notifications(
        [], [], "10m", scraped=False, alertmanager_given=True, targets=[_target("node", "127.0.0.1:9100", "up")]
    )
    assert "does not scrape Alertmanager" in missing.summary and missing.status is Status.WARNING


def test_failing_notifications_through_the_run(prometheus: FakeApi, alertmanager: FakeApi) -> None:
    rows: list[dict[str, Any]] = [{"metric": {"instance": "am:9093", "integration": "webhook"}, "value": [0, "4"]}]
    prometheus.set_query("am_failed", rows)
    prometheus.set_query("am_total", rows)
    status, text = _check(_run(prometheus, alertmanager.url), "alertmanager.notifications")
    assert status is Status.CRITICAL
    assert "integration webhook (am:9093): 4 of 4 notifications failed in the last 10m" in text
