from __future__ import annotations

import pytest

from obs_tests.demo import signal_routing as routing


@pytest.mark.parametrize(
    ("action", "subject", "agents"),
    [
        pytest.param("buy", "signals.trade.buy", ("momentum", "risk", "sentiment", "correlation"), id="buy"),
        pytest.param("sell", "signals.trade.sell", ("momentum", "risk", "sentiment", "correlation"), id="sell"),
        pytest.param("hold", "signals.hold.hold", ("risk", "sentiment"), id="hold"),
    ],
)
def test_routing_subject_and_agents(action: str, subject: str, agents: tuple[str, ...]) -> None:
    assert routing.subject_for(action) == subject
    assert routing.agents_for(action) == agents


def test_routing_unknown_action_raises() -> None:
    with pytest.raises(KeyError):
        routing.subject_for("short")
    with pytest.raises(KeyError):
        routing.agents_for("short")


def test_routing_consumers_have_one_filter_inside_their_stream() -> None:
    for agent in routing.AGENT_TYPES:
        spec = routing.consumer_for(agent)
        assert spec.durable == f"agent-{agent}"
        assert spec.stream == routing.SIGNALS_STREAM.name
        assert spec.filter_subject in ("signals.>", "signals.trade.>")
    assert routing.ORCHESTRATOR_CONSUMER.stream == routing.DECISIONS_STREAM.name


def test_routing_every_subject_is_captured_by_its_stream() -> None:
    for action in routing.ACTIONS:
        assert routing._matches(routing.SIGNALS_STREAM.subjects[0], routing.subject_for(action))
    for agent in routing.AGENT_TYPES:
        assert routing._matches(routing.DECISIONS_STREAM.subjects[0], routing.decision_subject(agent))


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("signals.>", "signals.trade.buy", True),
        ("signals.>", "signals", False),
        ("signals.trade.>", "signals.hold.hold", False),
        ("signals.*.buy", "signals.trade.buy", True),
        ("signals.*", "signals.trade.buy", False),
        ("a.b", "a.b", True),
    ],
)
def test_routing_subject_matching(pattern: str, subject: str, expected: bool) -> None:
    assert routing._matches(pattern, subject) is expected


def test_routing_streams_are_capped_memory_streams() -> None:
    for spec in routing.STREAMS.values():
        assert spec.max_age_seconds <= 3600
        assert spec.max_bytes <= 256 * 1024 * 1024
        assert spec.duplicate_window_seconds > 0


def test_routing_msg_id_names_stage() -> None:
    assert routing.msg_id("abc", "gateway") == "abc:gateway"
    assert routing.msg_id("abc", "risk") != routing.msg_id("abc", "gateway")
