"""The contract in the session: the ``contract`` fixture, the tests parametrized from it (one per job, metric,
alert rule or scenario), and — when it cannot be read — one test failing with the reason instead of an error
while collecting.

Example::

    def test_each_job(contract_job):          # one test per job of the contract
        assert contract_job.instances >= 1
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from obs_tests.config.contract import Contract, Metric
from obs_tests.errors import ObsTestsError
from obs_tests.rules.rulefiles import load_rule_files
from obs_tests.suite.markers import scenario_marks
from obs_tests.suite.session_settings import session_contract

__all__ = [
    "NO_CONTRACT",
    "contract",
    "contract_error",
    "parametrize_from_contract",
    "session_scenarios",
]

#: the marker of the one test standing for a parametrization without a readable contract
NO_CONTRACT = "obs_contract_unreadable"

_SCENARIOS_KEY = pytest.StashKey[list[Any]]()


def contract_error(config: pytest.Config) -> str:
    """Why the contract cannot be read ("" when it can)."""
    try:
        session_contract(config)
    except pytest.UsageError as exc:
        return str(exc)
    return ""


def _contract_or_none(metafunc: pytest.Metafunc, name: str) -> Contract | None:
    """The contract for parametrizing ``name``; when it cannot be read, one test that fails saying why (an
    error raised while collecting comes out wrapped in other plugins' hook warnings)."""
    try:
        return session_contract(metafunc.config)
    except pytest.UsageError:
        mark = getattr(pytest.mark, NO_CONTRACT)
        metafunc.parametrize(name, [pytest.param(None, id="no-contract", marks=mark)])
        return None


_METRIC_PARAMS: dict[str, Callable[[Metric], bool]] = {
    "contract_metric": lambda m: True,
    "contract_histogram": lambda m: m.type == "histogram",
    "contract_gauge": lambda m: m.type == "gauge",
    "contract_budgeted": lambda m: m.max_series is not None,
}


def parametrize_from_contract(metafunc: pytest.Metafunc) -> None:
    """Parametrize a test taking ``contract_job``, ``contract_metric`` (``contract_histogram``, ``contract_gauge``,
    ``contract_budgeted``), ``contract_alert`` or ``contract_scenario``: one test per item of the contract (the
    ``pytest_generate_tests`` hook); a scenario's test carries the markers of what it does
    (:func:`~obs_tests.suite.markers.scenario_marks`)."""
    if "contract_job" in metafunc.fixturenames and (contract := _contract_or_none(metafunc, "contract_job")):
        metafunc.parametrize("contract_job", contract.jobs, ids=[j.name for j in contract.jobs])
    for name, keep in _METRIC_PARAMS.items():
        if name in metafunc.fixturenames and (contract := _contract_or_none(metafunc, name)):
            metrics = [m for m in contract.metrics if keep(m)]
            metafunc.parametrize(name, metrics, ids=[m.name for m in metrics])
    if "contract_alert" in metafunc.fixturenames and (contract := _contract_or_none(metafunc, "contract_alert")):
        alerts = [r for rf in load_rule_files(contract.files.rule_files()) for r in rf.alerts]
        metafunc.parametrize("contract_alert", alerts, ids=[a.name for a in alerts])
    if "contract_scenario" in metafunc.fixturenames:
        scenarios = session_scenarios(metafunc.config)
        skip_ha = _NEEDS_HA if _single_topology(metafunc.config) else []
        params = [
            pytest.param(s, id=s.name, marks=[*scenario_marks(s), *(skip_ha if s.topology == "ha" else [])])
            for s in scenarios
        ]
        metafunc.parametrize("contract_scenario", params)


#: the mark of an HA scenario in a session on a single stack
_NEEDS_HA = [
    pytest.mark.skip(
        reason="needs the HA topology (Prometheus replicas and an Alertmanager cluster): obs-tests check --topology ha"
    )
]


def _single_topology(config: pytest.Config) -> bool:
    """Whether the session's stack is not HA (a stack of yours by URL counts as single: no scenario runs)."""
    try:
        return not session_contract(config).stack.topology.ha
    except pytest.UsageError:
        return True


def session_scenarios(config: pytest.Config) -> list[Any]:
    """The contract's scenarios (steady-state ones first), loaded once per session; a bad file stops the
    session with its located error (exit 2)."""
    if _SCENARIOS_KEY not in config.stash:
        # the plugin loads in every pytest session of a machine with obs-tests installed: the scenario
        # machinery (rule files, Alertmanager config, schemas) only when a test asks for scenarios
        from obs_tests.scenarios.model import Catalog, load_scenarios, ordered  # noqa: PLC0415

        contract = session_contract(config)
        if not contract.files.scenarios.is_dir():
            config.stash[_SCENARIOS_KEY] = []
        else:
            try:
                found = load_scenarios(contract.files.scenarios, Catalog.from_contract(contract))
            except ObsTestsError as exc:
                raise pytest.UsageError(f"{type(exc).__name__}: {exc}") from None
            config.stash[_SCENARIOS_KEY] = ordered(found)
    result: list[Any] = config.stash[_SCENARIOS_KEY]
    return result


@pytest.fixture(scope="session")
def contract(pytestconfig: pytest.Config) -> Contract:
    """The parsed contract (``--obs-contract``, default ``obs.yaml``)."""
    error = contract_error(pytestconfig)
    if error:
        pytest.fail(error, pytrace=False)
    return session_contract(pytestconfig)
