"""docker-compose.yml checked offline: the real ``docker-compose config`` (Debian's docker-compose 1.29, or
the ``docker compose`` plugin) validates the file — no Docker engine needed — and obs-tests checks that it
agrees with the rest of the repository:

- images of Prometheus, Alertmanager and Grafana are pinned to a version (no ``latest``);
- every ``python -m obs_tests.demo …`` command parses with the services' own argument parser;
- every scrape target of ``prometheus/prometheus.yml`` names a compose service and the port it listens on;
- Grafana mounts the provisioning directory and the dashboards directory, and both exist;
- the ``locust`` profile has a master and a worker that exports its metrics (``--metrics-port``), and
  Prometheus scrapes that port as job ``load``;
- ``docker-compose.test.yml`` (:func:`check_compose_test_file`), laid over it with profile ``test``: a
  ``test-runner`` that runs ``obs-tests check`` against URLs naming compose services on the ports they
  listen on, waits for each to pass its health check, and Prometheus keeps a short retention.

Example::

    findings = check_compose(Path("docker-compose.yml"), Path("prometheus/prometheus.yml"))
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from obs_tests.core.findings import Finding, display_path
from obs_tests.core.yamlfile import load_yaml
from obs_tests.errors import ConfigInvalid, ToolError
from obs_tests.stack.system_under_test import SystemUnderTest

__all__ = [
    "PINNED_IMAGES",
    "check_compose",
    "check_compose_consistency",
    "check_compose_test_file",
    "compose_command",
    "compose_config",
    "service_command",
]

#: image -> what it is; these must carry an explicit version tag
PINNED_IMAGES = {"prom/prometheus": "Prometheus", "prom/alertmanager": "Alertmanager", "grafana/grafana": "Grafana"}
#: variables the compose file requires (``${VAR:?…}``); a placeholder is used for validation when unset
REQUIRED_ENV = ("OBS_GRAFANA_PASSWORD",)
_PLACEHOLDER = "obs-tests-lint-placeholder"


def compose_command() -> list[str] | None:
    """``["docker-compose"]`` (Debian's 1.29), else ``["docker", "compose"]`` when that plugin works, else None."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        try:
            done = subprocess.run(
                ["docker", "compose", "version"], capture_output=True, text=True, timeout=20, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode == 0:
            return ["docker", "compose"]
    return None


def compose_config(
    path: Path, profiles: tuple[str, ...] = (), env: Mapping[str, str] | None = None, *, over: Path | None = None
) -> str | None:
    """Run ``docker-compose -f <path> [-f <over>] config -q``; None when valid, else the tool's message.

    Raises :class:`ToolError` when no compose binary is installed. The resolved config is never printed
    (it would contain the environment's secrets): only ``-q`` validation is used.
    """
    command = compose_command()
    if command is None:
        raise ToolError(
            "neither docker-compose nor `docker compose` is installed — install the Debian package "
            "'docker-compose' (make test does)"
        )
    environment = dict(os.environ if env is None else env)
    for name in REQUIRED_ENV:
        environment.setdefault(name, _PLACEHOLDER)
    argv = [*command, "-f", str(path), *(["-f", str(over)] if over else []), "--project-directory", str(path.parent)]
    for profile in profiles:
        argv += ["--profile", profile]
    try:
        done = subprocess.run(
            [*argv, "config", "-q"], capture_output=True, text=True, timeout=60, env=environment, check=False
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"{' '.join(command)} config did not finish within 60s") from None
    if done.returncode == 0:
        return None
    return (done.stderr + done.stdout).strip().replace(_PLACEHOLDER, "***") or f"exit status {done.returncode}"


def service_command(service: Mapping[str, Any]) -> list[str]:
    """A service's ``command`` as an argv list (a string command split on whitespace)."""
    command = service.get("command")
    if isinstance(command, str):
        return command.split()
    return [str(c) for c in command] if isinstance(command, list) else []


def _listen_port(argv: list[str]) -> str | None:
    for flag in ("--port", "--metrics-port"):
        if flag in argv and argv.index(flag) + 1 < len(argv):
            return argv[argv.index(flag) + 1]
    return None


def _check_services(where: str, services: Mapping[str, Any], system: SystemUnderTest | None) -> list[Finding]:
    findings = []
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        image = str(service.get("image", ""))
        repo, _, tag = image.partition(":")
        if repo in PINNED_IMAGES and (not tag or tag == "latest"):
            findings.append(
                Finding(
                    "compose",
                    f"{where}: {name}",
                    f"{PINNED_IMAGES[repo]} image '{image}' is not pinned — use a version tag",
                )
            )
        argv = service_command(service)
        if system is not None and system.check_command is not None and argv[:3] == ["python", "-m", system.module]:
            said = system.check_command(argv[3:])
            if said is not None:
                findings.append(
                    Finding(
                        "compose",
                        f"{where}: {name}",
                        f"command {' '.join(argv[3:])!r}: {said} (see python -m {system.module} <service> --help)",
                    )
                )
    return findings


def check_compose_consistency(
    compose: Path, prometheus_config: Path, system: SystemUnderTest | None = None
) -> list[Finding]:
    """What ``docker-compose config`` cannot know: agreement with the services (the command lines of
    ``system``'s services parse), Prometheus and Grafana files."""
    where = display_path(compose)
    try:
        data = load_yaml(compose, error=ConfigInvalid) or {}
    except ConfigInvalid as exc:
        return [Finding("compose", where, str(exc).removeprefix(f"{compose}: "))]
    if not isinstance(data, dict):
        return [Finding("compose", where, "expected a mapping with 'services' at the top level")]
    services: dict[str, Any] = data.get("services") or {}
    findings = _check_services(where, services, system)
    ports = {name: _listen_port(service_command(s)) for name, s in services.items() if isinstance(s, dict)}
    try:
        prometheus = load_yaml(prometheus_config, error=ConfigInvalid) or {}
    except ConfigInvalid as exc:
        message = str(exc).removeprefix(f"{prometheus_config}: ")
        return [*findings, Finding("compose", display_path(prometheus_config), message)]
    if not isinstance(prometheus, dict):
        return [*findings, Finding("compose", display_path(prometheus_config), "expected a mapping at the top level")]
    found, scraped_load = _check_scrape_targets(prometheus_config, prometheus, services, ports)
    findings += found
    findings += _check_grafana_mounts(where, compose, services)
    findings += _check_locust_profile(where, services, scraped_load=scraped_load)
    return findings


def _check_scrape_targets(
    prometheus_config: Path, prometheus: Mapping[str, Any], services: Mapping[str, Any], ports: Mapping[str, str | None]
) -> tuple[list[Finding], bool]:
    """Every scrape target names a compose service and its port; and whether job ``load`` scrapes the
    Locust workers (a DNS name of a service, on its ``--metrics-port``)."""
    findings = []
    scraped_load = False
    for job in prometheus.get("scrape_configs") or []:
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                host, _, port = str(target).rpartition(":")
                if host in ("localhost", "127.0.0.1"):
                    continue
                if host not in services:
                    findings.append(
                        Finding(
                            "compose",
                            f"{display_path(prometheus_config)}: job {job.get('job_name')}",
                            f"target {target}: no compose service '{host}' — services: {', '.join(sorted(services))}",
                        )
                    )
                elif ports.get(host) and ports[host] != port:
                    findings.append(
                        Finding(
                            "compose",
                            f"{display_path(prometheus_config)}: job {job.get('job_name')}",
                            f"target {target}: service '{host}' listens on port {ports[host]}, not {port}",
                        )
                    )
        for dns in job.get("dns_sd_configs") or []:
            for name in dns.get("names") or []:
                if name not in services:
                    findings.append(
                        Finding(
                            "compose",
                            f"{display_path(prometheus_config)}: job {job.get('job_name')}",
                            f"DNS name {name}: no compose service of that name",
                        )
                    )
                elif job.get("job_name") == "load" and str(dns.get("port")) == str(ports.get(name)):
                    scraped_load = True
    return findings, scraped_load


def _check_grafana_mounts(where: str, compose: Path, services: Mapping[str, Any]) -> list[Finding]:
    """Grafana mounts the provisioning and dashboards directories, and both exist beside the compose file."""
    findings = []
    grafana = services.get("grafana") or {}
    mounts = [str(v).split(":")[0] for v in grafana.get("volumes") or []]
    for needed in ("./grafana/provisioning", "./grafana_dashboards"):
        if needed not in mounts:
            findings.append(Finding("compose", f"{where}: grafana", f"{needed} is not mounted"))
        elif not (compose.parent / needed).is_dir():
            findings.append(Finding("compose", f"{where}: grafana", f"{needed} is mounted but does not exist"))
    return findings


def _check_locust_profile(where: str, services: Mapping[str, Any], *, scraped_load: bool) -> list[Finding]:
    """Profile ``locust`` has a master and a worker, and Prometheus scrapes the workers as job ``load``."""
    profile = {n: s for n, s in services.items() if isinstance(s, dict) and "locust" in (s.get("profiles") or [])}
    commands = {n: service_command(s) for n, s in profile.items()}
    if not any("--master" in c for c in commands.values()) or not any("--worker" in c for c in commands.values()):
        return [Finding("compose", where, "profile 'locust' needs a Locust master and a worker service")]
    if not scraped_load:
        return [
            Finding(
                "compose",
                where,
                "no Prometheus job 'load' scrapes the Locust workers' --metrics-port (offered load on the dashboards)",
            )
        ]
    return []


def check_compose(compose: Path, prometheus_config: Path, system: SystemUnderTest | None = None) -> list[Finding]:
    """``docker-compose config`` (with and without the ``locust`` profile) plus the consistency checks."""
    findings = []
    for profiles in ((), ("locust",)):
        problem = compose_config(compose, profiles)
        if problem:
            label = f" (profile {', '.join(profiles)})" if profiles else ""
            findings.append(Finding("compose", display_path(compose), f"docker-compose config{label}: {problem}"))
    return findings + check_compose_consistency(compose, prometheus_config, system)


#: the service of ``docker-compose.test.yml`` that runs the checks, and its profile
TEST_RUNNER = "test-runner"
TEST_PROFILE = "test"
#: the URL options of ``obs-tests check`` and the container port of the pinned image they point at
_URL_PORTS = {"--prometheus-url": "9090", "--alertmanager-url": "9093", "--grafana-url": "3000"}


def check_compose_test_file(test_file: Path, compose: Path) -> list[Finding]:
    """``docker-compose.test.yml`` over ``compose``: ``docker-compose config`` of both with profile ``test``,
    then the runner: it runs ``obs-tests check``; each ``--…-url`` names a service of the files on the
    port its image listens on; it waits for each of them to be healthy (a ``healthcheck`` and
    ``condition: service_healthy``); Prometheus runs with a ``--storage.tsdb.retention.time``."""
    where = display_path(test_file)
    problem = compose_config(compose, (TEST_PROFILE,), over=test_file)
    if problem:
        return [Finding("compose", where, f"docker-compose config (profile test): {problem}")]
    services: dict[str, Any] = {}
    for path in (compose, test_file):
        for name, service in ((load_yaml(path, error=ConfigInvalid) or {}).get("services") or {}).items():
            services[name] = {**services.get(name, {}), **(service or {})}
    runner = services.get(TEST_RUNNER)
    if not isinstance(runner, dict) or TEST_PROFILE not in (runner.get("profiles") or []):
        return [
            Finding(
                "compose", where, f"no service '{TEST_RUNNER}' in profile 'test' — add one that runs obs-tests check"
            )
        ]
    argv = service_command(runner)
    if argv[:2] != ["obs-tests", "check"]:
        return [
            Finding(
                "compose", f"{where}: {TEST_RUNNER}", f"command must run 'obs-tests check', not {' '.join(argv[:2])!r}"
            )
        ]
    findings = _check_runner_urls(where, argv, services, runner.get("depends_on") or {})
    if not any(
        str(a).startswith("--storage.tsdb.retention.time=") for a in service_command(services.get("prometheus") or {})
    ):
        findings.append(
            Finding(
                "compose",
                f"{where}: prometheus",
                "no --storage.tsdb.retention.time: a test stack keeps a short retention",
            )
        )
    return findings


def _check_runner_urls(
    where: str, argv: list[str], services: Mapping[str, Any], depends: Mapping[str, Any] | list[str]
) -> list[Finding]:
    """Each URL option of the runner's ``obs-tests check`` names a service, its port, and a healthy wait."""
    findings = []
    runner = f"{where}: {TEST_RUNNER}"
    for option, port in _URL_PORTS.items():
        if option not in argv or argv.index(option) + 1 >= len(argv):
            findings.append(Finding("compose", runner, f"{option} is not given: check would start a stack of its own"))
            continue
        url = argv[argv.index(option) + 1]
        host, _, given = url.removeprefix("http://").split("/")[0].partition(":")
        if host not in services:
            findings.append(Finding("compose", runner, f"{option} {url}: no compose service '{host}'"))
            continue
        if given != port:
            message = f"{option} {url}: '{host}' listens on port {port}, not {given or '80'}"
            findings.append(Finding("compose", runner, message))
        condition = (depends.get(host) or {}).get("condition") if isinstance(depends, Mapping) else None
        if condition != "service_healthy":
            wanted = f"{{{host}: {{condition: service_healthy}}}}"
            findings.append(
                Finding("compose", runner, f"does not wait for '{host}' to be healthy ({wanted} in depends_on)")
            )
        elif not (services[host].get("healthcheck") or {}).get("test"):
            findings.append(Finding("compose", f"{where}: {host}", "waited for as healthy but has no healthcheck"))
    return findings
