"""What the embedded stack's start-up waits on, in order — conditions with deadlines, never sleeps: every
component's health probe, then Prometheus reporting every target of the contract ``up``, then the system's
warm-up traffic proven to cross it (its PromQL reaching the expected value).

Each wait stops early when ``stop`` is set (the stack's start aborted from another thread) and, on
timeout, raises :class:`~obs_tests.errors.StackStartError` saying what it expected, what it saw last and
the bound it could have taken.

Example::

    wait_components_ready(processes, components, ["prometheus"], timeout=30.0, stop=threading.Event())
    wait_targets_up(PrometheusClient(url), expected_targets(contract), timeout=30.0, stop=threading.Event())
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.prometheus import PrometheusClient, Target
from obs_tests.config.contract import Contract
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, StackError, StackStartError, WaitTimeout
from obs_tests.stack.components import Component
from obs_tests.stack.process import ManagedProcess
from obs_tests.stack.system_under_test import SystemUnderTest, WarmUp

__all__ = [
    "expected_targets",
    "send_warm_up",
    "wait_cluster_formed",
    "wait_components_ready",
    "wait_targets_gone",
    "wait_targets_up",
    "wait_warm_up_visible",
]

_FIRST_SCRAPE_BOUND = "Prometheus' first scrape lands ~5 s after it starts (target-update batching) + 1 scrape"


def wait_components_ready(
    processes: Mapping[str, ManagedProcess],
    components: Mapping[str, Component],
    names: Iterable[str],
    *,
    timeout: float,
    stop: threading.Event,
) -> None:
    """Until the health probe of every component ``names`` passes; one that exits meanwhile fails the start
    with its last output."""
    pending = list(names)
    last: dict[str, str] = {}

    def probe() -> Poll[None]:
        for name in list(pending):
            proc = processes[name]
            if not proc.running():
                raise StackStartError(
                    f"{name} exited with status {proc.returncode()} during start-up; last output:\n{proc.log_tail()}"
                )
            ok, detail = components[name].probe()
            last[name] = detail
            if ok:
                pending.remove(name)
        seen = ", ".join(f"{n}: {last.get(n, '?')}" for n in pending)
        return Poll(not pending, None, f"not ready: {seen}")

    try:
        wait_for(
            probe,
            timeout=timeout,
            interval=0.05,
            expected="every component's health endpoint to answer",
            stop=stop,
            bound="a few seconds (Python services import, NATS/Redis start in milliseconds)",
        )
    except WaitTimeout as exc:
        tails = "\n".join(f"--- {n} ---\n{processes[n].log_tail(8)}" for n in pending)
        raise StackStartError(f"{exc.message}\n{tails}") from None


def wait_cluster_formed(urls: list[str], *, timeout: float, stop: threading.Event) -> None:
    """Until every Alertmanager peer of ``urls`` reports the cluster ``ready`` (settled) with all of them
    as members: before that a peer may notify what another peer notifies too."""
    clients = [AlertmanagerClient(url, timeout=2.0) for url in urls]

    def probe() -> Poll[list[str]]:
        seen = []
        for client in clients:
            try:
                cluster = client.status().get("cluster") or {}
            except ObsTestsError as exc:
                seen.append(f"{client.base_url}: {exc}")
                continue
            members = len(cluster.get("peers") or [])
            seen.append(f"{client.base_url}: {cluster.get('status')}, {members} members")
        formed = all(s.endswith(f"ready, {len(urls)} members") for s in seen)
        return Poll(formed, seen, "; ".join(seen))

    try:
        wait_for(
            probe,
            timeout=timeout,
            interval=0.1,
            expected=f"every Alertmanager peer ready in a cluster of {len(urls)}",
            bound="the peers' settle (about 3 checks 10 gossip intervals apart, at most --cluster.settle-timeout)",
            stop=stop,
        )
    except WaitTimeout as exc:
        raise StackStartError(str(exc)) from None


def expected_targets(contract: Contract) -> dict[str, int]:
    """How many targets each job of the contract has."""
    return {job.name: len(job.components) for job in contract.jobs}


def wait_targets_up(
    prom: PrometheusClient, expected: Mapping[str, int], *, timeout: float, stop: threading.Event
) -> None:
    """Until Prometheus has every job of ``expected`` with its number of targets, all ``up`` (targets of
    other jobs, e.g. ``load`` whose Locust processes come and go, do not count)."""

    def probe() -> Poll[list[Target]]:
        targets = prom.targets()
        counts: dict[str, int] = {}
        down: list[str] = []
        for t in targets:
            if t.job not in expected:  # e.g. the `load` job: Locust processes come and go
                continue
            counts[t.job] = counts.get(t.job, 0) + 1
            if not t.up:
                down.append(f"{t.job}/{t.labels.get('service', t.instance)} ({t.health})")
        missing = [f"{j} ({counts.get(j, 0)}/{n})" for j, n in expected.items() if counts.get(j, 0) != n]
        ok = not down and not missing
        return Poll(ok, targets, f"down: {down or 'none'}; incomplete jobs: {missing or 'none'}")

    try:
        wait_for(
            probe,
            timeout=timeout,
            interval=0.1,
            expected="every target up in Prometheus",
            stop=stop,
            bound=_FIRST_SCRAPE_BOUND,
            transient=(ObsTestsError,),
        )
    except WaitTimeout as exc:
        raise StackStartError(exc.message) from None


def wait_targets_gone(
    prom: PrometheusClient, job: str, services: Collection[str], *, timeout: float, stop: threading.Event
) -> None:
    """Until Prometheus no longer has a target of ``job`` with one of these ``service`` labels (after their
    entries left its file_sd file)."""

    def probe() -> Poll[list[str]]:
        left = [s for t in prom.targets() if t.job == job and (s := t.labels.get("service", "")) in services]
        return Poll(not left, left, f"still listed: {left or 'none'}")

    try:
        wait_for(
            probe,
            timeout=timeout,
            interval=0.1,
            expected=f"the targets of {', '.join(sorted(services))} gone from job {job}",
            stop=stop,
            bound="Prometheus' target-update batching (5 s) after the file changed",
            transient=(ObsTestsError,),
        )
    except WaitTimeout as exc:
        raise StackError(exc.message) from None


def send_warm_up(
    system: SystemUnderTest | None, components: Mapping[str, Component], seed: int, log_dir: Path
) -> WarmUp | None:
    """Send the system's warm-up traffic (None: it has none); what to wait for to see it crossed."""
    if system is None or system.warm_up is None:
        return None
    urls = {name: comp.url for name, comp in components.items()}
    try:
        return system.warm_up(urls, seed)
    except StackStartError as exc:
        raise StackStartError(f"{exc} (logs: {log_dir})") from None


def wait_warm_up_visible(prom: PrometheusClient, warm: WarmUp, *, timeout: float, stop: threading.Event) -> None:
    """Until the warm-up's query reaches its expected value in Prometheus."""

    def probe() -> Poll[float]:
        value = prom.query_value(warm.query, default=0.0) or 0.0
        return Poll(value >= warm.expected, value, f"{warm.query} = {value:g}")

    try:
        wait_for(
            probe,
            timeout=timeout,
            interval=0.1,
            expected=f"{warm.description}: {warm.query} ≥ {warm.expected:g} in Prometheus",
            stop=stop,
            bound=warm.bound,
            transient=(ObsTestsError,),
        )
    except WaitTimeout as exc:
        raise StackStartError(f"the warm-up traffic did not cross the system: {exc.message}") from None
