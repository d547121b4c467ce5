"""Drive Alertmanager for real: routing tests through amtool, and live probes — alerts posted to the
Alertmanager API whose notifications must reach the right receiver of the webhook sink, be inhibited,
or be silenced. The judging is in :mod:`obs_tests.checks.routing`.

Probe alerts carry an ``obs_probe=<run id>`` label so they never mix with real alerts.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obs_tests.checks.routing import (
    RouteTest,
    check_inhibition,
    check_notifications,
    check_route,
    route_labels,
)
from obs_tests.clients.alertmanager import AlertmanagerClient, iso
from obs_tests.clients.tools import run_tool
from obs_tests.clients.webhook_sink import SinkClient
from obs_tests.config.contract import parse_duration
from obs_tests.core.findings import Finding
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.core.yamlfile import load_yaml
from obs_tests.errors import ConfigInvalid, ObsTestsError, WaitTimeout
from obs_tests.rules.rulefiles import Rule

__all__ = [
    "AlertmanagerSettings",
    "RouteResult",
    "probe_inhibition",
    "probe_routing",
    "probe_silence",
    "run_route_tests",
    "settings_from_config",
]


@dataclass
class AlertmanagerSettings:
    """Per receiver: group_by, group_wait, group_interval (first route using it) and send_resolved."""

    group_by: dict[str, list[str]] = field(default_factory=dict)
    group_wait: dict[str, float] = field(default_factory=dict)
    group_interval: dict[str, float] = field(default_factory=dict)
    send_resolved: dict[str, bool] = field(default_factory=dict)
    root_wait: float = 30.0
    root_interval: float = 300.0

    def notify_within(self, receiver: str) -> float:
        """An upper bound for a notification after an alert arrives: group_wait + group_interval + slack
        (the root route's timings for a receiver no route uses — the alert then goes elsewhere)."""
        wait = self.group_wait.get(receiver, self.root_wait)
        interval = self.group_interval.get(receiver, self.root_interval)
        return wait + interval + 5.0


def settings_from_config(config: Mapping[str, Any]) -> AlertmanagerSettings:
    """Read the route tree and receivers of an Alertmanager config (dict)."""
    settings = AlertmanagerSettings()

    def walk(route: Mapping[str, Any], group_by: list[str], wait: float, interval: float) -> None:
        group_by = list(route.get("group_by", group_by))
        wait = parse_duration(str(route["group_wait"])) if "group_wait" in route else wait
        interval = parse_duration(str(route["group_interval"])) if "group_interval" in route else interval
        receiver = route.get("receiver")
        if receiver and receiver not in settings.group_by:
            settings.group_by[receiver] = group_by
            settings.group_wait[receiver] = wait
            settings.group_interval[receiver] = interval
        for child in route.get("routes", []) or []:
            walk({"receiver": receiver, **child}, group_by, wait, interval)

    root = config.get("route", {})
    walk(root, [], 30.0, 300.0)
    if "group_wait" in root:
        settings.root_wait = parse_duration(str(root["group_wait"]))
    if "group_interval" in root:
        settings.root_interval = parse_duration(str(root["group_interval"]))
    for receiver in config.get("receivers", []) or []:
        hooks = receiver.get("webhook_configs") or []
        settings.send_resolved[receiver["name"]] = all(h.get("send_resolved", True) for h in hooks) if hooks else True
    return settings


@dataclass(frozen=True)
class RouteResult:
    """One routing test as amtool judged it."""

    test: RouteTest
    labels: dict[str, str]
    receivers: tuple[str, ...]
    findings: tuple[Finding, ...]


def run_route_tests(config: Path, tests: Sequence[RouteTest], rules: Mapping[str, Rule]) -> list[RouteResult]:
    """Run every routing test through ``amtool config routes test --verify.receivers``."""
    results = []
    for test in tests:
        labels = route_labels(test, rules)
        if isinstance(labels, Finding):
            results.append(RouteResult(test, {}, (), (labels,)))
            continue
        argv = [
            "amtool",
            "config",
            "routes",
            "test",
            f"--config.file={config}",
            f"--verify.receivers={','.join(test.receivers)}",
            *(f"{k}={v}" for k, v in labels.items()),
        ]
        done = run_tool(argv, timeout=30)
        got = (
            tuple(r.strip() for r in done.stdout.strip().splitlines()[0].split(",") if r.strip())
            if done.stdout.strip()
            else ()
        )
        findings = check_route(test, labels, got)
        if not findings and done.returncode != 0:
            findings = [
                Finding("routing", f"alert {test.alert}", f"amtool failed: {done.output}", rule="alertmanager/route")
            ]
        results.append(RouteResult(test, labels, got, tuple(findings)))
    return results


def _post(am: AlertmanagerClient, alerts: Sequence[Mapping[str, str]], *, resolve: bool = False) -> None:
    # startsAt is "now", not in the past: Alertmanager flushes a new group at once when startsAt + group_wait
    # is already over, which races the inhibitor seeing the inhibiting alert posted in the same batch.
    now = time.time()
    body = []
    for labels in alerts:
        item: dict[str, Any] = {
            "labels": dict(labels),
            "annotations": {"summary": f"obs-tests probe for {labels.get('alertname')}"},
            "startsAt": iso(now - 1 if resolve else now),
        }
        if resolve:
            item["endsAt"] = iso(now)
        body.append(item)
    am.post_alerts(body)


def _wait_in_alertmanager(am: AlertmanagerClient, run_id: str, count: int) -> list[dict[str, Any]]:
    def probe() -> Poll[list[dict[str, Any]]]:
        alerts = am.alerts(filters=[f'obs_probe="{run_id}"'])
        return Poll(len(alerts) >= count, alerts, f"{len(alerts)} of {count} probe alerts in Alertmanager")

    return wait_for(
        probe, timeout=15, interval=0.1, expected=f"{count} probe alerts in Alertmanager", transient=(ObsTestsError,)
    )


def _await_notes(
    sink: SinkClient,
    expected: Sequence[tuple[str, str, str]],
    run_id: str,
    since: float,
    within: float,
    excused: Callable[[], set[str]] | None = None,
) -> tuple[list[Finding], set[str]]:
    """Wait until every (alertname, receiver, status) arrived — or, for the alerts ``excused`` names (asked
    again at every poll), is excused; findings for the others, and the alerts excused in the end.

    The excuse is asked again after the wait: an alert Alertmanager showed as not inhibited right after it
    was posted can be inhibited a moment later (its inhibitor cache is filled asynchronously), and is then
    never notified; only its state once the wait is over decides."""
    pending = set(expected)
    noted: set[str] = set()

    def missing() -> set[tuple[str, str, str]]:
        for note in sink.notifications(since=since, labels={"obs_probe": run_id}):
            key = (note["labels"].get("alertname", ""), note["receiver"], note["status"])
            pending.discard(key)
            noted.add(key[0])
        excuse = (excused() - noted) if excused is not None else set()
        return {p for p in pending if p[0] not in excuse}

    def probe() -> Poll[set[tuple[str, str, str]]]:
        left = missing()
        return Poll(not left, left, f"still missing: {sorted(left)}")

    with contextlib.suppress(WaitTimeout):  # what is still missing becomes a finding below
        wait_for(probe, timeout=within, interval=0.1, expected="every probe notification", transient=(ObsTestsError,))
    left = missing()
    findings = []
    for alertname, receiver, status in sorted(left):
        got = sink.notifications(alertname=alertname, since=since, labels={"obs_probe": run_id})
        seen = ", ".join(f"{n['status']} to {n['receiver']}" for n in got) or "nothing"
        findings.append(
            Finding(
                "notifications",
                f"alert {alertname}",
                f"no {status} notification reached receiver {receiver} within {within:g}s (got: {seen})",
                rule="alertmanager/notification",
            )
        )
    excused_names = {p[0] for p in pending if p not in left}
    return findings, excused_names


def _inhibited(am: AlertmanagerClient, run_id: str) -> set[str]:
    """The probe alerts Alertmanager shows as inhibited now."""
    return {
        str(a["labels"].get("alertname"))
        for a in am.alerts(filters=[f'obs_probe="{run_id}"'])
        if (a.get("status") or {}).get("inhibitedBy")
    }


def probe_routing(
    am: AlertmanagerClient,
    sink: SinkClient,
    probes: Sequence[tuple[RouteTest, Mapping[str, str]]],
    settings: AlertmanagerSettings,
) -> tuple[list[Finding], dict[str, Any]]:
    """Post every alert (its routing-test labels) to Alertmanager and prove the notification reaches the
    expected receiver, grouped by the route's group_by, and that resolving it sends a resolved
    notification exactly where ``send_resolved`` is true.

    Alerts that another probe inhibits (inhibit_rules) are probed in a second wave, on their own: those
    Alertmanager shows as inhibited once the first wave's notifications are in (or their bound is over)
    — not right after posting, when its inhibitor may not have seen the inhibiting alert yet.
    """
    run_id = uuid.uuid4().hex[:12]
    labelled = [({**labels, "obs_probe": run_id}, test) for test, labels in probes]
    within = max((settings.notify_within(r) for t in probes for r in t[0].receivers), default=35.0)
    findings: list[Finding] = []
    since = time.time()
    _post(am, [labels for labels, _ in labelled])
    _wait_in_alertmanager(am, run_id, len(labelled))
    firing = [(labels["alertname"], r, "firing") for labels, test in labelled for r in test.receivers]
    found, inhibited = _await_notes(sink, firing, run_id, since, within, excused=lambda: _inhibited(am, run_id))
    findings += found
    waves = [
        [(labels, test) for labels, test in labelled if labels["alertname"] not in inhibited],
        [(labels, test) for labels, test in labelled if labels["alertname"] in inhibited],
    ]
    for number, wave in enumerate(waves):
        if wave:
            findings += _probe_wave(am, sink, wave, run_id, since, within, settings, second=number == 1)
    payloads = _probe_payloads(sink, run_id)
    findings += check_notifications(payloads, group_by=settings.group_by, send_resolved=settings.send_resolved)
    details = {
        "run": run_id,
        "alerts": len(labelled),
        "second_wave": sorted(a for a in inhibited if a),
        "payloads": len(payloads),
    }
    return findings, details


def _probe_wave(
    am: AlertmanagerClient,
    sink: SinkClient,
    wave: Sequence[tuple[dict[str, str], RouteTest]],
    run_id: str,
    since: float,
    within: float,
    settings: AlertmanagerSettings,
    *,
    second: bool,
) -> list[Finding]:
    """Resolve one wave of probe alerts and await their resolved notifications; the second wave (the
    inhibited alerts) first awaits its firing ones."""
    findings: list[Finding] = []
    if second:
        # The inhibitors were resolved with the first wave: from then on the inhibited alerts (still
        # firing) notify on their own; refresh them. Their firing notification is accepted from the
        # probe's start: should one have gone out before the inhibition applied, it still proves the route
        # (the inhibition itself is proven by probe_inhibition).
        _post(am, [labels for labels, _ in wave])
        firing = [(labels["alertname"], r, "firing") for labels, test in wave for r in test.receivers]
        findings += _await_notes(sink, firing, run_id, since, within)[0]
    resolved_since = time.time()
    _post(am, [labels for labels, _ in wave], resolve=True)
    resolved = [
        (labels["alertname"], r, "resolved")
        for labels, test in wave
        for r in test.receivers
        if settings.send_resolved.get(r, True)
    ]
    findings += _await_notes(sink, resolved, run_id, resolved_since, within)[0]
    return findings


def _probe_payloads(sink: SinkClient, run_id: str) -> list[dict[str, Any]]:
    """The webhook payloads of the last ten minutes holding an alert of this probe run."""
    return [
        p
        for p in sink.payloads(since=time.time() - 600)
        if any(a.get("labels", {}).get("obs_probe") == run_id for a in p.get("alerts", []))
    ]


InhibitionCase = tuple[Mapping[str, str], Sequence[Mapping[str, str]], Sequence[Mapping[str, str]]]


def _inhibition_case(
    am: AlertmanagerClient,
    source: Mapping[str, str],
    suppressed: Sequence[Mapping[str, str]],
    active: Sequence[Mapping[str, str]],
) -> list[Finding]:
    run_id = uuid.uuid4().hex[:12]
    tag = {"obs_probe": run_id}
    alerts = [{**labels, **tag} for labels in (source, *suppressed, *active)]
    targets = [{**s, **tag} for s in suppressed]
    _post(am, alerts)
    try:

        def probe() -> Poll[list[dict[str, Any]]]:
            got = am.alerts(filters=[f'obs_probe="{run_id}"'])
            inhibited = [a for a in got if any(all(a["labels"].get(k) == v for k, v in t.items()) for t in targets)]
            done = len(got) == len(alerts) and all((a.get("status") or {}).get("inhibitedBy") for a in inhibited)
            return Poll(done, got, str([(a["labels"].get("alertname"), a["status"]["state"]) for a in got]))

        try:
            state = wait_for(
                probe, timeout=10, interval=0.1, expected="the inhibition applied", transient=(ObsTestsError,)
            )
        except WaitTimeout:
            state = am.alerts(filters=[f'obs_probe="{run_id}"'])
        return check_inhibition(state, suppressed=targets, active=[{**a, **tag} for a in (source, *active)])
    finally:
        _post(am, alerts, resolve=True)


def probe_inhibition(am: AlertmanagerClient, cases: Sequence[InhibitionCase]) -> list[Finding]:
    """For each (source, must-be-suppressed, must-stay-active) case: post the label sets together and
    check Alertmanager's verdict (``status.state``/``inhibitedBy``); everything is resolved afterwards."""
    findings: list[Finding] = []
    for source, suppressed, active in cases:
        findings += _inhibition_case(am, source, suppressed, active)
    return findings


def probe_silence(
    am: AlertmanagerClient, sink: SinkClient, settings: AlertmanagerSettings, *, duration: float = 3.0
) -> tuple[list[Finding], dict[str, float]]:
    """A silence suppresses an alert's notification while it lasts; when it expires the notification goes
    out. Returns findings and the measured times."""
    run_id = uuid.uuid4().hex[:12]
    labels = {"alertname": "ObsTestsSilenceProbe", "severity": "warning", "obs_probe": run_id}
    receiver = "warning"
    findings: list[Finding] = []
    # The silence ends at `ends` at the earliest (it is created after this instant): a notification the
    # sink received before then went out while silenced.
    ends = time.time() + duration
    silence_id = am.create_silence({"obs_probe": run_id}, duration=duration, comment="obs-tests silence probe")
    started = time.time()
    _post(am, [labels])
    try:
        findings += _await_silenced(am, run_id, duration)
        findings += _notified_while_silenced(sink, run_id, started, ends)
        late, after = _await_after_expiry(
            sink,
            run_id,
            started,
            ends,
            within=settings.notify_within(receiver) + duration,
            group_wait=settings.group_wait.get(receiver, 30),
        )
        findings += late
    finally:
        _post(am, [labels], resolve=True)
        with contextlib.suppress(ObsTestsError):  # already expired
            am.expire_silence(silence_id)
    return findings, {"silence_seconds": duration, "notified_after_expiry": after}


def _await_silenced(am: AlertmanagerClient, run_id: str, duration: float) -> list[Finding]:
    """Wait until Alertmanager shows the probe alert silenced; a finding if it never does."""

    def silenced() -> Poll[list[dict[str, Any]]]:
        got = am.alerts(filters=[f'obs_probe="{run_id}"'])
        ok = bool(got) and bool((got[0].get("status") or {}).get("silencedBy"))
        return Poll(ok, got, str([(a["status"]["state"], a["status"].get("silencedBy")) for a in got]))

    try:
        wait_for(
            silenced,
            timeout=max(1.0, duration - 0.5),
            interval=0.05,
            expected="the alert silenced",
            transient=(ObsTestsError,),
        )
    except WaitTimeout as exc:
        return [
            Finding(
                "silences",
                "silence probe",
                f"the alert was never silenced: {exc.message}",
                rule="alertmanager/silence",
            )
        ]
    return []


def _notified_while_silenced(sink: SinkClient, run_id: str, started: float, ends: float) -> list[Finding]:
    """Watch the sink until the silence ends: a notification received before then is a finding."""

    def while_silenced() -> list[dict[str, Any]]:
        got = sink.notifications(since=started, labels={"obs_probe": run_id})
        return [n for n in got if n["received_at"] < ends]

    early = while_silenced()
    while time.time() < ends and not early:
        time.sleep(0.1)  # poll spacing: watching for a notification that must not arrive
        early = while_silenced()
    if early:
        return [
            Finding(
                "silences",
                "silence probe",
                f"a notification went out while silenced: {early[0]['receiver']}",
                rule="alertmanager/silence",
            )
        ]
    return []


def _await_after_expiry(
    sink: SinkClient, run_id: str, started: float, ends: float, *, within: float, group_wait: float
) -> tuple[list[Finding], float]:
    """Wait for the firing notification once the silence expired: findings, and how long after the end it
    arrived (NaN when it never did)."""
    try:
        note = wait_for(
            lambda: Poll(
                bool(n := sink.notifications(since=started, labels={"obs_probe": run_id}, status="firing")),
                n,
            ),
            timeout=within,
            interval=0.1,
            expected="the notification after the silence expired",
            bound=f"silence end + group_wait ({group_wait:g}s)",
            transient=(ObsTestsError,),
        )
    except WaitTimeout as exc:
        return [
            Finding(
                "silences",
                "silence probe",
                f"nothing arrived after the silence expired: {exc.message}",
                rule="alertmanager/silence",
            )
        ], float("nan")
    return [], note[0]["received_at"] - ends


def load_alertmanager_config(path: Path) -> dict[str, Any]:
    """Parse an Alertmanager config file (for :func:`settings_from_config`)."""
    data = load_yaml(path, error=ConfigInvalid)
    if not isinstance(data, dict):
        raise ConfigInvalid(f"{path}: an Alertmanager config is a mapping with route and receivers — see alertmanager/")
    return data
