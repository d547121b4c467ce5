"""The whole health run against fake servers answering with recorded responses: green as recorded, and
each check fails — with a message naming what is wrong — when its input is broken."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest

from obs_tests.config.contract import load_contract
from obs_tests.config.validation import load_schema
from obs_tests.health import HealthReport, HealthSettings, Status, run_health
from obs_tests.health.prometheus_alerting import judge_alertmanagers
from obs_tests.health.prometheus_rules import judge_rules
from obs_tests.stack import ExternalStack

from .conftest import FakeApi, Route

ROOT = Path(__file__).resolve().parents[2]


def _run(prometheus: FakeApi, **kwargs: Any) -> HealthReport:
    report = run_health(HealthSettings(prometheus_url=prometheus.url, timeout=5.0, **kwargs))
    jsonschema.validate(report.to_json(), load_schema("health"))
    return report


def _check(report: HealthReport, name: str) -> tuple[Status, str]:
    [check] = [c for c in report.checks if c.name == name]
    return check.status, "\n".join([check.summary, *(str(p) for p in check.problems)])


def _targets(api: FakeApi) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = api.json("/api/v1/targets")["data"]["activeTargets"]
    return targets


def _groups(api: FakeApi) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = api.json("/api/v1/rules")["data"]["groups"]
    return groups


def _now(api: FakeApi) -> float:
    return float(api.queries["time()"]["result"][0])


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e9):09d}Z"


def test_recorded_healthy_prometheus_is_ok(prometheus: FakeApi) -> None:
    report = _run(prometheus, contract=load_contract(ROOT / "obs.yaml"))
    assert report.status is Status.OK, report.to_text()
    assert report.exit_code == 0
    assert report.summary_line().startswith("HEALTH OK: ")
    names = [c.name for c in report.checks]
    assert names[:3] == ["prometheus.api", "prometheus.targets", "prometheus.scrape_duration"]
    assert "pipeline.watchdog" in names
    assert _check(report, "prometheus.targets")[1].startswith("13/13 targets up in 10 jobs")


def test_requests_are_aggregate_and_read_only(prometheus: FakeApi) -> None:
    _run(prometheus)
    assert all(r.startswith("GET ") for r in prometheus.requests), prometheus.requests
    assert prometheus.requests.count("GET /api/v1/targets") == 1
    assert len(prometheus.requests) <= 33


def _down(api: FakeApi) -> None:
    gateway = next(t for t in _targets(api) if t["labels"]["job"] == "gateway")
    gateway["health"] = "down"
    gateway["lastError"] = 'Get "http://127.0.0.1:1/metrics": dial tcp 127.0.0.1:1: connect: connection refused'


def _unknown_health(api: FakeApi) -> None:
    _targets(api)[0]["health"] = "unknown"


def _no_agents(api: FakeApi) -> None:
    api.json("/api/v1/targets")["data"]["activeTargets"] = [t for t in _targets(api) if t["labels"]["job"] != "agents"]


def _no_targets(api: FakeApi) -> None:
    api.json("/api/v1/targets")["data"]["activeTargets"] = []


def _slow(api: FakeApi) -> None:
    next(t for t in _targets(api) if t["labels"]["job"] == "exchange")["lastScrapeDuration"] = 0.93


def _stale_one(api: FakeApi) -> None:
    next(t for t in _targets(api) if t["labels"]["job"] == "orchestrator")["lastScrape"] = _rfc3339(_now(api) - 42)


def _stale_all(api: FakeApi) -> None:
    for target in _targets(api):
        target["lastScrape"] = _rfc3339(_now(api) - 120)


def _no_up(api: FakeApi) -> None:
    api.set_query("newest_up_age", [])


def _old_up(api: FakeApi) -> None:
    api.set_query("newest_up_age", [{"metric": {}, "value": [0, "95.5"]}])


def _nothing_appended(api: FakeApi) -> None:
    api.set_query("samples_appended", [{"metric": {"instance": "p:9090"}, "value": [0, "0"]}])


def _no_self_scrape(api: FakeApi) -> None:
    api.set_query("self_series", [])


def _no_alertmanager(api: FakeApi) -> None:
    api.json("/api/v1/alertmanagers")["data"]["activeAlertmanagers"] = []


def _queue(value: str) -> Callable[[FakeApi], None]:
    def mutate(api: FakeApi) -> None:
        api.set_query("queue", [{"metric": {"instance": "p:9090"}, "value": [0, value]}])

    return mutate


def _dropped(api: FakeApi) -> None:
    api.set_query("dropped", [{"metric": {"instance": "p:9090"}, "value": [0, "17"]}])


def _send_errors(api: FakeApi) -> None:
    labels = {"instance": "p:9090", "alertmanager": "http://am:9093/api/v2/alerts"}
    api.set_query("notify_errors", [{"metric": labels, "value": [0, "4"]}])


def _rule_error(kind: str) -> Callable[[FakeApi], None]:
    def mutate(api: FakeApi) -> None:
        group = next(g for g in _groups(api) if any(r["type"] == kind for r in g["rules"]))
        rule = next(r for r in group["rules"] if r["type"] == kind)
        rule["health"] = "err"
        rule["lastError"] = "vector contains metrics with the same labelset after applying rule labels"

    return mutate


def _slow_group(api: FakeApi) -> None:
    _groups(api)[0]["evaluationTime"] = 1.7


def _stalled_group(api: FakeApi) -> None:
    _groups(api)[1]["lastEvaluation"] = _rfc3339(_now(api) - 30)


def _missed(api: FakeApi) -> None:
    api.set_query("missed_iterations", [{"metric": {"rule_group": "/etc/prometheus/x.yml;heavy"}, "value": [0, "3"]}])


def _failures(api: FakeApi) -> None:
    api.set_query("rule_failures", [{"metric": {"rule_group": "/etc/prometheus/y.yml;flaky"}, "value": [0, "2"]}])


def _group_not_loaded(api: FakeApi) -> None:
    api.json("/api/v1/rules")["data"]["groups"] = [g for g in _groups(api) if g["name"] != "pipeline"]


def _no_groups(api: FakeApi) -> None:
    api.json("/api/v1/rules")["data"]["groups"] = []


def _reload_failed(api: FakeApi) -> None:
    api.json("/api/v1/status/runtimeinfo")["data"]["reloadConfigSuccess"] = False


def _corruptions(api: FakeApi) -> None:
    api.json("/api/v1/status/runtimeinfo")["data"]["corruptionCount"] = 2


def _compactions_failed(api: FakeApi) -> None:
    api.set_query(
        "tsdb:prometheus_tsdb_compactions_failed_total", [{"metric": {"instance": "p:9090"}, "value": [0, "3"]}]
    )


def _watchdog_silent(api: FakeApi) -> None:
    alerts = api.json("/api/v1/alerts")["data"]
    alerts["alerts"] = [a for a in alerts["alerts"] if a["labels"]["alertname"] != "Watchdog"]


def _watchdog_gone(api: FakeApi) -> None:
    _watchdog_silent(api)
    for group in _groups(api):
        group["rules"] = [r for r in group["rules"] if r["name"] != "Watchdog"]


def _watchdog_pending(api: FakeApi) -> None:
    for alert in api.json("/api/v1/alerts")["data"]["alerts"]:
        if alert["labels"]["alertname"] == "Watchdog":
            alert["state"] = "pending"


def _not_ready(api: FakeApi) -> None:
    api.routes["/-/ready"] = Route(503, b"Service Unavailable", "text/plain")


def _query_fails(api: FakeApi) -> None:
    api.set_query("queue", [])
    from obs_tests.health.prometheus_state import queries  # noqa: PLC0415

    api.queries[queries("10m")["queue"]] = "ERROR"


CASES = [
    pytest.param(_down, "prometheus.targets", Status.CRITICAL, "job gateway: target 127.0.0.1:", id="target-down"),
    pytest.param(_down, "prometheus.targets", Status.CRITICAL, "connection refused", id="target-down-last-error"),
    pytest.param(_unknown_health, "prometheus.targets", Status.WARNING, "not scraped yet", id="target-unknown"),
    pytest.param(
        _no_agents,
        "prometheus.targets",
        Status.CRITICAL,
        "job agents: 0 active target(s), the contract expects 4",
        id="contract-job-missing",
    ),
    pytest.param(_no_targets, "prometheus.targets", Status.CRITICAL, "it scrapes nothing", id="no-targets"),
    pytest.param(_slow, "prometheus.scrape_duration", Status.WARNING, "took 0.930s, 93% of its 1s timeout", id="slow"),
    pytest.param(_stale_one, "prometheus.target_freshness", Status.WARNING, "last scraped 42.0s ago", id="stale-1"),
    pytest.param(_stale_all, "prometheus.target_freshness", Status.CRITICAL, "stopped scraping", id="stale-all"),
    pytest.param(_no_up, "prometheus.ingestion", Status.CRITICAL, "ingested nothing recently", id="no-samples"),
    pytest.param(_old_up, "prometheus.ingestion", Status.CRITICAL, "newest sample is 95.5s old", id="old-samples"),
    pytest.param(_nothing_appended, "prometheus.ingestion", Status.CRITICAL, "did not grow", id="no-appends"),
    pytest.param(_no_self_scrape, "prometheus.self_scrape", Status.WARNING, "does not scrape its own", id="no-self"),
    pytest.param(_no_alertmanager, "prometheus.alertmanagers", Status.CRITICAL, "go nowhere", id="no-am"),
    pytest.param(_queue("0.6"), "prometheus.notifications", Status.WARNING, "queue is 60% full", id="queue-warn"),
    pytest.param(_queue("0.95"), "prometheus.notifications", Status.CRITICAL, "queue is 95% full", id="queue-crit"),
    pytest.param(_dropped, "prometheus.notifications", Status.CRITICAL, "17 alert notifications dropped", id="dropped"),
    pytest.param(_send_errors, "prometheus.notifications", Status.WARNING, "4 failed send(s)", id="send-errors"),
    pytest.param(
        _rule_error("recording"), "prometheus.rules", Status.WARNING, "recording rule", id="recording-rule-error"
    ),
    pytest.param(
        _rule_error("alerting"), "prometheus.rules", Status.CRITICAL, "the alert cannot fire", id="alert-rule-error"
    ),
    pytest.param(_slow_group, "prometheus.rules", Status.WARNING, "falling behind", id="slow-group"),
    pytest.param(_stalled_group, "prometheus.rules", Status.WARNING, "the group is stalled", id="stalled-group"),
    pytest.param(
        _missed, "prometheus.rules", Status.WARNING, "group 'heavy' (x.yml): 3 evaluation(s) missed", id="missed"
    ),
    pytest.param(_failures, "prometheus.rules", Status.WARNING, "intermittent", id="intermittent-failures"),
    pytest.param(
        _group_not_loaded,
        "prometheus.rules",
        Status.CRITICAL,
        "group 'pipeline' (pipeline.yml): in the contract",
        id="group-not-loaded",
    ),
    pytest.param(_no_groups, "prometheus.rules", Status.CRITICAL, "no rule group loaded", id="no-groups"),
    pytest.param(_reload_failed, "prometheus.config_reload", Status.WARNING, "last config reload failed", id="reload"),
    pytest.param(_corruptions, "prometheus.tsdb", Status.WARNING, "2 corruption(s)", id="corruptions"),
    pytest.param(
        _compactions_failed, "prometheus.tsdb", Status.CRITICAL, "compactions_failed_total +3", id="compactions"
    ),
    pytest.param(_watchdog_silent, "pipeline.watchdog", Status.CRITICAL, "not firing", id="watchdog-silent"),
    pytest.param(_watchdog_gone, "pipeline.watchdog", Status.WARNING, "no alerting rule named", id="watchdog-no-rule"),
    pytest.param(_watchdog_pending, "pipeline.watchdog", Status.WARNING, "pending", id="watchdog-pending"),
    pytest.param(_not_ready, "prometheus.api", Status.CRITICAL, "not ready", id="not-ready"),
    pytest.param(_query_fails, "prometheus.notifications", Status.UNKNOWN, "query timed out", id="query-fails"),
]


@pytest.mark.parametrize(("mutate", "check", "status", "fragment"), CASES)
def test_check_fails_on_broken_input(
    prometheus: FakeApi, mutate: Callable[[FakeApi], None], check: str, status: Status, fragment: str
) -> None:
    healthy = _run(prometheus, contract=load_contract(ROOT / "obs.yaml"))
    assert _check(healthy, check)[0] is Status.OK
    mutate(prometheus)
    report = _run(prometheus, contract=load_contract(ROOT / "obs.yaml"))
    got, text = _check(report, check)
    assert got is status, text
    assert fragment in text
    assert report.status.rank >= status.rank
    assert f"{check}: " in report.summary_line()


def test_self_scrape_missing_skips_counter_checks(prometheus: FakeApi) -> None:
    _no_self_scrape(prometheus)
    report = _run(prometheus)
    [notifications] = [c for c in report.checks if c.name == "prometheus.notifications"]
    assert notifications.skipped == "Prometheus does not scrape itself"
    assert report.counts()["SKIPPED"] >= 1


def test_warn_only_reports_critical_as_warning(prometheus: FakeApi) -> None:
    _down(prometheus)
    report = _run(prometheus, warn_only=True)
    assert report.status is Status.CRITICAL
    assert report.reported_status is Status.WARNING
    assert report.exit_code == 1
    assert report.summary_line().startswith("HEALTH WARNING: 1 critical")
    assert "--warn-only" in report.summary_line()


def test_warn_only_keeps_unknown(prometheus: FakeApi) -> None:
    _query_fails(prometheus)
    assert _run(prometheus, warn_only=True).exit_code == 3


def _contract(tmp_path: Path, alertmanager: str) -> Any:
    path = tmp_path / "obs.yaml"
    path.write_text(
        f"version: 1\nstack: {{alertmanager: {alertmanager}}}\njobs:\n  - {{name: prometheus, instances: 1}}\n"
    )
    return load_contract(path)


def test_no_alertmanager_declared_is_not_applicable(prometheus: FakeApi, tmp_path: Path) -> None:
    """Defect 5: with stack.alertmanager: null, a Prometheus without an Alertmanager is what was declared."""
    _no_alertmanager(prometheus)
    report = _run(prometheus, contract=_contract(tmp_path, "null"))
    [check] = [c for c in report.checks if c.name == "prometheus.alertmanagers"]
    assert check.status is Status.OK
    assert check.skipped == "not applicable: the contract declares no Alertmanager (stack.alertmanager: null)"
    assert report.status is Status.OK, report.to_text()


def test_notifications_dropped_with_no_alertmanager_declared_are_not_an_outage(
    prometheus: FakeApi, tmp_path: Path
) -> None:
    """Prometheus drops every notification when it sends to no Alertmanager: with none declared, that is
    what was declared, not a CRITICAL "alerts never reached anyone" (found on a stack without one)."""
    _no_alertmanager(prometheus)
    _dropped(prometheus)
    report = _run(prometheus, contract=_contract(tmp_path, "null"))
    [check] = [c for c in report.checks if c.name == "prometheus.notifications"]
    assert check.skipped is not None and check.skipped.startswith("not applicable: Prometheus sends to no Alertmanager")
    assert report.status is Status.OK, report.to_text()
    # (with an Alertmanager configured the same drops stay CRITICAL: the "dropped" case above)


def test_no_alertmanager_without_anyone_asking_is_a_warning(prometheus: FakeApi) -> None:
    _no_alertmanager(prometheus)
    status, text = _check(_run(prometheus), "prometheus.alertmanagers")
    assert status is Status.WARNING
    assert "go nowhere — configure alerting.alertmanagers, or give a contract with stack.alertmanager: null" in text


def test_no_alertmanager_when_one_is_asked_for_is_critical(prometheus: FakeApi, tmp_path: Path) -> None:
    _no_alertmanager(prometheus)
    status, _ = _check(_run(prometheus, contract=_contract(tmp_path, "http://am:9093")), "prometheus.alertmanagers")
    assert status is Status.CRITICAL
    assert judge_alertmanagers({"activeAlertmanagers": []}, wanted=True).status is Status.CRITICAL


def test_groups_of_a_prometheus_rule_manifest_are_found_by_name() -> None:
    groups = [
        {"name": "redis-exporter", "file": "/etc/prometheus/rules/prometheus-0/monitoring-redis.yaml", "rules": []}
    ]
    ok = judge_rules(groups, 0.0, expected_groups=[("", "redis-exporter")])
    assert ok.status is Status.OK, ok.problems
    missing = judge_rules(groups, 0.0, expected_groups=[("", "prometheus-notifications")])
    assert missing.status is Status.CRITICAL
    assert "group 'prometheus-notifications' (a PrometheusRule manifest): in the contract" in str(missing.problems[0])


def _rename_watchdog(api: FakeApi, name: str) -> None:
    """The pack calls its always-firing rule something else (as community packs do)."""
    for group in _groups(api):
        for rule in group["rules"]:
            if rule["name"] == "Watchdog":
                rule["name"] = name
                rule["query"] = "vector(1)"
                for alert in rule.get("alerts") or []:
                    alert["labels"]["alertname"] = name
    for alert in api.json("/api/v1/alerts")["data"]["alerts"]:
        if alert["labels"]["alertname"] == "Watchdog":
            alert["labels"]["alertname"] = name


def test_an_always_firing_rule_of_another_name_is_the_watchdog(prometheus: FakeApi) -> None:
    _rename_watchdog(prometheus, "PrometheusAlwaysFiring")
    status, text = _check(_run(prometheus), "pipeline.watchdog")
    assert status is Status.OK, text
    assert text == (
        "PrometheusAlwaysFiring firing in Prometheus (no rule named Watchdog; PrometheusAlwaysFiring always fires: "
        "expr vector(1))"
    )
    # it is judged like the watchdog: loaded but not firing is a broken pipeline
    _watchdog_silent(prometheus)
    alerts = prometheus.json("/api/v1/alerts")["data"]
    alerts["alerts"] = [a for a in alerts["alerts"] if a["labels"]["alertname"] != "PrometheusAlwaysFiring"]
    status, text = _check(_run(prometheus), "pipeline.watchdog")
    assert status is Status.CRITICAL
    assert "alert PrometheusAlwaysFiring: the rule is loaded but the alert is not firing" in text
    # a name given on purpose is looked for as given
    status, text = _check(_run(prometheus, watchdog_alert="DeadMansSwitch"), "pipeline.watchdog")
    assert status is Status.WARNING and "no alerting rule named DeadMansSwitch" in text


def _last_grew(api: FakeApi, name: str, labels: dict[str, str], ago: float) -> None:
    api.set_query(name, [{"metric": labels, "value": [0, str(_now(api) - ago)]}])


@pytest.mark.parametrize(
    ("mutate", "last", "labels", "check", "ongoing", "recovered"),
    [
        pytest.param(
            _dropped,
            "dropped_last",
            {"instance": "p:9090"},
            "prometheus.notifications",
            (Status.CRITICAL, "17 alert notifications dropped in the last 10m (no Alertmanager accepted them"),
            (Status.WARNING, "17 alert notifications dropped in the last 10m, the last 300s ago ("),
            id="dropped",
        ),
        pytest.param(
            _send_errors,
            "notify_errors_last",
            {"instance": "p:9090", "alertmanager": "http://am:9093/api/v2/alerts"},
            "prometheus.notifications",
            (Status.WARNING, "in the last 10m — is that Alertmanager up and reachable?"),
            (Status.WARNING, "4 failed send(s) from Prometheus p:9090 in the last 10m, the last 300s ago ("),
            id="send-errors",
        ),
        pytest.param(
            _missed,
            "missed_iterations_last",
            {"rule_group": "/etc/prometheus/x.yml;heavy"},
            "prometheus.rules",
            (Status.WARNING, "3 evaluation(s) missed in the last 10m — the group falls behind its interval"),
            (Status.WARNING, "3 evaluation(s) missed in the last 10m, the last 300s ago ("),
            id="missed",
        ),
    ],
)
def test_an_incident_that_ended_in_the_window_is_reported_as_recovered(
    prometheus: FakeApi,
    mutate: Callable[[FakeApi], None],
    last: str,
    labels: dict[str, str],
    check: str,
    ongoing: tuple[Status, str],
    recovered: tuple[Status, str],
) -> None:
    """A 10-second Alertmanager pause kept health CRITICAL for the whole 10-minute window ("19 alert
    notifications dropped"): growth that stopped long enough ago is a recovered incident, with when it ended;
    growth seen at the last self-scrapes (or of unknown time) is still going on."""
    mutate(prometheus)
    status, text = _check(_run(prometheus), check)
    assert (status, ongoing[1] in text) == (ongoing[0], True), text
    assert "recovered" not in text
    _last_grew(prometheus, last, labels, ago=2.0)
    status, text = _check(_run(prometheus), check)
    assert (status, ongoing[1] in text) == (ongoing[0], True), text
    _last_grew(prometheus, last, labels, ago=300.0)
    report = _run(prometheus)
    status, text = _check(report, check)
    assert (status, recovered[1] in text) == (recovered[0], True), text
    assert "UTC), none since — recovered" in text
    [problem] = next(c for c in report.checks if c.name == check).problems
    assert problem.fields["ended_seconds_ago"] == 300
    # another series' growth says nothing about this one's
    _last_grew(prometheus, last, {**labels, "instance": "other:9090"}, ago=300.0)
    assert _check(_run(prometheus), check)[0] is ongoing[0]


def test_last_increase_queries_run_on_prometheus_syntax() -> None:
    """The ``*_last`` subqueries parse (promtool checks the expression inside a rule)."""
    import subprocess  # noqa: PLC0415

    from obs_tests.health.prometheus_state import queries  # noqa: PLC0415

    rules = "groups:\n  - name: q\n    rules:\n" + "".join(
        f"      - record: q:{name.removesuffix('_last')}:last\n        expr: '{expr}'\n"
        for name, expr in queries("10m").items()
        if name.endswith("_last")
    )
    path = ROOT / ".pytest-health-last.yml"
    try:
        path.write_text(rules)
        result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False)
    finally:
        path.unlink(missing_ok=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_settings_of_a_stack_name_every_replica_and_peer() -> None:
    """On an HA stack the health run reads every other replica and peer, each named by its component."""
    external = ExternalStack("http://127.0.0.1:9090", "http://127.0.0.1:9093")
    single = HealthSettings.of_stack(external, window=30.0)
    assert (single.prometheus_replicas, single.alertmanager_peers, single.window) == ((), (), 30.0)
    assert single.member_names == {"http://127.0.0.1:9090": "prometheus", "http://127.0.0.1:9093": "alertmanager"}
    ha = SimpleNamespace(
        prometheus_url="http://p1",
        alertmanager_url="http://a1",
        contract=None,
        components=["prometheus", "prometheus-2", "alertmanager", "alertmanager-2", "alertmanager-3", "gateway"],
        url=lambda name: f"http://{name}",
    )
    settings = HealthSettings.of_stack(ha)  # type: ignore[arg-type]
    assert settings.prometheus_replicas == ("http://prometheus-2",)
    assert settings.alertmanager_peers == ("http://alertmanager-2", "http://alertmanager-3")
    assert settings.member_names["http://alertmanager-3"] == "alertmanager-3"
    assert "http://gateway" not in settings.member_names
