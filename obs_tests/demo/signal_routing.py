"""Where messages of the mock trading system go: NATS subjects, JetStream streams and consumers.

Pure data and functions, shared by the gateway, the agents, the orchestrator and by tests that compute
the counts a run must produce::

    >>> subject_for("buy")
    'signals.trade.buy'
    >>> agents_for("hold")
    ('risk', 'sentiment')

A valid signal is published on ``signals.<class>.<action>`` (class ``trade`` for buy/sell, ``hold`` for
hold). Each agent has one durable pull consumer with a single filter subject (NATS 2.9 allows one):
risk and sentiment see every signal, momentum and correlation only trades. Agents publish their
decision on ``decisions.<agent_type>``; the orchestrator's durable consumer reads them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "ACTIONS",
    "AGENT_TYPES",
    "CONSUMERS",
    "DECISIONS_STREAM",
    "HEADER_CORRELATION_ID",
    "HEADER_MSG_ID",
    "HEADER_RECEIVED_AT",
    "ORCHESTRATOR_CONSUMER",
    "SIGNALS_STREAM",
    "STREAMS",
    "ConsumerSpec",
    "StreamSpec",
    "agents_for",
    "consumer_for",
    "decision_subject",
    "msg_id",
    "price_subject",
    "subject_for",
]

ACTIONS: Final = ("buy", "sell", "hold")
AGENT_TYPES: Final = ("momentum", "risk", "sentiment", "correlation")

HEADER_CORRELATION_ID: Final = "X-Correlation-ID"
HEADER_RECEIVED_AT: Final = "X-Received-At"
HEADER_MSG_ID: Final = "Nats-Msg-Id"


@dataclass(frozen=True)
class StreamSpec:
    """A JetStream stream: memory storage, limits retention, old messages discarded at the caps."""

    name: str
    subjects: tuple[str, ...]
    max_age_seconds: float = 3600.0
    max_bytes: int = 256 * 1024 * 1024
    duplicate_window_seconds: float = 120.0


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer with one filter subject."""

    durable: str
    stream: str
    filter_subject: str
    ack_wait_seconds: float = 30.0
    max_ack_pending: int = 20_000


SIGNALS_STREAM: Final = StreamSpec("SIGNALS", ("signals.>",))
DECISIONS_STREAM: Final = StreamSpec("DECISIONS", ("decisions.>",))
STREAMS: Final = {SIGNALS_STREAM.name: SIGNALS_STREAM, DECISIONS_STREAM.name: DECISIONS_STREAM}

_TRADE_FILTER: Final = "signals.trade.>"
_ALL_FILTER: Final = "signals.>"

CONSUMERS: Final = {
    "momentum": ConsumerSpec("agent-momentum", SIGNALS_STREAM.name, _TRADE_FILTER),
    "risk": ConsumerSpec("agent-risk", SIGNALS_STREAM.name, _ALL_FILTER),
    "sentiment": ConsumerSpec("agent-sentiment", SIGNALS_STREAM.name, _ALL_FILTER),
    "correlation": ConsumerSpec("agent-correlation", SIGNALS_STREAM.name, _TRADE_FILTER),
}
ORCHESTRATOR_CONSUMER: Final = ConsumerSpec("orchestrator", DECISIONS_STREAM.name, "decisions.>")

_SUBJECTS: Final = {
    "buy": "signals.trade.buy",
    "sell": "signals.trade.sell",
    "hold": "signals.hold.hold",
}


def _matches(filter_subject: str, subject: str) -> bool:
    """NATS subject matching for the ``*`` and ``>`` wildcards."""
    pattern = filter_subject.split(".")
    tokens = subject.split(".")
    for index, part in enumerate(pattern):
        if part == ">":
            return len(tokens) > index
        if index >= len(tokens) or (part not in ("*", tokens[index])):
            return False
    return len(tokens) == len(pattern)


_AGENTS: Final = {
    action: tuple(agent for agent in AGENT_TYPES if _matches(CONSUMERS[agent].filter_subject, subject))
    for action, subject in _SUBJECTS.items()
}


def subject_for(action: str) -> str:
    """The subject a valid signal with ``action`` is published on; ``KeyError`` for an unknown action."""
    return _SUBJECTS[action]


def agents_for(action: str) -> tuple[str, ...]:
    """The agent types whose consumers receive a signal with ``action`` (in ``AGENT_TYPES`` order)."""
    return _AGENTS[action]


def consumer_for(agent_type: str) -> ConsumerSpec:
    """The durable consumer of ``agent_type``; ``KeyError`` for an unknown type."""
    return CONSUMERS[agent_type]


def decision_subject(agent_type: str) -> str:
    """The subject an agent publishes its decisions on."""
    return f"decisions.{agent_type}"


def price_subject(pair: str) -> str:
    """The core-NATS subject of the exchange's ticks of ``pair`` (``BTC-USD`` → ``prices.BTC-USD``)."""
    return f"prices.{pair}"


def msg_id(correlation_id: str, stage: str) -> str:
    """The ``Nats-Msg-Id`` of a publish, so JetStream's duplicate window drops a retried publish."""
    return f"{correlation_id}:{stage}"
