"""``python -m obs_tests.demo <service> [options]``: run one mock service as its own process.

Services: ``gateway``, ``agent --agent-type …``, ``orchestrator``, ``exchange``, ``bot --exchange-url …``,
``sink``, ``nats-exporter``. Every service takes ``--host``, ``--port`` (required), ``--nats-url``,
``--log-level``, ``--admin-allow`` and ``--seed``; see ``--help`` of each.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from prometheus_client import disable_created_metrics

from obs_tests.demo.http import AdminGuard
from obs_tests.demo.market import SCENARIOS
from obs_tests.demo.runtime import CommonOptions, Service, serve
from obs_tests.demo.signal_routing import AGENT_TYPES

__all__ = ["build_parser", "build_service", "main"]


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("common options")
    group.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    group.add_argument("--port", type=int, required=True, help="port to bind")
    group.add_argument("--nats-url", default="nats://127.0.0.1:4222", help="NATS server (default: %(default)s)")
    group.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="(default: %(default)s)",
    )
    group.add_argument(
        "--admin-allow",
        default="127.0.0.0/8,::1",
        help="comma list of CIDRs allowed to use /admin (default: %(default)s)",
    )
    group.add_argument("--seed", type=int, default=None, help="seed of the fault (and market) RNG")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per service."""
    parser = argparse.ArgumentParser(
        prog="python -m obs_tests.demo", description="Run one obs-tests mock service as its own process."
    )
    commands = parser.add_subparsers(dest="service", required=True, metavar="SERVICE")

    gateway = commands.add_parser("gateway", help="signal webhook gateway (publishes to NATS)")
    _common(gateway)
    gateway.add_argument("--publish-timeout", type=float, default=2.0, help="JetStream ack timeout, s (default: 2)")
    gateway.add_argument(
        "--no-instrumentation",
        action="store_true",
        help="do not update the gateway's own metrics (they stay at 0; process metrics still work): "
        "the baseline for measuring what instrumentation costs",
    )

    agent = commands.add_parser("agent", help="one scoring agent (one process per agent type)")
    _common(agent)
    agent.add_argument("--agent-type", required=True, choices=AGENT_TYPES)
    agent.add_argument("--publish-timeout", type=float, default=2.0, help="decision publish timeout, s")

    orchestrator = commands.add_parser("orchestrator", help="workflow orchestrator (state in Redis)")
    _common(orchestrator)
    orchestrator.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="(default: %(default)s)")
    orchestrator.add_argument(
        "--workflow-timeout", type=float, default=10.0, help="seconds before an open workflow times out"
    )

    exchange = commands.add_parser("exchange", help="price feed playing market scenarios")
    _common(exchange)
    exchange.add_argument("--tick-seconds", type=float, default=0.25, help="(default: %(default)s)")
    exchange.add_argument("--scenario", default="sideways", choices=tuple(SCENARIOS), help="(default: %(default)s)")

    bot = commands.add_parser("bot", help="paper-trading bot on the NATS bus (reads the exchange's candle feed)")
    _common(bot)
    bot.add_argument("--exchange-url", required=True, help="the exchange's base URL, e.g. http://127.0.0.1:8084")
    bot.add_argument(
        "--poll-interval", type=_positive, default=0.6, help="seconds between monitoring cycles (default: %(default)s)"
    )
    bot.add_argument(
        "--fetch-timeout", type=_positive, default=2.0, help="seconds a price fetch may take (default: %(default)s)"
    )

    sink = commands.add_parser("sink", help="Alertmanager webhook sink")
    _common(sink)
    sink.add_argument("--capacity", type=int, default=100_000, help="notifications kept (default: %(default)s)")

    exporter = commands.add_parser("nats-exporter", help="Prometheus exporter for nats-server monitoring")
    _common(exporter)
    exporter.add_argument("--nats-monitor-url", default="http://127.0.0.1:8222", help="(default: %(default)s)")
    exporter.add_argument("--monitor-timeout", type=float, default=0.5, help="per-request timeout, s")
    return parser


def build_service(args: argparse.Namespace) -> Service:
    """The service the parsed ``args`` ask for.

    Each service module is imported only here, so a process loads only what it runs (start time, RSS).
    """
    options = CommonOptions(
        port=args.port,
        host=args.host,
        nats_url=args.nats_url,
        log_level=args.log_level,
        admin_allow=tuple(part.strip() for part in args.admin_allow.split(",") if part.strip()),
        seed=args.seed,
    )
    if args.service == "gateway":
        from obs_tests.demo.gateway import Gateway  # noqa: PLC0415

        return Gateway(options, publish_timeout=args.publish_timeout, instrumentation=not args.no_instrumentation)
    if args.service == "agent":
        from obs_tests.demo.agent import Agent  # noqa: PLC0415

        return Agent(options, agent_type=args.agent_type, publish_timeout=args.publish_timeout)
    if args.service == "orchestrator":
        from obs_tests.demo.orchestrator import Orchestrator  # noqa: PLC0415

        return Orchestrator(options, redis_url=args.redis_url, workflow_timeout=args.workflow_timeout)
    if args.service == "exchange":
        from obs_tests.demo.exchange import Exchange  # noqa: PLC0415

        return Exchange(options, tick_seconds=args.tick_seconds, scenario=args.scenario)
    if args.service == "bot":
        from obs_tests.demo.bot import Bot  # noqa: PLC0415

        timing = {"poll_interval": args.poll_interval, "fetch_timeout": args.fetch_timeout}
        return Bot(options, exchange_url=args.exchange_url, **timing)
    if args.service == "sink":
        from obs_tests.demo.sink import Sink  # noqa: PLC0415

        return Sink(options, capacity=args.capacity)
    from obs_tests.demo.nats_exporter import NatsExporter  # noqa: PLC0415

    return NatsExporter(options, monitor_url=args.nats_monitor_url, timeout=args.monitor_timeout)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, build the service and serve it until SIGTERM/SIGINT."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        AdminGuard(args.admin_allow.split(","))
    except ValueError as exc:
        parser.error(f"--admin-allow: {exc}")
    disable_created_metrics()  # type: ignore[no-untyped-call]
    return serve(build_service(args))


if __name__ == "__main__":
    sys.exit(main())
