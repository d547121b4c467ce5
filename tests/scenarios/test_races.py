from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from obs_tests.checks.routing_live import settings_from_config
from obs_tests.config.contract import load_contract
from obs_tests.errors import ScenarioInvalid
from obs_tests.rules.rulefiles import load_rule_files
from obs_tests.scenarios.bounds import FileTiming
from obs_tests.scenarios.model import Catalog, load_scenario, load_scenarios
from obs_tests.scenarios.races import find_races

ROOT = Path(__file__).resolve().parents[2]
RACES = ROOT / "tests" / "fixtures" / "races"
HOMELAB = RACES / "homelab"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_contract(load_contract(ROOT / "obs.yaml"))


@pytest.fixture(scope="module")
def homelab() -> Catalog:
    return Catalog.from_contract(load_contract(HOMELAB / "obs.yaml"))


def _validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "obs_tests.cli", "scenario", "validate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_validate_flags_the_scenario_that_made_check_red() -> None:
    done = _validate(str(RACES / "stalled-consumer-racy.yaml"))
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert f"{RACES / 'stalled-consumer-racy.yaml'}:14: steps[3] (revert: orchestrator-hangs)" in line
    assert "before NATSConsumerLag notified" in line
    assert "up to 3.0s after firing: max(group_wait 1s, group_interval 2s) + evaluation 1s" in line
    assert "Add 'wait_for_notification: {alert: NATSConsumerLag" in line
    assert "[revert-before-notification]" in line
    assert "Traceback" not in done.stderr


def test_validate_passes_the_fixed_scenario() -> None:
    done = _validate(str(RACES / "stalled-consumer-fixed.yaml"))
    assert done.returncode == 0, done.stderr
    assert "ok (stalled-consumer-fixed)" in done.stdout


def test_validate_checks_every_file_and_reports_each_race() -> None:
    done = _validate("--contract", str(HOMELAB / "obs.yaml"))
    assert done.returncode == 2
    assert "ok (redis-held)" in done.stdout and "ok (redis-time-hold)" in done.stdout
    rules = sorted(line.rsplit("[", 1)[1].rstrip("]") for line in done.stderr.strip().splitlines())
    assert rules == ["deadline-below-bound", "revert-before-firing", "revert-before-notification"]


@pytest.mark.parametrize(
    ("name", "rules"),
    [
        pytest.param("redis-blip", ["revert-before-notification"], id="duration-shorter-than-fire-and-notify"),
        pytest.param("redis-no-wait", ["revert-before-firing"], id="revert-before-any-observation"),
        pytest.param("redis-timed", ["deadline-below-bound"], id="notification-step-shorter-than-bound"),
        pytest.param("redis-held", [], id="held-until-notified"),
        pytest.param("redis-time-hold", [], id="held-longer-than-the-bound"),
    ],
)
def test_races_on_a_stack_with_production_timings(homelab: Catalog, name: str, rules: list[str]) -> None:
    assert homelab.timing is not None
    path = HOMELAB / "scenarios" / f"{name}.yaml"
    if not rules:
        load_scenario(path, homelab)
        return
    with pytest.raises(ScenarioInvalid) as info:
        load_scenario(path, homelab)
    found = [line.rsplit("[", 1)[1].rstrip("]") for line in str(info.value).splitlines()]
    assert found == rules
    assert str(info.value).startswith(f"{path}:")


def test_production_timings_make_the_notification_bound(homelab: Catalog) -> None:
    assert homelab.timing is not None
    b = homelab.timing.bounds("RedisInstanceDown")
    assert b is not None
    # no routing test names its receiver: the largest timings of the route tree are the upper bound
    assert (b.group_wait, b.group_interval, b.evaluation_interval) == (30.0, 300.0, 15.0)
    assert b.notify() == 315.0
    assert b.fire() == 15 + 15 + 15 + 0
    high_load = homelab.timing.bounds("HostHighLoad")
    assert high_load is not None and high_load.for_seconds == 600


def test_routing_tests_pick_the_receivers_timings(catalog: Catalog) -> None:
    assert catalog.timing is not None
    watchdog = catalog.timing.bounds("Watchdog")
    gateway = catalog.timing.bounds("GatewayDown")
    assert watchdog is not None and gateway is not None
    assert (watchdog.group_wait, watchdog.group_interval) == (0.0, 5.0)
    assert (gateway.group_wait, gateway.group_interval) == (1.0, 2.0)


