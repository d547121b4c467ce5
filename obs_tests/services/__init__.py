"""The instrumented mock trading system and the alert webhook sink, each run as its own process.

``python -m obs_tests.services <service>`` with service ``gateway``, ``agent``, ``orchestrator``,
``exchange``, ``sink`` or ``nats-exporter``. Pure parts that tests and other packages use directly:
:mod:`~obs_tests.services.routing` (subjects, streams, consumers, expected fan-out),
:mod:`~obs_tests.services.market` (scenario price paths), :mod:`~obs_tests.services.scoring`,
:mod:`~obs_tests.services.signals` and :mod:`~obs_tests.services.faults`. Nothing is re-exported here so
each service process imports only what it runs.
"""

from __future__ import annotations

__all__: list[str] = []
