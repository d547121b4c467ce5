"""Before a scenario: wait until the previous incident is fully over (:func:`settle`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence, Set

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.clients.webhook_sink import SinkClient
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, WaitTimeout

__all__ = ["WATCHDOG", "settle"]

WATCHDOG = "Watchdog"


def settle(
    prom: PrometheusClient,
    sink: SinkClient | None,
    known: Set[str],
    *,
    timeout: float,
    stop: threading.Event,
    at_rest: Sequence[str] = (),
) -> None:
    """Wait until the system is at rest (every query of ``at_rest`` returns no series: what an earlier fault
    left in flight has ended and been seen by the rules), no alert but the watchdog is pending or firing in
    Prometheus, and every alert of ``known`` whose last notification said "firing" has had its "resolved"
    one (else Alertmanager would dedupe the next run's first notification of the same alert);
    :class:`ObsTestsError` when that takes over ``timeout``."""

    def open_incidents() -> list[str]:
        if sink is None:
            return []
        last: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        for note in sink.notifications(since=time.time() - 900):
            labels = dict(note.get("labels") or {})
            name = labels.get("alertname", "")
            if name in known:
                last[(name, str(note.get("receiver")), tuple(sorted(labels.items())))] = str(note.get("status"))
        return sorted({key[0] for key, status in last.items() if status == "firing"})

    def in_flight() -> list[str]:
        busy = []
        for expr in at_rest:
            samples = prom.query(expr)
            if samples:
                busy.append(f"{expr} = {samples[0].value:g}")
        return busy

    def probe() -> Poll[list[str]]:
        busy = in_flight()
        active = sorted({a["labels"].get("alertname", "") for a in prom.alerts()} - {WATCHDOG})
        unresolved = [] if active or busy else open_incidents()
        return Poll(
            not busy and not active and not unresolved,
            busy + active + unresolved,
            f"in flight: {'; '.join(busy) or 'nothing'}; active in Prometheus: {', '.join(active) or 'none'}; "
            f"notified firing, not yet resolved: {', '.join(unresolved) or 'none'}",
        )

    try:
        wait_for(
            probe,
            timeout=timeout,
            interval=0.2,
            expected="the system at rest, no alert active except the watchdog, every notified incident resolved",
            transient=(ObsTestsError,),
            stop=stop,
        )
    except WaitTimeout as exc:
        raise ObsTestsError(f"the stack did not settle before the scenario: {exc.message}") from None
