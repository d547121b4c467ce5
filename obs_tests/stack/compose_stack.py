"""A docker-compose stack that scenarios can break: the services are containers (faults act on them
through the docker SDK), reached at the ports ``docker-compose.yml`` publishes on the host.

``obs-tests scenario run --compose`` runs on one; in Python::

    with ComposeStack(contract, project="obs-tests") as stack:
        ScenarioRunner(Path("scenarios/gateway-down.yaml"), stack=stack).run()

The compose stack loads the rule files it mounts. Scenarios written for the embedded stack's time scale
need the same scale there: ``obs-tests scenario scale-rules --time-scale 0.02 -o build/rules`` writes the
scaled copies, ``OBS_PROMETHEUS_RULES=./build/rules docker compose up -d`` mounts them, and
``--time-scale 0.02`` tells obs-tests. On entry the stack proves the live rules were scaled by that
factor (each alert's ``for`` as Prometheus reports it), so a mismatch is a clear error, not a run of
mysteriously late alerts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import Contract, parse_duration
from obs_tests.core.durations import format_duration
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.core.yamlfile import load_yaml
from obs_tests.errors import ConfigInvalid, ControlUnavailable, ObsTestsError, UnknownComponent, UsageError
from obs_tests.rules.rulefiles import load_rule_files
from obs_tests.stack.containers import ComposeBackend
from obs_tests.stack.timescale import scale_duration, validate_factor

__all__ = ["ComposeStack", "published_urls", "rule_scale_mismatches"]

# Services spoken to in their own protocol; every other published port is HTTP.
_SCHEMES = {"nats": ("nats", 4222), "redis": ("redis", 6379)}


def _port_entry(entry: Any) -> tuple[str, int, int] | None:
    """``(host_ip, published, target)`` of one ``ports:`` entry, None when nothing is published."""
    if isinstance(entry, Mapping):
        published, target = entry.get("published"), entry.get("target")
        if published is None or target is None:
            return None
        return str(entry.get("host_ip") or "127.0.0.1"), int(str(published)), int(str(target))
    text = str(entry).split("/", 1)[0]
    parts = text.rsplit(":", 2)
    if len(parts) < 2:
        return None  # container port only: nothing on the host
    host = parts[0] if len(parts) == 3 else "127.0.0.1"
    return (host if host not in ("", "0.0.0.0") else "127.0.0.1"), int(parts[-2]), int(parts[-1])


def published_urls(compose_file: Path) -> dict[str, str]:
    """Service name → the URL the host reaches it at (its first published port; for ``nats`` and
    ``redis`` the client port, as ``nats://`` / ``redis://``). Services that publish nothing are left out."""
    data = load_yaml(compose_file, error=ConfigInvalid)
    services = data.get("services") if isinstance(data, Mapping) else None
    if not isinstance(services, Mapping):
        raise ConfigInvalid(f"{compose_file}: no `services:` mapping — is this a docker-compose file?")
    urls: dict[str, str] = {}
    for name, service in services.items():
        ports = service.get("ports") if isinstance(service, Mapping) else None
        published = []
        for entry in ports or []:
            try:
                found = _port_entry(entry)
            except ValueError:
                raise ConfigInvalid(
                    f"{compose_file}: services.{name}.ports: cannot read {entry!r} — use HOST_IP:HOST_PORT:PORT"
                ) from None
            if found is not None:
                published.append(found)
        if not published:
            continue
        scheme, client_port = _SCHEMES.get(str(name), ("http", 0))
        host, port, _ = next((p for p in published if p[2] == client_port), published[0])
        urls[str(name)] = f"{scheme}://{host}:{port}"
    return urls


def rule_scale_mismatches(groups: Sequence[Mapping[str, Any]], rule_files: Sequence[Path], factor: float) -> list[str]:
    """Alerts whose live ``for`` (from ``/api/v1/rules``) is not the rule file's ``for`` scaled by
    ``factor`` — empty when Prometheus runs the rules at that time scale."""
    expected: dict[str, float] = {}
    for rule_file in load_rule_files(rule_files):
        for rule in rule_file.alerts:
            seconds = rule.for_seconds or 0.0
            expected[rule.name] = parse_duration(scale_duration(format_duration(seconds), factor)) if seconds else 0.0
    problems = []
    for group in groups:
        for rule in group.get("rules") or []:
            name = str(rule.get("name", ""))
            if rule.get("type") != "alerting" or name not in expected:
                continue
            live = float(rule.get("duration") or 0.0)
            if abs(live - expected[name]) > 0.0015:
                problems.append(f"{name}: for {live:g}s, expected {expected[name]:g}s")
    return sorted(set(problems))


class ComposeStack:
    """A running ``docker compose`` project: URLs from the compose file, faults on its containers."""

    def __init__(
        self,
        contract: Contract,
        *,
        project: str = "obs-tests",
        compose_file: Path = Path("docker-compose.yml"),
        urls: Mapping[str, str] | None = None,
        time_scale: float = 1.0,
        client: Any = None,
        ready_timeout: float = 60.0,
    ) -> None:
        self.contract = contract
        self.project = project
        self.time_scale = validate_factor(time_scale)
        self.ready_timeout = ready_timeout
        self.urls = {**published_urls(compose_file), **dict(urls or {})}
        for needed in ("prometheus", "alertmanager"):
            if needed not in self.urls:
                raise ConfigInvalid(
                    f"{compose_file}: service '{needed}' publishes no port — scenarios need to reach it from "
                    f'this machine (ports: ["127.0.0.1:PORT:PORT"])'
                )
        #: component name → URL (what the scenario catalog and the runner look up)
        self.components: dict[str, str] = dict(self.urls)
        self.load_targets: Path | None = None
        self.backend = ComposeBackend(project, urls=self.urls, client=client)

    def __enter__(self) -> ComposeStack:
        self.check()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to tear down: the compose project is yours (``docker compose down``)."""

    # -- what scenarios use ------------------------------------------------------------------------
    def url(self, name: str) -> str:
        """The host URL of service ``name``."""
        try:
            return self.urls[name]
        except KeyError:
            raise UnknownComponent(
                f"compose service '{name}' publishes no port — known: {', '.join(sorted(self.urls))}"
            ) from None

    @property
    def prometheus_url(self) -> str:
        """URL of Prometheus."""
        return self.urls["prometheus"]

    @property
    def alertmanager_url(self) -> str:
        """URL of Alertmanager."""
        return self.urls["alertmanager"]

    @property
    def controllable(self) -> bool:
        """Faults act on the containers."""
        return True

    def prometheus(self) -> PrometheusClient:
        """A client for the compose Prometheus."""
        return PrometheusClient(self.prometheus_url, timeout=10.0)

    def check(self) -> None:
        """Prometheus answers and runs the rules at ``time_scale`` (else a usage error with the fix)."""
        prom = self.prometheus()
        try:
            groups = prom.rules("alert")
        except ObsTestsError as exc:
            raise UsageError(
                f"compose Prometheus at {self.prometheus_url} does not answer ({exc}) — start the stack: "
                f"docker compose -p {self.project} up -d --wait"
            ) from None
        problems = rule_scale_mismatches(groups, self.contract.files.rule_files(), self.time_scale)
        if problems:
            shown = "; ".join(problems[:5]) + (f"; … {len(problems) - 5} more" if len(problems) > 5 else "")
            raise UsageError(
                f"the compose Prometheus does not run the rules at time scale {self.time_scale:g} ({shown}). "
                f"Write scaled rules with `obs-tests scenario scale-rules --time-scale {self.time_scale:g} "
                "-o build/rules`, restart with `OBS_PROMETHEUS_RULES=./build/rules docker compose up -d`, or "
                "pass the --time-scale the stack runs at"
            )

    # -- faults (ChaosController backend) ----------------------------------------------------------
    def config_file(self, name: str) -> Path:
        """Not available on a compose stack: its configuration is mounted into the containers read-only."""
        raise ControlUnavailable(
            f"cannot change the configuration of '{name}' on a compose stack (mounted read-only) — use the "
            "embedded stack for a failed-reload fault"
        )

    def kill(self, name: str) -> None:
        """SIGKILL the service's container."""
        self.backend.kill(name)

    def stop(self, name: str) -> None:
        """Stop the service's container."""
        self.backend.stop(name)

    def pause(self, name: str) -> None:
        """Freeze the service's container."""
        self.backend.pause(name)

    def resume(self, name: str) -> None:
        """Unfreeze the service's container."""
        self.backend.resume(name)

    def start(self, name: str | None = None, *, wait: bool = True) -> None:
        """Start the service's stopped container."""
        self.backend.start(name, wait=wait)

    def restart(self, name: str, *, wait: bool = True) -> None:
        """Restart the service's container."""
        self.backend.restart(name, wait=wait)

    def heal(self, timeout: float = 30.0) -> list[str]:
        """Unpause paused and start exited containers of the project, then wait until every Prometheus
        target is up (at most ``timeout``, never less than the stack's ``ready_timeout``). Returns the
        services it had to fix."""
        limit = max(timeout, self.ready_timeout)
        fixed = []
        for container in self.backend.containers():
            service = container.labels.get("com.docker.compose.service", container.name)
            container.reload()
            if container.status == "paused":
                container.unpause()
                fixed.append(service)
            elif container.status != "running":
                container.start()
                fixed.append(service)
        for service in fixed:
            self.backend.wait_running(service, timeout=limit)
        prom = self.prometheus()

        def targets_up() -> Poll[list[str]]:
            down = [f"{t.job}/{t.instance} ({t.last_error or t.health})" for t in prom.targets() if t.health != "up"]
            return Poll(not down, down, ", ".join(down) or "all up")

        wait_for(
            targets_up,
            timeout=limit,
            interval=0.25,
            expected="every Prometheus target up",
            bound=f"one scrape interval after the containers run ({limit:g}s allowed)",
            transient=(ObsTestsError,),
        )
        return fixed
