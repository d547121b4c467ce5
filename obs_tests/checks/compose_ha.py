"""``docker-compose.ha.yml`` checked offline, laid over ``docker-compose.yml``: the real ``docker-compose config``
validates both files, then the HA checks of :mod:`obs_tests.checks.ha` are read off the files instead of the
live servers — what a stack started from them would fail:

- at least two Prometheus replicas and two Alertmanager peers (services of the pinned images);
- ``ha/mesh``: every peer gossips (``--cluster.listen-address`` not empty) and names every other peer with
  ``--cluster.peer <service>:<its gossip port>`` — a peer left out never joins the mesh and notifies on its own;
- ``ha/config-hash``: every peer reads the same Alertmanager config file;
- ``ha/external-labels``: each replica's config sets the replica label, to a value of its own (``${VAR}`` taken
  from the service's ``environment``, which needs ``--enable-feature=expand-external-labels``), and the
  replicas' other external labels agree;
- ``ha/alertmanagers``: each replica sends to every peer on the port it serves;
- ``ha/replica-label-dropped``: each replica drops the replica label from its alerts (``labeldrop``);
- ``ha/rule-groups``: each replica loads the rule files and scrapes what the single topology's Prometheus
  config does — the two configs cannot drift apart.

Example::

    findings = check_compose_ha_file(Path("docker-compose.ha.yml"), Path("docker-compose.yml"),
                                     Path("prometheus/prometheus.yml"))
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from obs_tests.checks.compose_file import compose_config, service_command
from obs_tests.core.findings import Finding, display_path
from obs_tests.core.yamlfile import load_yaml
from obs_tests.errors import ConfigInvalid

__all__ = ["check_compose_ha_file"]

_PROMETHEUS_IMAGE = "prom/prometheus"
_ALERTMANAGER_IMAGE = "prom/alertmanager"
#: ``${VAR}``, ``$VAR`` (Prometheus' expansion of external labels) and compose's ``${VAR:-default}``
_VARIABLE = re.compile(r"\$\{(?P<braced>\w+)(?::-(?P<default>[^}]*))?\}|\$(?P<plain>\w+)")


def check_compose_ha_file(
    ha_file: Path, compose: Path, single_config: Path, *, replica_label: str = "replica"
) -> list[Finding]:
    """``ha_file`` over ``compose``: ``docker-compose config`` of both, then the HA topology they describe
    (see the module); ``single_config`` is the single topology's Prometheus config the replicas must agree with."""
    where = display_path(ha_file)
    problem = compose_config(compose, over=ha_file)
    if problem:
        return [Finding("compose", where, f"docker-compose config (with {compose.name}): {problem}")]
    services = _merged_services(compose, ha_file)
    replicas = _with_image(services, _PROMETHEUS_IMAGE)
    peers = _with_image(services, _ALERTMANAGER_IMAGE)
    if len(replicas) < 2 or len(peers) < 2:
        message = (
            f"{len(replicas)} Prometheus replica(s) and {len(peers)} Alertmanager peer(s) — HA needs at least two "
            f"of each (services of the images {_PROMETHEUS_IMAGE} and {_ALERTMANAGER_IMAGE})"
        )
        return [Finding("compose", where, message, rule="ha/mesh")]
    findings = _check_mesh(where, compose.parent, peers)
    findings += _check_replicas(where, compose.parent, replicas, peers, single_config, replica_label)
    return findings


def _merged_services(*paths: Path) -> dict[str, dict[str, Any]]:
    """The services of the files, each file's keys over the earlier ones' (what the HA overlay sets)."""
    services: dict[str, dict[str, Any]] = {}
    for path in paths:
        data = load_yaml(path, error=ConfigInvalid) or {}
        for name, service in (data.get("services") or {}).items():
            services[name] = {**services.get(name, {}), **(service or {})}
    return services


def _with_image(services: Mapping[str, dict[str, Any]], image: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services.items() if str(s.get("image", "")).partition(":")[0] == image}


def _flag(argv: list[str], name: str) -> list[str]:
    """The values of ``--name=value`` / ``--name value`` in ``argv``."""
    values = []
    for i, arg in enumerate(argv):
        if arg.startswith(f"{name}="):
            values.append(arg.split("=", 1)[1])
        elif arg == name and i + 1 < len(argv):
            values.append(argv[i + 1])
    return values


def _port(address: str, default: str) -> str:
    return address.rpartition(":")[2] or default if ":" in address else default


