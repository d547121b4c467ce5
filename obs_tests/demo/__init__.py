"""The instrumented mock trading system and the alert webhook sink, each run as its own process.

``python -m obs_tests.demo <service>`` with service ``gateway``, ``agent``, ``orchestrator``,
``exchange``, ``sink`` or ``nats-exporter``. Pure parts that tests and other packages use directly:
:mod:`~obs_tests.demo.signal_routing` (subjects, streams, consumers, expected fan-out),
:mod:`~obs_tests.demo.market` (scenario price paths), :mod:`~obs_tests.demo.scoring`,
:mod:`~obs_tests.demo.signals` and :mod:`~obs_tests.demo.fault_modes`. Nothing is re-exported here so
each service process imports only what it runs.
"""

from __future__ import annotations

__all__: list[str] = []