def test_file_timing_scales_for_and_windows_like_the_stack(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n"
        "  - name: g\n"
        "    rules:\n"
        "      - record: job:errors:rate5m\n"
        "        expr: sum by (job) (rate(errors_total[5m]))\n"
        "      - alert: Errors\n"
        "        expr: job:errors:rate5m > 1\n"
        "        for: 10m\n"
        "        keep_firing_for: 2m\n"
    )
    parsed = [r for rf in load_rule_files([rules]) for r in rf.rules]
    timing = FileTiming.from_files(
        parsed,
        settings_from_config({"route": {"receiver": "r", "group_wait": "2s", "group_interval": "4s"}}),
        scrape_interval=1.0,
        evaluation_interval=1.0,
        time_scale=0.01,
    )
    b = timing.bounds("Errors")
    assert b is not None
    assert b.levels == 2  # the recording rule adds an evaluation
    assert b.for_seconds == pytest.approx(6.0)
    assert b.keep_firing_for == pytest.approx(1.2)
    assert b.window == 4.0  # 5m x 0.01 = 3 s, never below 4 scrape intervals
    assert b.notify() == 5.0
    assert timing.detect_seconds("Errors", "window") == 4.0
    assert timing.bounds("Missing") is None


def _scenario(tmp_path: Path, catalog: Catalog, steps: str, expect: str, chaos: str | None = None) -> list[str]:
    path = tmp_path / "s.yaml"
    chaos = chaos or "  - {name: kill-gateway, kind: kill, target: gateway, at: 1}\n"
    path.write_text(f"name: s\nchaos:\n{chaos}steps:\n{steps}expect:\n{expect}")
    bare = Catalog(catalog.alerts, catalog.components, catalog.receivers, catalog.markets)
    scenario = load_scenario(path, bare)
    assert catalog.timing is not None
    return [r.rule for r in find_races(scenario, catalog.timing)]


GATEWAY_DOWN = "  must_fire:\n    - {alert: GatewayDown, after: kill-gateway}\n"


@pytest.mark.parametrize(
    ("steps", "races"),
    [
        pytest.param(
            "  - wait_for_alert: {name: GatewayDown, state: firing}\n  - revert: kill-gateway\n",
            ["revert-before-notification"],
            id="firing-then-revert",
        ),
        pytest.param(
            "  - wait_for_alert: {name: GatewayDown, state: firing}\n"
            "  - wait_for_time: 4.9\n  - revert: kill-gateway\n",
            ["revert-before-notification"],
            id="held-just-under-the-bound",
        ),
        pytest.param(
            "  - wait_for_alert: {name: GatewayDown, state: firing}\n  - wait_for_time: 5\n  - revert: kill-gateway\n",
            [],
            id="held-for-the-bound-and-tolerance",
        ),
        pytest.param(
            "  - wait_for_notification: {alert: GatewayDown}\n  - revert: kill-gateway\n",
            [],
            id="notification-observed",
        ),
        pytest.param(
            "  - wait_for_notification: {alert: GatewayDown, status: resolved}\n  - revert: kill-gateway\n",
            ["revert-before-firing"],
            id="a-resolved-notification-observes-nothing-about-this-incident",
        ),
        pytest.param(
            "  - wait_for_alert: {name: GatewayDown, state: pending}\n  - revert: kill-gateway\n",
            ["revert-before-firing"],
            id="pending-is-not-firing",
        ),
        pytest.param(
            "  - wait_for_alert: {name: GatewayDown, state: firing, labels: {job: other}}\n"
            "  - wait_for_notification: {alert: GatewayDown}\n  - revert: kill-gateway\n",
            [],
            id="other-labels-then-notified",
        ),
        pytest.param("  - wait_for_fault: kill-gateway\n", [], id="runner-reverts-after-the-steps"),
        pytest.param(
            "  - wait_for_fault: kill-gateway\n  - wait_for_time: 11\n  - revert: kill-gateway\n",
            [],
            id="held-by-time-for-fire-and-notify",
        ),
        pytest.param(
            "  - wait_for_fault: kill-gateway\n  - wait_for_time: 10\n  - revert: kill-gateway\n",
            ["revert-before-notification"],
            id="held-by-time-too-short",
        ),
        pytest.param(
            "  - wait_for_notification: {alert: GatewayDown, within: 2}\n  - revert: kill-gateway\n",
            ["deadline-below-bound"],
            id="notification-deadline-under-the-bound",
        ),
    ],
)
def test_revert_steps(tmp_path: Path, catalog: Catalog, steps: str, races: list[str]) -> None:
    assert _scenario(tmp_path, catalog, steps, GATEWAY_DOWN) == races


