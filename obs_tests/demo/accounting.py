"""Exact accounting: the counters rose by exactly what the workload did — not "roughly", not "> 0".

A *ledger* is a snapshot of the counters that account for signals, keyed by ``(metric, labels)``;
:func:`expected_deltas` turns a workload (what the gateway answered) into the rise each counter must
show, :func:`check_accounting` compares two ledgers against it. The mock system's routing
(``obs_tests.demo.signal_routing``) says how many signals each agent must have processed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from obs_tests.core.findings import Finding
from obs_tests.demo.signal_routing import AGENT_TYPES, agents_for

__all__ = [
    "LEDGER_QUERIES",
    "Ledger",
    "LedgerKey",
    "Workload",
    "check_accounting",
    "check_signal_flow",
    "deltas",
    "expected_deltas",
    "format_key",
]

LedgerKey = tuple[str, tuple[tuple[str, str], ...]]
Ledger = dict[LedgerKey, float]

#: metric -> the PromQL that reads it into a ledger (summed over instances, split by its accounting label)
LEDGER_QUERIES: dict[str, str] = {
    "gateway_webhooks_total": "sum by (status) (gateway_webhooks_total)",
    "gateway_validation_errors_total": "sum by (reason) (gateway_validation_errors_total)",
    "gateway_processing_duration_seconds_count": "sum(gateway_processing_duration_seconds_count)",
    "gateway_nats_publish_failures_total": "sum(gateway_nats_publish_failures_total)",
    "agent_messages_processed_total": "sum by (agent_type) (agent_messages_processed_total)",
    "orchestrator_workflows_total": "sum by (status) (orchestrator_workflows_total)",
}

GATEWAY_METRICS = (
    "gateway_webhooks_total",
    "gateway_validation_errors_total",
    "gateway_processing_duration_seconds_count",
    "gateway_nats_publish_failures_total",
)
PIPELINE_METRICS = ("agent_messages_processed_total", "orchestrator_workflows_total")


@dataclass
class Workload:
    """What the gateway answered to a workload: the ground truth the counters must match."""

    accepted_by_action: Counter[str] = field(default_factory=Counter)
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    publish_failures: int = 0

    @property
    def accepted(self) -> int:
        """Signals the gateway accepted (200)."""
        return sum(self.accepted_by_action.values())

    @property
    def invalid(self) -> int:
        """Payloads the gateway rejected (400/413)."""
        return sum(self.invalid_by_reason.values())

    @property
    def total(self) -> int:
        """Every request."""
        return self.accepted + self.invalid + self.errors


def _key(metric: str, **labels: str) -> LedgerKey:
    return metric, tuple(sorted(labels.items()))


def format_key(key: LedgerKey) -> str:
    """``metric{label="value"}``."""
    metric, labels = key
    return metric + ("{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else "")


def expected_deltas(workload: Workload, *, pipeline: bool = True) -> Ledger:
    """The rise each accounting counter must show after ``workload`` (keys absent: must not move)."""
    expected: Ledger = {
        _key("gateway_webhooks_total", status="accepted"): workload.accepted,
        _key("gateway_webhooks_total", status="invalid"): workload.invalid,
        _key("gateway_webhooks_total", status="error"): workload.errors,
        _key("gateway_processing_duration_seconds_count"): workload.total,
        _key("gateway_nats_publish_failures_total"): workload.publish_failures,
    }
    for reason, count in workload.invalid_by_reason.items():
        expected[_key("gateway_validation_errors_total", reason=reason)] = count
    if pipeline:
        routed: Counter[str] = Counter(dict.fromkeys(AGENT_TYPES, 0))
        for action, count in workload.accepted_by_action.items():
            for agent in agents_for(action):
                routed[agent] += count
        for agent, count in routed.items():
            expected[_key("agent_messages_processed_total", agent_type=agent)] = count
        expected[_key("orchestrator_workflows_total", status="completed")] = workload.accepted
    return expected


def deltas(before: Mapping[LedgerKey, float], after: Mapping[LedgerKey, float]) -> Ledger:
    """``after - before`` for every key in either (a missing key counts as 0)."""
    return {key: after.get(key, 0.0) - before.get(key, 0.0) for key in set(before) | set(after)}


def check_accounting(
    expected: Mapping[LedgerKey, float],
    before: Mapping[LedgerKey, float],
    after: Mapping[LedgerKey, float],
    metrics: Sequence[str],
) -> list[Finding]:
    """Each counter of ``metrics`` rose by exactly its expected amount; any other series of them stayed put.

    Messages show expected vs actual per series, e.g.
    ``gateway_webhooks_total{status="accepted"}: expected +100, got +98 (2 unaccounted)``.
    """
    moved = deltas(before, after)
    findings = []
    keys = {k for k in set(expected) | set(moved) if k[0] in metrics}
    for key in sorted(keys):
        want = expected.get(key, 0.0)
        got = moved.get(key, 0.0)
        if got == want:
            continue
        gap = want - got
        why = f"{gap:g} unaccounted" if gap > 0 else f"{-gap:g} counted that did not happen"
        findings.append(Finding("accounting", format_key(key), f"expected +{want:g}, got {got:+g} ({why})"))
    return findings


def check_signal_flow(
    correlation_id: str,
    action: str,
    logs: Mapping[str, Sequence[dict[str, object]]],
) -> list[Finding]:
    """The correlation id of one signal appears in the log of every component on its path.

    ``logs`` maps component -> parsed JSON log records; the path is the gateway, every agent the
    routing sends ``action`` to, and the orchestrator.
    """
    path = ["gateway", *(f"agent-{a}" for a in agents_for(action)), "orchestrator"]
    findings = []
    for component in path:
        records = logs.get(component)
        if records is None:
            findings.append(Finding("signal-flow", component, "no log available for this component"))
            continue
        if not any(r.get("correlation_id") == correlation_id for r in records):
            findings.append(
                Finding(
                    "signal-flow",
                    component,
                    f"correlation id {correlation_id} ({action} signal) never appears in its log — the signal "
                    "did not reach it or the id was not propagated (NATS header X-Correlation-ID)",
                )
            )
    return findings
