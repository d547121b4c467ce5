"""Render the Prometheus and Alertmanager configuration of the embedded stack.

The embedded stack scrapes loopback ports, so its Prometheus config is generated from the contract:
each contract job becomes a scrape job whose targets are the addresses of the job's components.
The Alertmanager config is the project's own ``alertmanager/alertmanager.yml`` with every URL that
points at a component by its compose service name (``http://webhook-sink:9095/...``) rewritten to
that component's loopback address — routing, grouping and inhibition stay exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from obs_tests.config.contract import Contract, Job
from obs_tests.core.durations import format_duration
from obs_tests.core.yamlfile import load_yaml
from obs_tests.errors import ConfigInvalid, ContractInvalid

__all__ = ["render_alertmanager_config", "render_prometheus_config", "rewrite_urls"]

_URL = re.compile(r"^(?P<scheme>https?://)(?P<host>[A-Za-z0-9_.-]+)(?::(?P<port>[0-9]+))?(?P<rest>/.*)?$")


#: how long Prometheus waits for an Alertmanager to take a batch of alerts (within the resend delay, 1 s)
ALERTMANAGER_TIMEOUT = "1s"


def render_prometheus_config(
    contract: Contract,
    addresses: Mapping[str, str],
    *,
    alertmanagers: Sequence[str],
    rule_files: Sequence[Path],
    load_targets: Path | None = None,
    replica: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The embedded Prometheus config as a dict (dump it with ``yaml.safe_dump``).

    ``addresses`` maps component name -> ``host:port``. A contract job whose components the embedded
    stack does not run raises :class:`ContractInvalid`. ``alertmanagers``: the ``host:port`` of every
    Alertmanager (every peer of a cluster). ``load_targets`` adds the job ``load``, whose targets (Locust
    processes exporting their own metrics) come from that file_sd file. ``replica`` = (label, value): the
    external label naming this replica of an HA pair, dropped from the alerts it sends (as the Prometheus
    Operator does), so that the peers see one alert from all replicas and notify it once.
    """
    interval = contract.stack.scrape_interval
    scrape_configs = [_job_scrape_config(contract, job, addresses) for job in contract.jobs]
    if load_targets is not None:
        # The load generator's own metrics: Locust processes announce themselves in this file_sd file.
        scrape_configs.append(
            {
                "job_name": "load",
                "scrape_interval": format_duration(interval),
                "scrape_timeout": format_duration(interval),
                "file_sd_configs": [{"files": [str(load_targets)], "refresh_interval": "1s"}],
            }
        )
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": format_duration(interval),
            "scrape_timeout": format_duration(interval),
            "evaluation_interval": format_duration(contract.stack.evaluation_interval),
            "external_labels": {"obs_stack": "embedded", **(dict([replica]) if replica else {})},
        },
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": scrape_configs,
    }
    if alertmanagers:
        # timeout: Prometheus sends each batch of alerts to every Alertmanager at once and waits for all. Its
        # default, 10 s, outlasts the alerts' endsAt (4 x the 1 s resend delay): one frozen peer held every
        # update back and the other peers resolved firing alerts on their own — a "resolved" notification
        # for an alert still firing. Alertmanagers on loopback answer in milliseconds.
        config["alerting"] = {
            "alertmanagers": [{"timeout": ALERTMANAGER_TIMEOUT, "static_configs": [{"targets": list(alertmanagers)}]}]
        }
        if replica:
            config["alerting"]["alert_relabel_configs"] = [{"action": "labeldrop", "regex": replica[0]}]
    return config


def _job_scrape_config(contract: Contract, job: Job, addresses: Mapping[str, str]) -> dict[str, Any]:
    """The scrape job of one contract job: its components' addresses, labelled with the component."""
    if not job.components:
        raise ContractInvalid(
            f"{contract.source}: job '{job.name}' has no 'components:' — the embedded stack cannot "
            "scrape it; list its components or point obs-tests at your Prometheus with --prometheus-url"
        )
    static = []
    for component in job.components:
        if component not in addresses:
            known = ", ".join(sorted(addresses))
            raise ContractInvalid(
                f"{contract.source}: job '{job.name}': unknown component '{component}' — the embedded "
                f"stack runs: {known}"
            )
        static.append({"targets": [addresses[component]], "labels": {"service": component, **job.labels}})
    job_interval = job.scrape_interval or contract.stack.scrape_interval
    return {
        "job_name": job.name,
        "metrics_path": job.metrics_path,
        "scrape_interval": format_duration(job_interval),
        "scrape_timeout": format_duration(job_interval),
        "static_configs": static,
    }


def rewrite_urls(value: Any, addresses: Mapping[str, str]) -> Any:
    """Return ``value`` with every ``http(s)://<component>[:port]/…`` pointed at ``addresses``."""
    if isinstance(value, str):
        match = _URL.match(value)
        if match and match.group("host") in addresses:
            return f"{match.group('scheme')}{addresses[match.group('host')]}{match.group('rest') or ''}"
        return value
    if isinstance(value, list):
        return [rewrite_urls(v, addresses) for v in value]
    if isinstance(value, dict):
        return {k: rewrite_urls(v, addresses) for k, v in value.items()}
    return value


def render_alertmanager_config(source: Path, addresses: Mapping[str, str]) -> dict[str, Any]:
    """The project's Alertmanager config with component URLs rewritten to loopback addresses."""
    if not source.exists():
        raise ConfigInvalid(f"{source}: Alertmanager config not found — set files.alertmanager_config")
    data = load_yaml(source, error=ConfigInvalid)
    if not isinstance(data, dict):
        raise ConfigInvalid(f"{source}: expected a mapping at the top level")
    rewritten: dict[str, Any] = rewrite_urls(data, addresses)
    return rewritten