def test_notify_false_needs_firing_only(tmp_path: Path, catalog: Catalog) -> None:
    expect = "  must_fire:\n    - {alert: GatewayDown, after: kill-gateway, notify: false}\n"
    steps = "  - wait_for_alert: {name: GatewayDown, state: firing}\n  - revert: kill-gateway\n"
    assert _scenario(tmp_path, catalog, steps, expect) == []


def test_a_duration_must_outlast_fire_and_notify(tmp_path: Path, catalog: Catalog) -> None:
    short = "  - {name: kill-gateway, kind: kill, target: gateway, at: 1, duration: 5}\n"
    long = "  - {name: kill-gateway, kind: kill, target: gateway, at: 1, duration: 11}\n"
    steps = "  - wait_for_notification: {alert: GatewayDown}\n"
    assert _scenario(tmp_path, catalog, steps, GATEWAY_DOWN, short) == ["revert-before-notification"]
    assert _scenario(tmp_path, catalog, steps, GATEWAY_DOWN, long) == []


def test_a_notification_in_the_sequence_before_the_revert_must_be_waited_for(tmp_path: Path, catalog: Catalog) -> None:
    expect = (
        "  must_fire:\n    - {alert: GatewayDown, after: kill-gateway, notify: false}\n"
        "  sequence:\n    - {notification: GatewayDown}\n    - {revert: kill-gateway}\n"
    )
    steps = "  - wait_for_alert: {name: GatewayDown, state: firing}\n  - revert: kill-gateway\n"
    assert _scenario(tmp_path, catalog, steps, expect) == ["revert-before-notification"]


def test_an_inhibition_is_held_for_the_inhibited_alerts_notification_bound(tmp_path: Path, catalog: Catalog) -> None:
    chaos = "  - {name: nats-down, kind: nats_down, at: 1}\n"
    expect = (
        "  must_fire:\n    - {alert: NATSDown, after: nats-down}\n"
        "    - {alert: NATSPublishFailure, after: nats-down, notify: false}\n"
        "  notifications:\n    - {alert: NATSPublishFailure, absent_while: NATSDown}\n"
    )
    head = (
        "  - wait_for_notification: {alert: NATSDown}\n  - wait_for_alert: {name: NATSPublishFailure, state: firing}\n"
    )
    short = head + "  - wait_for_time: 2\n  - revert: nats-down\n"
    held = head + "  - wait_for_time: 3\n  - revert: nats-down\n"
    assert _scenario(tmp_path, catalog, short, expect, chaos) == ["revert-before-inhibition-window"]
    assert _scenario(tmp_path, catalog, held, expect, chaos) == []


def test_every_shipped_scenario_is_free_of_races(catalog: Catalog) -> None:
    scenarios = load_scenarios(ROOT / "scenarios", catalog)  # load_scenario refuses a race
    assert catalog.timing is not None
    assert all(find_races(s, catalog.timing) == [] for s in scenarios)


def test_a_scenario_time_scale_changes_the_bounds(tmp_path: Path, catalog: Catalog) -> None:
    # At real time (scale 1) GatewayDown's for: 1m makes 4 s of a wait_for_time far too short to fire.
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nsetup: {time_scale: 1}\nchaos:\n  - {name: kill-gateway, kind: kill, target: gateway, at: 1}\n"
        "steps:\n  - wait_for_fault: kill-gateway\n  - wait_for_time: 12\n  - revert: kill-gateway\n"
        f"expect:\n{GATEWAY_DOWN}"
    )
    with pytest.raises(ScenarioInvalid, match="revert-before-firing"):
        load_scenario(path, catalog)
    given = Catalog.from_contract(load_contract(ROOT / "obs.yaml"), time_scale=0.01)
    load_scenario(path, given)  # the caller's scale wins over the scenario's
