"""The demo trading system described to the embedded stack
(:class:`~obs_tests.stack.system_under_test.SystemUnderTest`): its processes (NATS, Redis and their
exporters, the webhook sink, the gateway, one agent per type, the orchestrator, the exchange), its warm-up
traffic, and the workloads the suite drives through it. The paper-trading bot starts after the exchange and
reads its candle feed (``--exchange-url``).

The contract names it (``stack.system: obs_tests.demo.system``, the default of an embedded stack); the
validator reaches it only through :func:`~obs_tests.stack.system_under_test.load_system`.
"""

from __future__ import annotations

import contextlib
import io
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from obs_tests.checks.incident import health_endpoints, probe_health, unexpected_alerts
from obs_tests.core.findings import Finding
from obs_tests.demo.market import SCENARIOS
from obs_tests.demo.signal_routing import AGENT_TYPES
from obs_tests.demo.traffic import invalid_signal, mixed_workload, send_concurrently, send_signals, valid_signal
from obs_tests.demo.workload import (
    load_latency_quantiles,
    measure_latency_quantiles,
    run_accounting,
    run_load_accounting,
    trace_signal,
    wait_drained,
    wait_scraped_after,
)
from obs_tests.errors import StackStartError
from obs_tests.scenarios.settling import settle
from obs_tests.stack.ports import LOOPBACK
from obs_tests.stack.probes import HttpProbe, Probe, RedisProbe
from obs_tests.stack.system_under_test import (
    ServicePlan,
    ServiceSpec,
    SystemUnderTest,
    WarmUp,
    WorkloadContext,
    WorkloadOutcome,
)
from obs_tests.workloads import LoadSpec

__all__ = ["AGENT_COMPONENTS", "MOCK_SERVICES", "SYSTEM"]

MODULE = "obs_tests.demo"
AGENT_COMPONENTS = tuple(f"agent-{t}" for t in AGENT_TYPES)
#: the trading services (each ``python -m obs_tests.demo <kind>``)
MOCK_SERVICES = ("gateway", *AGENT_COMPONENTS, "orchestrator", "exchange", "bot")


def _service(
    name: str,
    description: str,
    kind: str,
    extra: Sequence[Callable[[ServicePlan], list[str]]] = (),
    health: str = "/healthz",
) -> ServiceSpec:
    def argv(plan: ServicePlan) -> list[str]:
        common = ["--host", LOOPBACK, "--port", str(plan.port(name))]
        common += ["--nats-url", f"nats://{LOOPBACK}:{plan.port('nats', 'client')}", "--seed", str(plan.seed)]
        return [plan.python, "-m", MODULE, kind, *common, *(arg for more in extra for arg in more(plan))]

    def probe(plan: ServicePlan) -> Probe:
        return plan.http_probe(name, health)

    return ServiceSpec(name, description, argv, probe)


def _fixed(*args: str) -> Callable[[ServicePlan], list[str]]:
    """Arguments that do not depend on the plan."""
    return lambda _plan: list(args)


def _nats(plan: ServicePlan) -> list[str]:
    client, monitor = plan.port("nats", "client"), plan.port("nats", "monitor")
    data = plan.workdir / "data" / "nats"
    listen = ["-a", LOOPBACK, "-p", str(client), "-m", str(monitor)]
    return ["nats-server", *listen, "-js", "-sd", str(data), "--server_name", "obs-tests"]


def _redis(plan: ServicePlan) -> list[str]:
    port = str(plan.port("redis", "client"))
    data = str(plan.workdir / "data")
    no_persistence = ["--save", "", "--appendonly", "no", "--dir", data]
    return ["redis-server", "--port", port, "--bind", LOOPBACK, *no_persistence, "--protected-mode", "yes"]


def _redis_exporter(plan: ServicePlan) -> list[str]:
    return [
        "prometheus-redis-exporter",
        f"--redis.addr=redis://{LOOPBACK}:{plan.port('redis', 'client')}",
        f"--web.listen-address={LOOPBACK}:{plan.port('redis-exporter')}",
    ]