def _check_mesh(where: str, root: Path, peers: Mapping[str, dict[str, Any]]) -> list[Finding]:
    """Every peer gossips and names every other peer on its gossip port; all read one config file."""
    findings = []
    argvs = {name: service_command(service) for name, service in peers.items()}
    gossip = {
        name: _port((_flag(argv, "--cluster.listen-address") or [":9094"])[-1], "9094") for name, argv in argvs.items()
    }
    for name, argv in argvs.items():
        listen = _flag(argv, "--cluster.listen-address")
        if listen and not listen[-1]:
            message = "--cluster.listen-address is empty: clustering is off, this peer notifies on its own"
            findings.append(Finding("compose", f"{where}: {name}", message, rule="ha/mesh"))
            continue
        named = set(_flag(argv, "--cluster.peer"))
        for other in sorted(set(peers) - {name}):
            if f"{other}:{gossip[other]}" not in named:
                message = (
                    f"does not name peer '{other}' (--cluster.peer={other}:{gossip[other]}): "
                    "a peer that joins no one forms a mesh of its own and notifies every alert again"
                )
                findings.append(Finding("compose", f"{where}: {name}", message, rule="ha/mesh"))
    configs = {
        name: (_flag(argv, "--config.file") or ["/etc/alertmanager/alertmanager.yml"])[-1]
        for name, argv in argvs.items()
    }
    mounts = {name: _host_path(root, peers[name], configs[name]) for name in peers}
    if len(set(mounts.values())) > 1:
        said = ", ".join(f"{name}: {path}" for name, path in sorted(mounts.items()))
        message = f"the peers read different Alertmanager configs ({said}) — they must notify alike"
        findings.append(Finding("compose", where, message, rule="ha/config-hash"))
    return findings


def _host_path(root: Path, service: Mapping[str, Any], inside: str) -> Path | None:
    """The file beside the compose files that the service sees at ``inside`` (its longest bind mount)."""
    best: tuple[int, Path] | None = None
    for volume in service.get("volumes") or []:
        source, _, rest = str(volume).partition(":")
        target = rest.split(":")[0]
        if not source.startswith((".", "/", "$")) or not rest:
            continue  # a named volume
        if inside == target or inside.startswith(target.rstrip("/") + "/"):
            relative = PurePosixPath(inside).relative_to(target)
            candidate = root / _expand(source, os.environ) / relative
            if best is None or len(target) > best[0]:
                best = (len(target), candidate)
    return best[1] if best else None


