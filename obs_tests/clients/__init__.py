"""Thin HTTP API clients for Prometheus, Alertmanager and Grafana."""

from __future__ import annotations

from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.prometheus import PrometheusClient, Sample, Target

__all__ = ["AlertmanagerClient", "PrometheusClient", "Sample", "Target"]
