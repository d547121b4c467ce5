"""``obs-tests health`` against the real embedded stack: OK when healthy; CRITICAL naming a killed target
or a stopped Alertmanager; WARNING for a slow exporter, a failing recording rule, a failed config reload
and a missing watchdog; UNKNOWN for an unreachable Prometheus. Every fault is undone in a ``finally``."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator

import jsonschema
import pytest

from obs_tests.clients.services import ServiceClient
from obs_tests.config.contract import load_contract
from obs_tests.config.validation import load_schema
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.demo.workload import wait_scraped_after
from obs_tests.health import HealthReport, HealthSettings, Status, run_health
from obs_tests.stack import EmbeddedStack

from .helpers import CONTRACT, ROOT, obs_tests

pytestmark = [pytest.mark.stack, pytest.mark.slow]

#: short enough that counters from faults of earlier tests in the session (a stopped Alertmanager) age out
WINDOW = "20s"


def _health(stack: EmbeddedStack, *args: str) -> tuple[int, str]:
    result = obs_tests(
        "health",
        "--prometheus-url",
        stack.prometheus_url,
        "--contract",
        str(CONTRACT),
        "--window",
        WINDOW,
        *args,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    out = result.stdout + result.stderr
    assert "Traceback" not in out
    return result.returncode, result.stdout


def _settings(stack: EmbeddedStack, **kwargs: object) -> HealthSettings:
    options: dict[str, object] = {"window": 20.0, **kwargs}
    return HealthSettings(
        prometheus_url=stack.prometheus_url,
        alertmanager_url=stack.alertmanager_url,
        contract=stack.contract,
        **options,  # type: ignore[arg-type]
    )


def _wait_status(stack: EmbeddedStack, check: str, status: Status, timeout: float = 30, **kwargs: object) -> None:
    """Wait until ``check`` has ``status`` (in-process runs; the CLI is asserted afterwards)."""

    def probe() -> Poll[HealthReport]:
        report = run_health(_settings(stack, **kwargs))
        got = next((c for c in report.checks if c.name == check), None)
        seen = f"{check}: {got.status.name if got else 'absent'} ({got.summary if got else ''})"
        return Poll(got is not None and got.status is status, report, seen)

    wait_for(probe, timeout=timeout, interval=0.25, expected=f"{check} {status.name}", bound="1-2 scrape intervals")


def test_healthy_stack_is_ok(stack: EmbeddedStack) -> None:
    stack.heal()
    wait_for(
        lambda: Poll((r := run_health(_settings(stack))).status is Status.OK, r, r.summary_line()),
        timeout=45,
        interval=0.25,
        expected="a healthy stack to be judged OK",
        bound=f"faults of earlier tests age out of the {WINDOW} window",
    )
    code, out = _health(stack, "--alertmanager-url", str(stack.alertmanager_url))
    assert code == 0, out
    first = out.splitlines()[0]
    assert first.startswith("HEALTH OK: 16 ok |"), out
    assert "Watchdog firing in Prometheus and received by Alertmanager" in out
    code, out = _health(stack, "--alertmanager-url", str(stack.alertmanager_url), "--format", "json")
    document = json.loads(out)
    jsonschema.validate(document, load_schema("health"))
    assert document["status"] == "OK"
    assert document["perfdata"]["targets_down"] == 0
    assert document["duration_seconds"] < 2


def test_killed_gateway_is_critical_naming_the_target(stack: EmbeddedStack) -> None:
    instance = stack.url("gateway").removeprefix("http://")
    try:
        stack.kill("gateway")
        _wait_status(stack, "prometheus.targets", Status.CRITICAL)
        code, out = _health(stack)
        assert code == 2, out
        first = out.splitlines()[0]
        assert first.startswith("HEALTH CRITICAL: 1 critical")
        assert f"job gateway: target {instance} (service=gateway) is DOWN" in first
        assert "connection refused" in first
        code, out = _health(stack, "--warn-only")
        assert code == 1, out
        assert out.startswith("HEALTH WARNING: 1 critical")
    finally:
        stack.start("gateway")
        stack.heal()


def test_slow_exporter_is_a_warning(stack: EmbeddedStack) -> None:
    admin = ServiceClient(stack.url("exchange"))
    try:
        admin.patch_faults({"metrics_delay_ms": 450})
        _wait_status(stack, "prometheus.scrape_duration", Status.WARNING, slow_scrape_ratio=0.3)
        code, out = _health(stack, "--slow-scrape-ratio", "0.3")
        assert code == 1, out
        assert "prometheus.scrape_duration: job exchange: target " in out.splitlines()[0]
        assert "of its 1s timeout" in out
    finally:
        admin.clear_faults()
        wait_scraped_after(stack.prometheus(), ["exchange"], time.time())


def test_missing_watchdog_rule_is_a_warning(stack: EmbeddedStack) -> None:
    code, out = _health(stack, "--watchdog-alert", "NoSuchWatchdog")
    assert code == 1, out
    assert "pipeline.watchdog: alert NoSuchWatchdog: no alerting rule named NoSuchWatchdog is loaded" in out


def test_unreachable_prometheus_is_critical(closed_port: int) -> None:
    result = obs_tests("health", "--prometheus-url", f"http://127.0.0.1:{closed_port}", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stdout.startswith(
        f"HEALTH CRITICAL: 1 critical, 0 ok — prometheus.api: PrometheusUnreachable: cannot connect to Prometheus at "
        f"http://127.0.0.1:{closed_port}: connection refused"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_stopped_alertmanager_is_critical_naming_it(stack: EmbeddedStack) -> None:
    url = str(stack.alertmanager_url)
    try:
        stack.stop("alertmanager")
        _wait_status(stack, "prometheus.targets", Status.CRITICAL)
        code, out = _health(stack, "--alertmanager-url", url)
        assert code == 2, out
        first = out.splitlines()[0]
        assert f"alertmanager.api: AlertmanagerUnreachable: cannot connect to Alertmanager at {url}" in first
        assert "job alertmanager: target " in out
    finally:
        stack.start("alertmanager")
        stack.heal()


def test_an_alertmanager_outage_that_ended_is_a_recovered_incident(stack: EmbeddedStack) -> None:
    """Issue 17: after a short Alertmanager outage health stayed CRITICAL for the whole window ("N alert
    notifications dropped"). On the real Prometheus: CRITICAL while the drops go on, then a WARNING saying
    when they ended — within the same window, long before the drops age out of it."""
    try:
        stack.stop("alertmanager")
        _wait_status(stack, "prometheus.notifications", Status.CRITICAL, window=120.0)
    finally:
        stack.start("alertmanager")
        stack.heal()
    _wait_status(stack, "prometheus.notifications", Status.WARNING, window=120.0)
    code, out = _health(stack, "--window", "120s", "--format", "json")
    assert code == 1, out
    document = json.loads(out)
    [check] = [c for c in document["checks"] if c["name"] == "prometheus.notifications"]
    assert check["status"] == "WARNING", out
    [problem] = [p for p in check["problems"] if "dropped" in p]
    assert "alert notifications dropped in the last 2m, the last " in problem["message"]
    assert "none since — recovered" in problem["message"]
    assert 0 < problem["ended_seconds_ago"] < 60
    assert all(p["status"] == "WARNING" and "recovered" in p["message"] for p in check["problems"]), out


BROKEN_RULES = """groups:
  - name: duplicate-series
    rules:
      - record: obs:up:by_job
        expr: sum by (job) (up)
        labels: {job: flattened}
"""


@pytest.fixture(scope="module")
def broken_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """A stack of this module's own whose rules include a recording rule that fails every evaluation."""
    root = tmp_path_factory.mktemp("broken-rules")
    for name in ("prometheus", "alertmanager", "runbooks", "grafana_dashboards"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, root / name)
    shutil.copy(CONTRACT, root / "obs.yaml")
    (root / "prometheus" / "rules" / "broken.yml").write_text(BROKEN_RULES)
    with EmbeddedStack(load_contract(root / "obs.yaml")) as stack:
        yield stack


def test_rule_evaluation_error_names_the_group(broken_stack: EmbeddedStack) -> None:
    _wait_status(broken_stack, "prometheus.rules", Status.WARNING)
    code, out = _health(broken_stack, "--contract", str(broken_stack.contract.source))
    assert code == 1, out
    first = out.splitlines()[0]
    assert "prometheus.rules: group 'duplicate-series' (" in first
    assert (
        "broken.yml): recording rule obs:up:by_job: health err: vector contains metrics with the same labelset" in first
    )


def test_failed_config_reload_is_a_warning(broken_stack: EmbeddedStack) -> None:
    rule_file = broken_stack.rule_files[0]
    original = rule_file.read_text()
    prom = broken_stack.prometheus()
    try:
        rule_file.write_text(original + "\n  - this is: [not a rule group\n")
        with pytest.raises(Exception, match="HTTP 500"):
            prom.reload()
        _wait_status(broken_stack, "prometheus.config_reload", Status.WARNING)
        code, out = _health(broken_stack, "--contract", str(broken_stack.contract.source), "--format", "json")
        document = json.loads(out)
        jsonschema.validate(document, load_schema("health"))
        checks = {c["name"]: c for c in document["checks"]}
        assert checks["prometheus.config_reload"]["status"] == "WARNING"
        assert "the last config reload failed" in checks["prometheus.config_reload"]["summary"]
        # A reload, even a failed one, restarts service discovery: for up to ~5 s Prometheus has no
        # Alertmanager, and alerts due then are dropped — health reports either or both, as CRITICAL,
        # and the one-line summary then names those first.
        critical = sorted(name for name, c in checks.items() if c["status"] == "CRITICAL")
        assert set(critical) <= {"prometheus.alertmanagers", "prometheus.notifications"}, critical
        assert code == (2 if critical else 1), out
        if critical:
            assert document["summary"].startswith(f"HEALTH CRITICAL: {len(critical)} critical"), document["summary"]
            assert all(f"{name}: " in document["summary"] for name in critical), document["summary"]
        else:
            assert "prometheus.config_reload: configuration: the last config reload failed" in document["summary"]
    finally:
        rule_file.write_text(original)
        prom.reload()
        _wait_status(broken_stack, "prometheus.config_reload", Status.OK)
