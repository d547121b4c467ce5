from __future__ import annotations

import pytest

from obs_tests.demo.__main__ import build_parser, build_service
from obs_tests.demo.agent import Agent
from obs_tests.demo.bot import Bot
from obs_tests.demo.exchange import Exchange
from obs_tests.demo.gateway import Gateway
from obs_tests.demo.nats_exporter import NatsExporter
from obs_tests.demo.orchestrator import Orchestrator
from obs_tests.demo.sink import Sink


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        pytest.param(["gateway", "--port", "1", "--publish-timeout", "0.5"], Gateway, id="gateway"),
        pytest.param(["agent", "--port", "1", "--agent-type", "risk"], Agent, id="agent"),
        pytest.param(["orchestrator", "--port", "1", "--redis-url", "redis://127.0.0.1:1/0"], Orchestrator, id="orch"),
        pytest.param(["exchange", "--port", "1", "--scenario", "bull_run", "--seed", "3"], Exchange, id="exchange"),
        pytest.param(["bot", "--port", "1", "--exchange-url", "http://127.0.0.1:2"], Bot, id="bot"),
        pytest.param(["sink", "--port", "1", "--capacity", "5"], Sink, id="sink"),
        pytest.param(["nats-exporter", "--port", "1"], NatsExporter, id="nats-exporter"),
    ],
)
def test_main_builds_each_service(argv: list[str], kind: type) -> None:
    service = build_service(build_parser().parse_args(argv))
    assert isinstance(service, kind)
    assert service.options.host == "127.0.0.1"
    assert service.options.nats_url == "nats://127.0.0.1:4222"
    assert service.options.admin_allow == ("127.0.0.0/8", "::1")


def test_main_common_options() -> None:
    args = build_parser().parse_args(
        [
            "sink",
            "--port",
            "9",
            "--host",
            "::1",
            "--log-level",
            "DEBUG",
            "--admin-allow",
            "10.0.0.0/8, ::1",
            "--seed",
            "4",
        ]
    )
    service = build_service(args)
    assert service.options.admin_allow == ("10.0.0.0/8", "::1")
    assert service.options.seed == 4
    assert service.options.log_level == "DEBUG"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["gateway"], id="port-required"),
        pytest.param(["agent", "--port", "1"], id="agent-type-required"),
        pytest.param(["agent", "--port", "1", "--agent-type", "oracle"], id="unknown-agent"),
        pytest.param(["exchange", "--port", "1", "--scenario", "moon"], id="unknown-scenario"),
        pytest.param(["teleporter", "--port", "1"], id="unknown-service"),
        pytest.param(["bot", "--port", "1"], id="bot-exchange-url-required"),
        pytest.param(["bot", "--port", "1", "--exchange-url", "x", "--poll-interval", "0"], id="bot-poll-zero"),
        pytest.param(["bot", "--port", "1", "--exchange-url", "x", "--fetch-timeout", "soon"], id="bot-timeout-nan"),
    ],
)
def test_main_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2


def test_main_bot_options() -> None:
    argv = ["bot", "--port", "1", "--exchange-url", "http://127.0.0.1:2/", "--poll-interval", "0.05"]
    bot = build_service(build_parser().parse_args([*argv, "--fetch-timeout", "0.5"]))
    assert isinstance(bot, Bot)
    assert (bot.exchange_url, bot.defaults.poll_interval_seconds, bot.fetch_timeout) == (
        "http://127.0.0.1:2",
        0.05,
        0.5,
    )
    assert bot.config.run == "default" and bot.config.strategy == "trend"
