"""Drive known workloads through the mock trading system and read what Prometheus counted.

Waiting is always on a condition: "Prometheus scraped the gateway after the last request" (compare
the scrape timestamp of ``up``), "every NATS consumer is drained in a scrape after the workload",
"the agents were scraped after that". The judging is in :mod:`obs_tests.demo.accounting`.

Example::

    run = run_accounting(prom, stack.url("gateway"), n_valid=900, n_invalid=100)
    assert not run.findings, format_findings(run.findings)
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import requests

from obs_tests.checks.metrics import check_quantile
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.clients.services import ServiceClient
from obs_tests.core.findings import Finding
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.demo.accounting import (
    GATEWAY_METRICS,
    LEDGER_QUERIES,
    PIPELINE_METRICS,
    Ledger,
    Workload,
    check_accounting,
    check_signal_flow,
    expected_deltas,
)
from obs_tests.demo.traffic import (
    INVALID_KINDS,
    WEBHOOK_PATH,
    SentSignals,
    mixed_workload,
    send_concurrently,
    valid_signal,
)
from obs_tests.errors import ObsTestsError
from obs_tests.workloads import LoadResult, LoadSpec, run_load
from obs_tests.workloads.load_report import LoadReport

__all__ = [
    "AccountingRun",
    "LoadAccounting",
    "QuantileResult",
    "histogram_quantiles",
    "load_latency_quantiles",
    "measure_latency_quantiles",
    "read_ledger",
    "run_accounting",
    "run_load_accounting",
    "trace_signal",
    "wait_drained",
    "wait_scraped_after",
    "workload_of",
    "workload_of_load",
]

GATEWAY_JOB = "gateway"
PIPELINE_JOBS = ("agents", "orchestrator")
NATS_JOB = "nats"
#: the backlog of every consumer in the NATS scrape at ``{at}`` (an ``@`` timestamp)
_CONSUMER_BACKLOG = (
    "sum(nats_jetstream_consumer_num_pending @ {at}) + sum(nats_jetstream_consumer_num_ack_pending @ {at})"
)


def read_ledger(prom: PrometheusClient, metrics: Sequence[str] = tuple(LEDGER_QUERIES)) -> Ledger:
    """Snapshot the accounting counters (one query per metric, concurrently)."""
    results = prom.query_many([LEDGER_QUERIES[m] for m in metrics])
    ledger: Ledger = {}
    for metric, samples in zip(metrics, results, strict=True):
        for sample in samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "__name__"))
            ledger[(metric, labels)] = sample.value
    return ledger


def _scrape_times(prom: PrometheusClient, jobs: Sequence[str]) -> dict[str, float]:
    selector = "|".join(jobs)
    samples = prom.query(f'min by (job) (timestamp(up{{job=~"{selector}"}}))')
    return {s.labels.get("job", ""): s.value for s in samples}


def wait_scraped_after(prom: PrometheusClient, jobs: Sequence[str], after: float, timeout: float = 30.0) -> float:
    """Wait until every target of ``jobs`` was scraped after ``after``; returns the oldest such scrape time."""

    def probe() -> Poll[float]:
        times = _scrape_times(prom, jobs)
        missing = [j for j in jobs if times.get(j, 0.0) <= after]
        oldest = min(times.values()) if times else 0.0
        return Poll(not missing, oldest, f"last scrapes: {times} (need > {after:.3f})")

    return wait_for(
        probe,
        timeout=timeout,
        interval=0.05,
        expected=f"a scrape of {', '.join(jobs)} after {after:.3f}",
        bound="1 scrape interval (+ scrape duration)",
        transient=(ObsTestsError,),
    )


def wait_drained(prom: PrometheusClient, after: float, timeout: float = 60.0) -> float:
    """Wait for a scrape of the NATS exporter, after ``after``, in which every consumer has nothing
    pending or unacknowledged; returns when that scrape ended.

    The end, not the start: the exporter reads NATS during the scrape (up to its duration after the
    timestamp Prometheus stamps it with), so a pipeline scrape that merely *started* after the drained
    scrape's timestamp can have read its counters before the last messages were acked. The backlog is read
    ``@`` that scrape's timestamp, so the time and the backlog come from one scrape even when the next one
    lands between the queries."""

    def probe() -> Poll[float]:
        scraped = _scrape_times(prom, [NATS_JOB]).get(NATS_JOB, 0.0)
        if scraped <= after:
            return Poll(False, scraped, f"last NATS scrape at {scraped:.3f} (need > {after:.3f})")
        at = f"{scraped:.3f}"
        backlog = prom.query_value(_CONSUMER_BACKLOG.format(at=at))
        duration = prom.query_value(f'max(scrape_duration_seconds{{job="{NATS_JOB}"}} @ {at})', 0.0) or 0.0
        ended = scraped + duration
        return Poll(backlog == 0, ended, f"consumer backlog {backlog} in the scrape at {scraped:.3f}")

    return wait_for(
        probe,
        timeout=timeout,
        interval=0.1,
        expected="every NATS consumer drained (pending + ack pending = 0)",
        bound="workload size / pipeline throughput + 1 scrape interval",
        transient=(ObsTestsError,),
    )


def workload_of(sent: SentSignals) -> Workload:
    """What the gateway answered, as the ground truth for the counters."""
    return Workload(
        accepted_by_action=sent.by_action.copy(),
        invalid_by_reason=sent.by_reason.copy(),
        errors=sent.errors,
        publish_failures=sent.statuses.get(503, 0),
    )


@dataclass
class AccountingRun:
    """One accounting run: what was sent, the ledgers, the findings and how long each phase took."""

    sent: SentSignals
    workload: Workload
    expected: Ledger
    before: Ledger
    after_gateway: Ledger
    after_pipeline: Ledger
    findings: list[Finding]
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for reports."""
        unaccounted = len(self.findings)
        return (
            f"{self.workload.total} webhooks ({self.workload.accepted} valid, {self.workload.invalid} invalid, "
            f"{self.workload.errors} errors): {unaccounted} series off"
        )