def _services() -> tuple[ServiceSpec, ...]:
    nats = ServiceSpec(
        "nats",
        "NATS server with JetStream",
        _nats,
        lambda plan: HttpProbe(f"http://{LOOPBACK}:{plan.port('nats', 'monitor')}/healthz"),
        ports=("client", "monitor"),
        scheme="nats",
        metrics=False,
    )
    redis = ServiceSpec(
        "redis",
        "Redis server (no persistence)",
        _redis,
        lambda plan: RedisProbe(LOOPBACK, plan.port("redis", "client")),
        ports=("client",),
        scheme="redis",
        metrics=False,
    )
    redis_exporter = ServiceSpec(
        "redis-exporter",
        "prometheus-redis-exporter",
        _redis_exporter,
        lambda plan: plan.http_probe("redis-exporter", "/metrics"),
    )
    monitor = [lambda plan: ["--nats-monitor-url", f"http://{LOOPBACK}:{plan.port('nats', 'monitor')}"]]
    redis_url = [lambda plan: ["--redis-url", f"redis://{LOOPBACK}:{plan.port('redis', 'client')}"]]
    exchange_url = [lambda plan: ["--exchange-url", f"http://{LOOPBACK}:{plan.port('exchange')}"]]
    agents = [
        _service(f"agent-{kind}", f"mock {kind} agent", "agent", [_fixed("--agent-type", kind)]) for kind in AGENT_TYPES
    ]
    return (
        nats,
        redis,
        _service("webhook-sink", "alert webhook sink (records notifications)", "sink"),
        redis_exporter,
        _service("nats-exporter", "NATS monitoring exporter (obs-tests)", "nats-exporter", monitor),
        _service("gateway", "mock trading gateway", "gateway"),
        *agents,
        _service("orchestrator", "mock workflow orchestrator", "orchestrator", redis_url),
        _service("exchange", "mock exchange price feed", "exchange"),
        _service("bot", "paper-trading bot (stages on the NATS bus)", "bot", exchange_url),
    )


def _warm_up(urls: Mapping[str, str], seed: int) -> WarmUp:
    """Three valid signals (buy, sell, hold) and one malformed: ready once the three workflows completed."""
    rng = random.Random(seed)
    bodies = [valid_signal(rng, action=a) for a in ("buy", "sell", "hold")]
    bodies.append(invalid_signal(rng, "missing_field"))
    sent = send_signals(urls["gateway"], bodies)
    if sent.accepted != 3 or sent.invalid != 1:
        raise StackStartError(
            f"warm-up: the gateway accepted {sent.accepted}/3 valid and rejected {sent.invalid}/1 invalid "
            f"signals (errors: {sent.errors}); see the gateway's log"
        )
    return WarmUp(
        query='sum(orchestrator_workflows_total{status="completed"}) or vector(0)',
        expected=float(sent.accepted),
        description=f"{sent.accepted} warm-up signals crossed gateway → agents → orchestrator",
        bound="pipeline latency (ms) + 1 scrape interval",
    )


def _check_command(argv: Sequence[str]) -> str | None:
    from obs_tests.demo.__main__ import build_parser  # noqa: PLC0415 - argparse of every service, on demand

    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            build_parser().parse_args(list(argv))
    except SystemExit:
        return (errors.getvalue().strip().splitlines() or ["invalid arguments"])[-1]
    return None


# -- workloads the suite runs by name ---------------------------------------------------------------


def _exact_accounting(ctx: WorkloadContext) -> WorkloadOutcome:
    """N valid + M invalid webhooks: every counter on their path rose by exactly what happened."""
    run = run_accounting(ctx.prometheus, ctx.urls["gateway"], n_valid=400, n_invalid=100, seed=11)
    return WorkloadOutcome(run.summary(), run.findings)


def _latency_quantiles(ctx: WorkloadContext) -> WorkloadOutcome:
    """histogram_quantile over the gateway latency agrees with what the client measured (one bucket)."""
    results = measure_latency_quantiles(ctx.prometheus, ctx.urls["gateway"])
    summary = "gateway latency " + ", ".join(
        f"p{r.quantile * 100:g} histogram {r.from_histogram * 1000:.0f} ms vs measured {r.measured * 1000:.0f} ms"
        for r in results
    )
    return WorkloadOutcome(summary, [f for r in results for f in r.findings])


def _signal_flow(ctx: WorkloadContext) -> WorkloadOutcome:
    """One signal with an X-Correlation-ID: in the log of every component on its path, every counter +1."""
    correlation_id, findings = trace_signal(ctx.prometheus, ctx.urls["gateway"], ctx.logs, action="buy")
    path = "gateway → momentum/risk/sentiment/correlation → orchestrator"
    if findings:
        return WorkloadOutcome(f"signal {correlation_id} followed through {path}", findings)
    return WorkloadOutcome(f"signal {correlation_id} traced {path}")