def _expand(text: str, environment: Mapping[str, str]) -> str:
    """``text`` with ``${VAR}``, ``$VAR`` and ``${VAR:-default}`` taken from ``environment``."""

    def value(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        return environment.get(name) or (match.group("default") or "")

    return _VARIABLE.sub(value, text)


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(str(item).partition("=")[::2] for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def _check_replicas(
    where: str,
    root: Path,
    replicas: Mapping[str, dict[str, Any]],
    peers: Mapping[str, dict[str, Any]],
    single_config: Path,
    label: str,
) -> list[Finding]:
    """Each replica's config: its own replica label, the same other labels, every peer, the label dropped,
    the single config's rules and scrape configs."""
    single, findings = _read_config(single_config, where)
    web = {
        name: _port((_flag(service_command(s), "--web.listen-address") or [":9093"])[-1], "9093")
        for name, s in peers.items()
    }
    labels: dict[str, dict[str, str]] = {}
    for name, service in replicas.items():
        subject = f"{where}: {name}"
        argv = service_command(service)
        inside = (_flag(argv, "--config.file") or ["/etc/prometheus/prometheus.yml"])[-1]
        path = _host_path(root, service, inside)
        if path is None or not path.is_file():
            findings.append(
                Finding("compose", subject, f"--config.file {inside}: no mounted file beside the compose files")
            )
            continue
        config, unreadable = _read_config(path, subject)
        if unreadable:
            findings += unreadable
            continue
        found, labels[name] = _replica_labels(subject, argv, service, config, label)
        findings += found
        findings += _replica_alerting(subject, config, web, label)
        if single:
            findings += _replica_drift(subject, display_path(path), config, single, display_path(single_config))
    findings += _labels_differ(where, labels, label)
    return findings


def _read_config(path: Path, subject: str) -> tuple[dict[str, Any], list[Finding]]:
    """A Prometheus config as a mapping, or a finding saying why it cannot be read."""
    try:
        data = load_yaml(path, error=ConfigInvalid)
    except ConfigInvalid as exc:
        return {}, [Finding("compose", subject, str(exc))]
    if not isinstance(data, dict):
        return {}, [Finding("compose", subject, f"{display_path(path)}: expected a mapping at the top level")]
    return data, []


def _replica_labels(
    subject: str, argv: list[str], service: Mapping[str, Any], config: Mapping[str, Any], label: str
) -> tuple[list[Finding], dict[str, str]]:
    """The replica's external labels as it would run them (``$VAR`` expanded when the feature is on)."""
    raw = {str(k): str(v) for k, v in ((config.get("global") or {}).get("external_labels") or {}).items()}
    features = ",".join(_flag(argv, "--enable-feature")).split(",")
    findings = []
    if any("$" in v for v in raw.values()):
        if "expand-external-labels" not in features:
            message = (
                "its external labels name environment variables but it runs without "
                "--enable-feature=expand-external-labels: every replica gets the same literal value"
            )
            return [Finding("compose", subject, message, rule="ha/external-labels")], raw
        environment = _environment(service)
        for key, value in raw.items():
            missing = [m.group("braced") or m.group("plain") for m in _VARIABLE.finditer(value)]
            missing = [v for v in missing if v not in environment]
            if missing:
                message = f"external label {key}={value}: {', '.join(missing)} is not in the service's environment"
                findings.append(Finding("compose", subject, message, rule="ha/external-labels"))
            raw[key] = _expand(value, environment)
    if not raw.get(label):
        message = f"no external label '{label}' naming the replica — add global.external_labels.{label}"
        findings.append(Finding("compose", subject, message, rule="ha/external-labels"))
    return findings, raw


def _replica_alerting(subject: str, config: Mapping[str, Any], web: Mapping[str, str], label: str) -> list[Finding]:
    alerting = config.get("alerting") or {}
    targets = {
        str(t)
        for am in alerting.get("alertmanagers") or []
        for static in am.get("static_configs") or []
        for t in static.get("targets") or []
    }
    findings = []
    for peer in sorted(web):
        if f"{peer}:{web[peer]}" not in targets:
            message = (
                f"does not send to peer '{peer}' ({peer}:{web[peer]} in alerting.alertmanagers): its alerts are "
                "lost while the peers it sends to are down"
            )
            findings.append(Finding("compose", subject, message, rule="ha/alertmanagers"))
    dropped = any(
        r.get("action") == "labeldrop" and re.fullmatch(str(r.get("regex", "")), label)
        for r in alerting.get("alert_relabel_configs") or []
    )
    if not dropped:
        message = (
            f"sends its alerts with the '{label}' label: each replica's alert is notified separately — add "
            f"alerting.alert_relabel_configs: [{{action: labeldrop, regex: {label}}}]"
        )
        findings.append(Finding("compose", subject, message, rule="ha/replica-label-dropped"))
    return findings


def _replica_drift(
    subject: str, shown: str, config: Mapping[str, Any], single: Mapping[str, Any], single_shown: str
) -> list[Finding]:
    findings = []
    for key in ("rule_files", "scrape_configs"):
        if config.get(key) != single.get(key):
            message = f"{shown}: {key} differ from {single_shown}'s — the replicas evaluate and scrape what it does"
            findings.append(Finding("compose", subject, message, rule="ha/rule-groups"))
    return findings


def _labels_differ(where: str, labels: Mapping[str, Mapping[str, str]], label: str) -> list[Finding]:
    findings = []
    by_value: dict[str, list[str]] = {}
    for name, values in labels.items():
        if values.get(label):
            by_value.setdefault(values[label], []).append(name)
    for value, names in sorted(by_value.items()):
        if len(names) > 1:
            message = f"replicas {', '.join(sorted(names))} have the same {label}={value} — give each its own"
            findings.append(Finding("compose", where, message, rule="ha/external-labels"))
    others = {name: {k: v for k, v in values.items() if k != label} for name, values in labels.items()}
    if len({tuple(sorted(v.items())) for v in others.values()}) > 1:
        said = "; ".join(f"{name}: {values}" for name, values in sorted(others.items()))
        message = f"the replicas' external labels differ in more than '{label}' ({said})"
        findings.append(Finding("compose", where, message, rule="ha/external-labels"))
    return findings