def run_accounting(
    prom: PrometheusClient,
    gateway_url: str,
    *,
    n_valid: int,
    n_invalid: int,
    seed: int = 1,
    workers: int = 8,
    timeout: float = 120.0,
    pipeline: bool = True,
) -> AccountingRun:
    """Send a known mixed workload and prove every accounting counter rose by exactly what happened."""
    started = time.time()
    settled = wait_drained(prom, started, timeout=timeout)
    wait_scraped_after(prom, [GATEWAY_JOB, *PIPELINE_JOBS], settled)
    before = read_ledger(prom)
    timings = {"baseline": time.time() - started}
    bodies = mixed_workload(n_valid, n_invalid, seed=seed, prefix=f"A{seed % 1000:03d}")
    t_send = time.time()
    sent = send_concurrently(gateway_url, bodies, workers=workers)
    t_end = time.time()
    timings["send"] = t_end - t_send
    workload = workload_of(sent)
    expected = expected_deltas(workload, pipeline=pipeline)
    wait_scraped_after(prom, [GATEWAY_JOB], t_end)
    after_gateway = read_ledger(prom, GATEWAY_METRICS)
    timings["gateway_scraped"] = time.time() - t_end
    findings = check_accounting(expected, before, after_gateway, GATEWAY_METRICS)
    sent_wrong = n_valid - workload.accepted
    if sent_wrong:
        findings.append(
            Finding(
                "accounting",
                "gateway",
                f"{sent_wrong} of {n_valid} valid signals were not accepted (answers: {dict(sent.statuses)})",
            )
        )
    after_pipeline: Ledger = {}
    if pipeline:
        drained = wait_drained(prom, t_end, timeout=timeout)
        wait_scraped_after(prom, PIPELINE_JOBS, drained)
        after_pipeline = read_ledger(prom, PIPELINE_METRICS)
        timings["pipeline_scraped"] = time.time() - t_end
        findings += check_accounting(expected, before, after_pipeline, PIPELINE_METRICS)
    return AccountingRun(sent, workload, expected, before, after_gateway, after_pipeline, findings, timings)


@dataclass(frozen=True)
class QuantileResult:
    """One quantile: from the histogram (Prometheus) and as the workload measured it."""

    quantile: float
    from_histogram: float
    measured: float
    findings: tuple[Finding, ...]