def _load_accounting(ctx: WorkloadContext) -> WorkloadOutcome:
    """Every request Locust sent is counted by the gateway, split by status and reason — 0 unaccounted;
    and Prometheus scraped the load's own metrics (job ``load``). 20 users at up to 10 requests/s each:
    sustained load the pipeline keeps up with, not a CPU-saturating flood."""
    spec = LoadSpec(users=20, duration=12, malformed_ratio=0.1, think_time=0.1, stop_timeout=15)
    started = time.time()
    prom = ctx.prometheus
    run = run_load_accounting(prom, ctx.urls["gateway"], spec, targets_file=ctx.load_targets, keep_logs=ctx.keep_logs)
    findings = list(run.findings)
    window = max(int(time.time() - started) + 5, 30)
    offered = prom.query_value(f"max_over_time(sum(locust_requests_total)[{window}s:1s])") or 0.0
    if offered <= 0:
        findings.append(
            Finding("load", "job load", "Prometheus never scraped the load's own metrics (locust_requests_total)")
        )
    summary = f"{run.summary()}; Prometheus saw {offered:g} offered requests in job load"
    return WorkloadOutcome(summary, findings, load=run.report.to_json())


def _load_latency(ctx: WorkloadContext) -> WorkloadOutcome:
    """With a 20-180 ms latency fault, the gateway histogram's p50/p95 over a Locust run agree with Locust's."""
    spec = LoadSpec(users=30, duration=6, malformed_ratio=0.0, stop_timeout=10)
    result, quantiles = load_latency_quantiles(ctx.prometheus, ctx.urls["gateway"], spec)
    summary = f"{result.requests} requests: " + ", ".join(
        f"p{q.quantile * 100:g} histogram {q.from_histogram * 1000:.0f} ms vs Locust {q.measured * 1000:.0f} ms"
        for q in quantiles
    )
    report = result.report().compared(ctx.prometheus)  # Locust's table beside the gateway's, same window
    return WorkloadOutcome(summary, [f for q in quantiles for f in q.findings], load=report.to_json())


#: the webhooks of the high-load incident, all sent at once (one connection each)
INCIDENT_WEBHOOKS = 1000


def _high_load_incident(ctx: WorkloadContext) -> WorkloadOutcome:
    """1,000 valid webhooks at once on a quiet stack: every counter on their path accounts for them
    exactly, then every component's health endpoint answers 200 and no alert but the watchdog fired since
    the burst began (valid traffic only: malformed signals would rightly fire GatewayHighErrorRate)."""
    prom = ctx.prometheus
    settle(prom, None, frozenset(), timeout=60.0, stop=threading.Event())  # judge the burst's alerts alone
    started = time.time()
    run = run_accounting(
        prom, ctx.urls["gateway"], n_valid=INCIDENT_WEBHOOKS, n_invalid=0, seed=29, workers=INCIDENT_WEBHOOKS
    )
    endpoints = health_endpoints(ctx.urls, dict.fromkeys((*MOCK_SERVICES, "webhook-sink"), "/healthz"))
    unhealthy = probe_health(endpoints)
    alerts = unexpected_alerts(prom, since=started)
    summary = (
        f"{run.summary()}, sent at once; {len(endpoints) - len(unhealthy)}/{len(endpoints)} health endpoints "
        f"answered 200; {len(alerts)} unexpected alert(s)"
    )
    return WorkloadOutcome(summary, [*run.findings, *unhealthy, *alerts])


def _panel_traffic(ctx: WorkloadContext) -> WorkloadOutcome:
    """200 valid and 40 malformed signals, so rate and latency panels have something to show; done once the
    pipeline drained and that was scraped (the outcome's summary says what was sent).

    Drained counts from a NATS scrape after the last signal was sent, as the accounting's does: one that
    landed before the first signal reached NATS has nothing pending either, and the panels could then be
    read before a single workflow completed (the Overview's 'Workflows completed' constant zero, once)."""
    prom = ctx.prometheus
    sent = send_concurrently(ctx.urls["gateway"], mixed_workload(200, 40, seed=17, prefix="DASH"))
    drained = wait_drained(prom, prom.now())
    scraped = wait_scraped_after(prom, ["gateway", "agents", "orchestrator"], drained)
    return WorkloadOutcome(f"{sent.accepted} valid + {sent.invalid} malformed signals sent first", (), scraped)


SYSTEM = SystemUnderTest(
    name="demo trading system",
    module=MODULE,
    services=_services(),
    warm_up=_warm_up,
    check_command=_check_command,
    markets=tuple(sorted(SCENARIOS)),
    # a workflow left open by a fault (an agent down: its decision never comes) closes as "timeout" up to
    # --workflow-timeout (10 s) later and counts as a failure then: at rest when none has been open for
    # the last 5 s (5 scrapes, rule evaluations in between, have seen the last one close)
    at_rest=("sum(max_over_time(orchestrator_open_workflows[5s])) > 0",),
    workloads={
        "exact_accounting": _exact_accounting,
        "latency_quantiles": _latency_quantiles,
        "signal_flow": _signal_flow,
        "load_accounting": _load_accounting,
        "load_latency": _load_latency,
        "panel_traffic": _panel_traffic,
        "high_load_incident": _high_load_incident,
    },
)
