"""The duplicate notifications an Alertmanager partition causes, per minute (issue 21).

Usage: .venv/bin/python benchmarks/ha_partition.py [--minutes 1] [--pause 6]

Starts the HA embedded stack (2 Prometheus replicas, 3 Alertmanager peers) and runs incidents back to
back — the gateway killed until GatewayDown's firing notification reaches the webhook sink, then started
until its resolved notification does — for ``--minutes`` in each of two modes:

- ``healthy``: the mesh whole;
- ``partitioned``: ``alertmanager-2`` frozen (SIGSTOP) for ``--pause`` s from the start of each incident,
  then resumed, and the next incident waits until the three peers are one mesh again.

Every notification of GatewayDown to ``critical`` is counted at the sink; one firing and one resolved per
incident are expected, the rest are duplicates — split into those of the same status in a row (two peers
notified the same change) and flaps (a stale "firing" after the "resolved", or "resolved" after it). Prints
per mode the incidents, notifications, duplicates and duplicates per minute; the sink's payloads name the
peer that sent each (``externalURL``).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from obs_tests.clients.webhook_sink import SinkClient  # noqa: E402
from obs_tests.config.contract import load_contract, with_topology  # noqa: E402
from obs_tests.core.waiting import Poll, wait_for  # noqa: E402
from obs_tests.stack import EmbeddedStack  # noqa: E402
from obs_tests.stack.readiness import wait_cluster_formed  # noqa: E402

ALERT, RECEIVER = "GatewayDown", "critical"


def _notes(sink: SinkClient, since: float) -> list[dict[str, Any]]:
    return sink.notifications(alertname=ALERT, receiver=RECEIVER, since=since)


def _until(sink: SinkClient, since: float, status: str) -> None:
    def probe() -> Poll[int]:
        got = [n for n in _notes(sink, since) if n["status"] == status]
        return Poll(bool(got), len(got), f"{len(got)} {status} notification(s)")

    wait_for(probe, timeout=60, interval=0.1, expected=f"a {status} {ALERT} notification", bound="60 s")


def incident(stack: EmbeddedStack, sink: SinkClient, pause: float | None) -> float:
    """One incident (optionally with alertmanager-2 frozen for ``pause`` s from its start); its start."""
    started = time.time()
    paused_until = started + pause if pause else None
    if pause:
        stack.pause("alertmanager-2")
    try:
        stack.kill("gateway")
        _until(sink, started, "firing")
        stack.start("gateway")
        _until(sink, started, "resolved")
        if paused_until is not None:  # the partition is held for --pause s: a fault's stated duration
            threading.Event().wait(max(0.0, paused_until - time.time()))
    finally:
        if pause:
            stack.resume("alertmanager-2")
        if not stack.processes["gateway"].running():
            stack.start("gateway")
    return started


def count(notes: list[dict[str, Any]], incidents: int) -> dict[str, int]:
    """Notifications, duplicates of the same status in a row, and flaps."""
    statuses = [n["status"] for n in sorted(notes, key=lambda n: n["received_at"])]
    repeats = sum(1 for a, b in itertools.pairwise(statuses) if a == b)
    extra = len(statuses) - 2 * incidents
    return {"notifications": len(statuses), "duplicates": max(extra, 0), "in_a_row": repeats}


def run_mode(stack: EmbeddedStack, sink: SinkClient, minutes: float, pause: float | None) -> dict[str, Any]:
    since = time.time()
    incidents = 0
    while time.time() - since < minutes * 60:
        incident(stack, sink, pause)
        incidents += 1
        wait_cluster_formed(stack.alertmanager_urls, timeout=60, stop=threading.Event())
    threading.Event().wait(stack.topology.dedup_bound)  # the last incident's late duplicates may come that long
    elapsed = time.time() - since
    notes = _notes(sink, since)
    counted = count(notes, incidents)
    senders = sorted({str(n.get("sender")) for n in notes})
    ordered = sorted(notes, key=lambda n: n["received_at"])
    in_a_row = [
        f"{b['status']} +{a['received_at'] - since:.1f}s from {a.get('sender')} and +{b['received_at'] - since:.1f}s "
        f"from {b.get('sender')}"
        for a, b in itertools.pairwise(ordered)
        if a["status"] == b["status"]
    ]
    return {"incidents": incidents, "minutes": elapsed / 60, **counted, "senders": senders, "pairs": in_a_row}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="per mode")
    parser.add_argument("--pause", type=float, default=6.0, help="seconds alertmanager-2 stays frozen")
    args = parser.parse_args()
    contract = with_topology(load_contract(ROOT / "obs.yaml"), "ha")
    print(f"topology: {contract.stack.topology.describe()}, peer timeout {contract.stack.topology.peer_timeout:g}s")
    with EmbeddedStack(contract) as stack:
        sink = SinkClient(stack.url("webhook-sink"))
        rows = {
            "healthy": run_mode(stack, sink, args.minutes, None),
            f"partitioned ({args.pause:g}s)": run_mode(stack, sink, args.minutes, args.pause),
        }
    print(f"{'mode':22} {'incidents':>9} {'minutes':>7} {'notes':>6} {'dups':>5} {'in a row':>8} {'dups/min':>8}")
    for mode, row in rows.items():
        per_minute = row["duplicates"] / row["minutes"] if row["minutes"] else 0.0
        print(
            f"{mode:22} {row['incidents']:9} {row['minutes']:7.2f} {row['notifications']:6} "
            f"{row['duplicates']:5} {row['in_a_row']:8} {per_minute:8.2f}"
        )
    print("senders:", ", ".join(rows["healthy"]["senders"]))
    for mode, row in rows.items():
        for pair in row["pairs"]:
            print(f"  {mode}: two {pair}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
