"""What one run uses — the contract, where the stack is, the time scale, how many scenario stacks, where logs
and reports go — resolved once, by one rule: **command line, then environment, then the scenario, then
the contract, then the default**; URLs normalised here and nowhere else.

``obs-tests check`` resolves its options into a :class:`RunSettings` and hands the object to the pytest
plugin; plain ``pytest --pyargs obs_tests.suite`` resolves the plugin's options with the same
:func:`resolve_settings`.

Example::

    settings = resolve_settings({"contract": "obs.yaml", "time_scale": "0.02"})
    settings.embedded, settings.time_scale          # (True, 0.02)
    settings.scenario_time_scale([0.05])            # 0.02: the command line wins over a scenario's own
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from obs_tests.clients.base import normalise_url
from obs_tests.config.contract import EMBEDDED, Contract, load_contract, with_topology
from obs_tests.errors import UsageError
from obs_tests.stack.timescale import validate_factor

__all__ = ["ENVIRONMENT", "RunSettings", "given_value", "resolve_settings", "resolve_time_scale"]

#: setting -> the environment variable that gives it when the command line does not
ENVIRONMENT: dict[str, str] = {
    "contract": "OBS_CONTRACT",
    "prometheus_url": "OBS_PROMETHEUS_URL",
    "alertmanager_url": "OBS_ALERTMANAGER_URL",
    "grafana_url": "OBS_GRAFANA_URL",
    "time_scale": "OBS_TIME_SCALE",
    "scenario_stacks": "OBS_SCENARIO_STACKS",
    "topology": "OBS_TOPOLOGY",
    "log_dir": "OBS_LOG_DIR",
    "report_dir": "OBS_REPORT_DIR",
}


def resolve_time_scale(explicit: float | None, declared: Iterable[float | None], default: float) -> float:
    """The time scale of a stack running scenarios, by the one rule: ``explicit`` (the command line, an API
    request), else the first the scenarios declare (``setup.time_scale``), else ``default`` (the contract's,
    or a server's own)."""
    if explicit is not None:
        return validate_factor(explicit)
    for scale in declared:
        if scale is not None:
            return validate_factor(scale)
    return validate_factor(default)


@dataclass(frozen=True)
class RunSettings:
    """One run's settings, every one resolved (see the module docstring for the rule)."""

    contract_path: Path
    contract: Contract
    #: a Prometheus of yours (None: the embedded stack), normalised
    prometheus_url: str | None
    alertmanager_url: str | None
    grafana_url: str | None
    #: the embedded stack's time scale: the command line's or environment's, else the contract's
    time_scale: float
    #: the time scale came from the command line or environment: it wins over a scenario's own
    time_scale_given: bool
    #: embedded stacks the chaos scenarios run on at once
    scenario_stacks: int
    log_dir: Path | None = None
    report_dir: Path = Path("reports")
    #: the topology came from the command line or environment (``contract`` has it)
    topology_given: bool = False

    @property
    def embedded(self) -> bool:
        """True when obs-tests starts the stack (no Prometheus URL given, none in the contract)."""
        return self.prometheus_url is None

    def scenario_time_scale(self, declared: Iterable[float | None] = ()) -> float:
        """The time scale of a stack running scenarios: the command line's or environment's, else the one
        the scenarios declare (``setup.time_scale``; the first that does), else the contract's."""
        return resolve_time_scale(self.time_scale if self.time_scale_given else None, declared, self.time_scale)

    @property
    def compose_time_scale(self) -> float:
        """A compose stack's time scale: the command line's, else 1 — its Prometheus loads the rule files as
        written unless you mounted scaled copies (and then say so with --time-scale)."""
        return self.time_scale if self.time_scale_given else 1.0


def _pick(
    given: Mapping[str, object | None], environ: Mapping[str, str], flags: Mapping[str, str], key: str
) -> tuple[str | None, str]:
    """The raw value of ``key`` and where it came from: the command line, else the environment."""
    value = given.get(key)
    if value is not None and value != "":
        return str(value), flags.get(key, f"--{key.replace('_', '-')}")
    env = environ.get(ENVIRONMENT[key]) or None
    return env, ENVIRONMENT[key]


def given_value(given: Mapping[str, object | None], key: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The first half of the rule, for a setting needed before (or without) a contract: the command line's
    value of ``key``, else the environment's, else None."""
    return _pick(given, os.environ if environ is None else environ, {}, key)[0]


def _url(raw: str | None, where: str, fallback: str | None, what: str) -> str | None:
    if raw is None:
        return normalise_url(fallback, what) if fallback and fallback != EMBEDDED else None
    try:
        return normalise_url(raw, what)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _time_scale(raw: str | None, where: str, contract: Contract) -> tuple[float, bool]:
    if raw is None:
        return validate_factor(contract.stack.time_scale), False
    try:
        return validate_factor(float(raw)), True
    except (ValueError, UsageError):
        raise UsageError(f"{where} {raw[:40]}: a factor with 0 < factor ≤ 1, e.g. 0.01 (1 = real time)") from None


def _topology(raw: str | None, where: str, contract: Contract) -> Contract:
    if raw is None:
        return contract
    if raw not in ("single", "ha"):
        raise UsageError(f"{where} {raw[:40]}: single or ha")
    if contract.stack.prometheus != EMBEDDED:
        raise UsageError(
            f"{where} {raw}: the topology is a shape of the embedded stack — this contract names a Prometheus of "
            "yours (stack.prometheus); for your own HA stack use obs-tests health with a URL per replica and peer"
        )
    return with_topology(contract, raw)


#: cores per HA stack of the scenario pool when the number of stacks is the contract's: three HA stacks (two
#: of the pool's and the session's, lent) with two Locust runs on 2 cores starved the mock services — their
#: scrapes timed out and TargetScrapeSlow, OrchestratorDown, BotDown fired in scenarios that must not page them
CORES_PER_HA_STACK = 2


def _stacks(raw: str | None, where: str, contract: Contract) -> int:
    """The scenario pool's stacks: as given, else the contract's — on an HA topology no more than one per
    :data:`CORES_PER_HA_STACK` cores (at least 1: the scenarios one by one on the session's stack)."""
    if raw is None:
        if contract.stack.topology.ha:
            fits = max(1, (os.cpu_count() or 1) // CORES_PER_HA_STACK)
            return min(contract.stack.scenario_stacks, fits)
        return contract.stack.scenario_stacks
    value = int(raw) if raw.strip().isdigit() else 0
    if not 1 <= value <= 16:
        raise UsageError(f"{where} {raw[:40]}: a whole number of stacks, 1 to 16")
    return value


def resolve_settings(
    given: Mapping[str, object | None],
    environ: Mapping[str, str] | None = None,
    *,
    flags: Mapping[str, str] | None = None,
) -> RunSettings:
    """Resolve every setting from ``given`` (the command line: ``contract``, ``prometheus_url``,
    ``alertmanager_url``, ``grafana_url``, ``time_scale``, ``scenario_stacks``, ``topology`` (the contract
    returned has it), ``log_dir``, ``report_dir``;
    None or absent: not given), then ``environ`` (default ``os.environ``), then the contract, then the default.
    ``flags`` names each setting's command-line flag in messages (default ``--time-scale`` for ``time_scale``).

    Raises :class:`~obs_tests.errors.ContractInvalid` for a bad contract and
    :class:`~obs_tests.errors.UsageError` naming the flag or variable for a bad value."""
    env = os.environ if environ is None else environ
    raw = {key: _pick(given, env, flags or {}, key) for key in ENVIRONMENT}
    contract_path = Path(raw["contract"][0] or "obs.yaml")
    contract = _topology(*raw["topology"], load_contract(contract_path))
    stack = contract.stack
    scale, scale_given = _time_scale(*raw["time_scale"], contract)
    log_dir, report_dir = raw["log_dir"][0], raw["report_dir"][0]
    return RunSettings(
        contract_path=contract_path,
        contract=contract,
        prometheus_url=_url(*raw["prometheus_url"], stack.prometheus, "Prometheus"),
        alertmanager_url=_url(*raw["alertmanager_url"], stack.alertmanager, "Alertmanager"),
        grafana_url=_url(*raw["grafana_url"], stack.grafana, "Grafana"),
        time_scale=scale,
        time_scale_given=scale_given,
        scenario_stacks=_stacks(*raw["scenario_stacks"], contract),
        log_dir=Path(log_dir) if log_dir else None,
        report_dir=Path(report_dir) if report_dir else Path("reports"),
        topology_given=raw["topology"][0] is not None,
    )