def _empirical(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


def measure_latency_quantiles(
    prom: PrometheusClient,
    gateway_url: str,
    *,
    n: int = 300,
    workers: int = 16,
    latency: Mapping[str, object] | None = None,
    quantiles: Sequence[float] = (0.5, 0.95),
    seed: int = 2,
) -> list[QuantileResult]:
    """Run a workload with a latency fault on the gateway; compare histogram_quantile over exactly that
    workload's observations with the latencies the client measured."""
    admin = ServiceClient(gateway_url, timeout=5.0)
    fault = dict(latency or {"distribution": "uniform", "min_ms": 20, "max_ms": 180})
    t0 = wait_scraped_after(prom, [GATEWAY_JOB], time.time())
    rng = random.Random(seed)
    bodies = [valid_signal(rng) for _ in range(n)]
    with admin.faults_applied({"latency": fault}):
        sent = send_concurrently(gateway_url, bodies, workers=workers)
    t1 = wait_scraped_after(prom, [GATEWAY_JOB], time.time())
    return histogram_quantiles(prom, t0, t1, {q: _empirical(sent.latencies, q) for q in quantiles})


def histogram_quantiles(
    prom: PrometheusClient, t0: float, t1: float, measured: Mapping[float, float]
) -> list[QuantileResult]:
    """``histogram_quantile`` of the gateway latency over exactly the observations between the scrapes at
    ``t0`` and ``t1`` (``@`` modifier), each compared with the ``measured`` value (seconds)."""
    name = "gateway_processing_duration_seconds"
    bounds = sorted(
        float(s.labels["le"]) for s in prom.query(f"group by (le) ({name}_bucket)") if s.labels["le"] != "+Inf"
    )
    results = []
    for q, seen in measured.items():
        expr = (
            f"histogram_quantile({q}, sum by (le) ({name}_bucket @ {t1:.3f}) - sum by (le) ({name}_bucket @ {t0:.3f}))"
        )
        value = prom.query_value(expr)
        hist = float("nan") if value is None else value
        results.append(QuantileResult(q, hist, seen, tuple(check_quantile(name, q, hist, seen, bounds))))
    return results


def load_latency_quantiles(
    prom: PrometheusClient,
    gateway_url: str,
    spec: LoadSpec,
    *,
    latency: Mapping[str, object] | None = None,
    quantiles: Sequence[float] = (0.5, 0.95),
) -> tuple[LoadResult, list[QuantileResult]]:
    """A Locust run with a latency fault on the gateway: the histogram's p50/p95 over that run must agree
    with the p50/p95 Locust measured, within one bucket width."""
    admin = ServiceClient(gateway_url, timeout=5.0)
    fault = dict(latency or {"distribution": "uniform", "min_ms": 20, "max_ms": 180})
    t0 = wait_scraped_after(prom, [GATEWAY_JOB], time.time())
    with admin.faults_applied({"latency": fault}):
        result = run_load(spec, gateway_url)
    t1 = wait_scraped_after(prom, [GATEWAY_JOB], result.ended_at)
    measured = {q: result.percentile_ms(q) / 1000.0 for q in quantiles}
    return result, histogram_quantiles(prom, t0, t1, measured)


def _records(path: Path, needle: str) -> list[dict[str, object]]:
    try:
        data = path.read_bytes()
    except OSError:
        return []
    token = needle.encode()
    out = []
    for line in data.splitlines():
        if token in line:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict):
                out.append(record)
    return out


