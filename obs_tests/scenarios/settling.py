"""Before a scenario: wait until the previous incident is fully over (:func:`settle`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Set

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.clients.webhook_sink import SinkClient
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, WaitTimeout

__all__ = ["WATCHDOG", "settle"]

WATCHDOG = "Watchdog"


def settle(
    prom: PrometheusClient, sink: SinkClient | None, known: Set[str], *, timeout: float, stop: threading.Event
) -> None:
    """Wait until no alert but the watchdog is pending or firing in Prometheus, and every alert of ``known``
    whose last notification said "firing" has had its "resolved" one (else Alertmanager would dedupe the
    next run's first notification of the same alert); :class:`ObsTestsError` when that takes over ``timeout``."""

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

    def probe() -> Poll[list[str]]:
        active = sorted({a["labels"].get("alertname", "") for a in prom.alerts()} - {WATCHDOG})
        unresolved = [] if active else open_incidents()
        return Poll(
            not active and not unresolved,
            active + unresolved,
            f"active in Prometheus: {', '.join(active) or 'none'}; notified firing, not yet resolved: "
            f"{', '.join(unresolved) or 'none'}",
        )

    try:
        wait_for(
            probe,
            timeout=timeout,
            interval=0.2,
            expected="no alert active except the watchdog, every notified incident resolved",
            transient=(ObsTestsError,),
            stop=stop,
        )
    except WaitTimeout as exc:
        raise ObsTestsError(f"the stack did not settle before the scenario: {exc.message}") from None
