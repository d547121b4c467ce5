"""The plugin's options and the session's settings resolved from them — once per session, by the one rule
of :func:`~obs_tests.stack.run_settings.resolve_settings` (command line, environment, contract, default), or
handed over as they are by ``obs-tests check`` (:class:`GivenSettings`).

Example::

    def test_mine(pytestconfig):
        settings = run_settings(pytestconfig)
        assert settings.contract.jobs
"""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.config.contract import Contract
from obs_tests.errors import ObsTestsError
from obs_tests.stack.run_settings import RunSettings, given_value, resolve_settings

__all__ = [
    "GivenSettings",
    "add_options",
    "contract_argument_took_the_rootdir",
    "grafana_url",
    "log_dir",
    "report_dir",
    "run_settings",
    "session_contract",
]

_SETTINGS_KEY = pytest.StashKey[RunSettings]()


def add_options(parser: pytest.Parser) -> None:
    """The plugin's options, in their own group of ``pytest --help`` (the ``pytest_addoption`` hook)."""
    group = parser.getgroup("obs-tests", "obs-tests: validate a monitoring stack")
    group.addoption(
        "--obs-contract",
        default=None,
        help="contract file (env OBS_CONTRACT; default: obs.yaml in the current directory)",
    )
    group.addoption(
        "--prometheus-url",
        default=None,
        help="use this Prometheus instead of the embedded stack (env OBS_PROMETHEUS_URL)",
    )
    group.addoption(
        "--obs-time-scale",
        default=None,
        help="embedded stack: multiply every for:/range window of the rules by this factor (env OBS_TIME_SCALE; "
        "default: the contract's stack.time_scale)",
    )
    group.addoption("--alertmanager-url", default=None, help="Alertmanager URL (env OBS_ALERTMANAGER_URL)")
    group.addoption("--grafana-url", default=None, help="Grafana URL; enables grafana tests (env OBS_GRAFANA_URL)")
    group.addoption(
        "--obs-report-dir",
        default=None,
        help="where checks write their own reports, e.g. rule-test JUnit (env OBS_REPORT_DIR; default: reports)",
    )
    group.addoption(
        "--obs-scenario-stacks",
        default=None,
        help="embedded stack: run the chaos scenarios on this many stacks in parallel (env OBS_SCENARIO_STACKS; "
        "default: the contract's stack.scenario_stacks)",
    )
    group.addoption(
        "--obs-topology",
        default=None,
        help="embedded stack: single, or ha (Prometheus replicas and an Alertmanager cluster; the scenarios with "
        "topology: ha run) (env OBS_TOPOLOGY; default: the contract's stack.topology)",
    )
    group.addoption(
        "--obs-log-dir",
        default=None,
        help="keep the embedded stack's component logs in this directory (env OBS_LOG_DIR)",
    )


#: setting (RunSettings) -> this plugin's option giving it
_FLAGS = {
    "contract": "--obs-contract",
    "prometheus_url": "--prometheus-url",
    "alertmanager_url": "--alertmanager-url",
    "grafana_url": "--grafana-url",
    "time_scale": "--obs-time-scale",
    "scenario_stacks": "--obs-scenario-stacks",
    "topology": "--obs-topology",
    "log_dir": "--obs-log-dir",
    "report_dir": "--obs-report-dir",
}


class GivenSettings:
    """``obs-tests check`` hands the settings it resolved to the session as this plugin object
    (``pytest.main(args, plugins=[GivenSettings(settings)])``): nothing is resolved twice."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings


def _given(config: pytest.Config) -> dict[str, object | None]:
    return {key: config.getoption(flag, default=None) for key, flag in _FLAGS.items()}


def run_settings(config: pytest.Config) -> RunSettings:
    """The session's settings: the ones ``obs-tests check`` handed over, else this plugin's options resolved
    by :func:`~obs_tests.stack.run_settings.resolve_settings` (once per session). A bad contract or value stops
    the session with the reason (a usage error)."""
    if _SETTINGS_KEY not in config.stash:
        handed = [p.settings for p in config.pluginmanager.get_plugins() if isinstance(p, GivenSettings)]
        if handed:
            config.stash[_SETTINGS_KEY] = handed[0]
        else:
            try:
                config.stash[_SETTINGS_KEY] = resolve_settings(_given(config), flags=_FLAGS)
            except ObsTestsError as exc:
                path = Path(given_value(_given(config), "contract") or "obs.yaml")
                hint = (
                    ""
                    if path.exists()
                    else " (give --obs-contract=PATH or OBS_CONTRACT, or run pytest where your obs.yaml is)"
                )
                raise pytest.UsageError(f"{type(exc).__name__}: {exc}{hint}") from None
    return config.stash[_SETTINGS_KEY]


def contract_argument_took_the_rootdir(config: pytest.Config) -> str | None:
    """``--obs-contract /x/obs.yaml`` as two arguments: pytest picks its rootdir (and ini file) from the path
    arguments before any plugin loads, so it took that checkout's — its pytest settings would apply to the
    user's tests. The fix, when nothing else fixes the rootdir (``--rootdir``, ``-c``)."""
    args = [str(a) for a in config.invocation_params.args]
    if "--obs-contract" not in args or config.known_args_namespace.rootdir or config.known_args_namespace.inifilename:
        return None
    index = args.index("--obs-contract")
    if index + 1 >= len(args):
        return None
    value = args[index + 1]
    invocation = config.invocation_params.dir
    if invocation.is_relative_to(config.rootpath):
        return None  # the tests run inside that tree anyway
    ini = f" and its {config.inipath.name}" if config.inipath else ""
    return (
        f"--obs-contract {value}: given as a separate argument, pytest took {config.rootpath} as the rootdir{ini} "
        f"(it picks them from path arguments before plugins load), so that project's pytest settings would apply "
        f"to your tests in {invocation} — write --obs-contract={value}, or set OBS_CONTRACT={value}"
    )


def session_contract(config: pytest.Config) -> Contract:
    """The session's contract (see :func:`run_settings`); a bad contract stops the session clearly."""
    return run_settings(config).contract


def log_dir(config: pytest.Config) -> Path | None:
    """Where the embedded stack keeps its component logs (``--obs-log-dir``, ``OBS_LOG_DIR``), if anywhere."""
    try:
        return run_settings(config).log_dir
    except pytest.UsageError:
        text = given_value(_given(config), "log_dir")
        return Path(text) if text else None


def grafana_url(config: pytest.Config) -> str | None:
    """The Grafana under test: ``--grafana-url``, ``OBS_GRAFANA_URL`` or the contract's ``stack.grafana``."""
    try:
        return run_settings(config).grafana_url
    except pytest.UsageError:
        return given_value(_given(config), "grafana_url")


def report_dir(config: pytest.Config) -> Path:
    """Where checks write reports of their own (``--obs-report-dir``, ``OBS_REPORT_DIR``, default ``reports``)."""
    try:
        return run_settings(config).report_dir
    except pytest.UsageError:  # no readable contract: the option, else the default
        return Path(given_value(_given(config), "report_dir") or "reports")