def trace_signal(
    prom: PrometheusClient,
    gateway_url: str,
    logs: Mapping[str, Path],
    *,
    action: str = "buy",
    timeout: float = 30.0,
) -> tuple[str, list[Finding]]:
    """Send one signal with a fresh ``X-Correlation-ID``; prove it reached every component on its path
    (their JSON logs carry the id) and every counter on the path rose by exactly one."""
    start = time.time()
    settled = wait_drained(prom, start, timeout=timeout)
    wait_scraped_after(prom, [GATEWAY_JOB, *PIPELINE_JOBS], settled)
    before = read_ledger(prom)
    correlation_id = f"trace-{uuid.uuid4().hex}"
    body = valid_signal(random.Random(), action=action, instrument="TRACE")
    resp = requests.post(
        f"{gateway_url}{WEBHOOK_PATH}",
        data=body,
        headers={"Content-Type": "application/json", "X-Correlation-ID": correlation_id},
        timeout=10,
    )
    findings: list[Finding] = []
    if resp.status_code != 200:
        findings.append(Finding("signal-flow", "gateway", f"answered HTTP {resp.status_code}: {resp.text[:200]}"))
        return correlation_id, findings
    t_end = time.time()
    drained = wait_drained(prom, t_end, timeout=timeout)
    wait_scraped_after(prom, [GATEWAY_JOB, *PIPELINE_JOBS], drained)
    after = read_ledger(prom)
    expected = expected_deltas(Workload(accepted_by_action=Counter({action: 1})))
    findings += check_accounting(expected, before, after, (*GATEWAY_METRICS, *PIPELINE_METRICS))
    records = {component: _records(path, correlation_id) for component, path in logs.items()}
    findings += check_signal_flow(correlation_id, action, records)
    return correlation_id, findings


def workload_of_load(result: LoadResult) -> Workload:
    """What a Locust run got accepted/rejected, from its stats (request names ``signal``,
    ``malformed:<kind>``); a 400 for a malformed payload is a success of that request."""
    signal = result.endpoint("signal")
    invalid: Counter[str] = Counter()
    for name, stats in result.endpoints.items():
        if name.startswith("malformed:"):
            kind = name.removeprefix("malformed:")
            invalid[INVALID_KINDS.get(kind, kind)] += stats.requests - stats.failures
    return Workload(
        accepted_by_action=Counter({"any": signal.requests - signal.failures}),
        invalid_by_reason=invalid,
        errors=signal.failures,
    )


@dataclass
class LoadAccounting:
    """A Locust run and whether the gateway's counters account for every request of it."""

    result: LoadResult
    workload: Workload
    expected: Ledger
    before: Ledger
    after: Ledger
    findings: list[Finding]
    #: Locust's table beside the gateway histogram's view of the run's window
    report: LoadReport

    def summary(self) -> str:
        """One line for reports."""
        return (
            f"{self.result.requests} Locust requests ({self.workload.accepted} valid, {self.workload.invalid} "
            f"malformed, {self.result.failures} failed) at {self.result.rps:.0f} req/s: {len(self.findings)} series off"
        )


def run_load_accounting(
    prom: PrometheusClient,
    gateway_url: str,
    spec: LoadSpec,
    *,
    targets_file: Path | None = None,
    workdir: Path | None = None,
    keep_logs: Path | None = None,
) -> LoadAccounting:
    """Run a Locust load and prove the gateway counted exactly what Locust sent, split by status and
    reason (waits for the gateway scrape that follows the last request). Locust's output of a run with
    failures is kept in ``keep_logs`` (e.g. the run's report directory) when given."""
    wait_scraped_after(prom, [GATEWAY_JOB], time.time())
    before = read_ledger(prom, GATEWAY_METRICS)
    result = run_load(spec, gateway_url, targets_file=targets_file, workdir=workdir, keep_logs=keep_logs)
    wait_scraped_after(prom, [GATEWAY_JOB], result.ended_at)
    after = read_ledger(prom, GATEWAY_METRICS)
    workload = workload_of_load(result)
    expected = expected_deltas(workload, pipeline=False)
    if workload.errors == 0:
        # without failures every request is accounted for: the gateway total must equal Locust's total
        expected[("gateway_processing_duration_seconds_count", ())] = result.requests
    findings = check_accounting(expected, before, after, GATEWAY_METRICS)
    report = result.report().compared(prom)
    if result.failures:
        failing = {n: e.failures for n, e in result.endpoints.items() if e.failures}
        last = result.output.strip().splitlines()[-1:]
        where = f"; see {result.log}" if result.log else f"; Locust's output ends: {last[0]}" if last else ""
        findings.append(
            Finding("accounting", "locust", f"{result.failures} requests failed (by name: {failing}){where}")
        )
    return LoadAccounting(result, workload, expected, before, after, findings, report)
