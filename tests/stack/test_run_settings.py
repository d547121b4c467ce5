"""One precedence rule for every setting — command line, environment, scenario, contract, default — with
URLs normalised once and bad values named by the flag or variable that gave them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from obs_tests.errors import ContractInvalid, UsageError
from obs_tests.stack.run_settings import given_value, resolve_settings

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "obs.yaml")


def _contract(tmp_path: Path, stack: str) -> str:
    path = tmp_path / "obs.yaml"
    jobs = "jobs:\n  - name: api\n    instances: 1\n"
    path.write_text(f"version: 1\nstack:\n{textwrap.indent(stack, '  ')}\n{jobs}", encoding="utf-8")
    return str(path)


def test_the_contract_gives_what_nothing_else_does() -> None:
    settings = resolve_settings({"contract": DEMO}, {})
    assert settings.embedded and settings.prometheus_url is None
    assert settings.time_scale == settings.contract.stack.time_scale and not settings.time_scale_given
    assert settings.scenario_stacks == settings.contract.stack.scenario_stacks
    assert settings.report_dir == Path("reports") and settings.log_dir is None


def test_the_command_line_wins_over_the_environment_which_wins_over_the_contract() -> None:
    env = {"OBS_TIME_SCALE": "0.5", "OBS_SCENARIO_STACKS": "3", "OBS_REPORT_DIR": "from-env"}
    from_env = resolve_settings({"contract": DEMO}, env)
    assert (from_env.time_scale, from_env.scenario_stacks, from_env.report_dir) == (0.5, 3, Path("from-env"))
    assert from_env.time_scale_given
    given = resolve_settings({"contract": DEMO, "time_scale": 0.25, "scenario_stacks": 1, "report_dir": "cli"}, env)
    assert (given.time_scale, given.scenario_stacks, given.report_dir) == (0.25, 1, Path("cli"))


def test_the_contract_path_comes_from_the_environment_too(tmp_path: Path) -> None:
    path = _contract(tmp_path, "prometheus: embedded\ntime_scale: 0.2")
    assert resolve_settings({}, {"OBS_CONTRACT": path}).time_scale == 0.2


def test_a_scenarios_own_time_scale_wins_over_the_contract_but_not_over_the_command_line() -> None:
    settings = resolve_settings({"contract": DEMO}, {})
    assert settings.scenario_time_scale([None, 0.05, 0.2]) == 0.05
    assert settings.scenario_time_scale([None]) == settings.contract.stack.time_scale
    explicit = resolve_settings({"contract": DEMO, "time_scale": "0.3"}, {})
    assert explicit.scenario_time_scale([0.05]) == 0.3


def test_the_topology_comes_from_the_command_line_or_environment_into_the_contract() -> None:
    assert not resolve_settings({"contract": DEMO}, {}).contract.stack.topology.ha
    from_env = resolve_settings({"contract": DEMO}, {"OBS_TOPOLOGY": "ha"})
    assert from_env.topology_given and from_env.contract.stack.topology.alertmanager_peers == 3
    given = resolve_settings({"contract": DEMO, "topology": "single"}, {"OBS_TOPOLOGY": "ha"})
    assert not given.contract.stack.topology.ha


@pytest.mark.parametrize(("cores", "stacks"), [(1, 1), (2, 1), (3, 1), (4, 2), (16, 2)])
def test_an_ha_topology_takes_one_scenario_stack_per_two_cores_unless_told(
    monkeypatch: pytest.MonkeyPatch, cores: int, stacks: int
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert resolve_settings({"contract": DEMO, "topology": "ha"}, {}).scenario_stacks == stacks  # the contract's: 2
    assert resolve_settings({"contract": DEMO}, {}).scenario_stacks == 2  # single: the contract's
    told = resolve_settings({"contract": DEMO, "topology": "ha"}, {"OBS_SCENARIO_STACKS": "3"})
    assert told.scenario_stacks == 3


def test_a_bad_topology_or_one_for_a_prometheus_of_yours_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^OBS_TOPOLOGY triple: single or ha$"):
        resolve_settings({"contract": DEMO}, {"OBS_TOPOLOGY": "triple"})
    yours = _contract(tmp_path, "prometheus: http://prometheus:9090")
    with pytest.raises(UsageError, match=r"^--topology ha: the topology is a shape of the embedded stack"):
        resolve_settings({"contract": yours, "topology": "ha"}, {})


def test_a_compose_stack_runs_its_rules_as_written_unless_told() -> None:
    assert resolve_settings({"contract": DEMO}, {}).compose_time_scale == 1.0
    assert resolve_settings({"contract": DEMO, "time_scale": "0.02"}, {}).compose_time_scale == 0.02


def test_urls_are_normalised_once_from_wherever_they_come(tmp_path: Path) -> None:
    given = resolve_settings({"contract": DEMO, "prometheus_url": "http://prom.example:9090/"}, {})
    assert given.prometheus_url == "http://prom.example:9090" and not given.embedded
    from_env = resolve_settings({"contract": DEMO}, {"OBS_ALERTMANAGER_URL": "http://am.example:9093/"})
    assert from_env.alertmanager_url == "http://am.example:9093"
    path = _contract(tmp_path, "prometheus: http://prom.internal:9090/\nalertmanager: null")
    yours = resolve_settings({"contract": path}, {})
    assert yours.prometheus_url == "http://prom.internal:9090" and yours.alertmanager_url is None


@pytest.mark.parametrize(
    ("given", "env", "flags", "message"),
    [
        ({"time_scale": "2"}, {}, {}, r"--time-scale 2: a factor with 0 < factor ≤ 1"),
        ({}, {"OBS_TIME_SCALE": "fast"}, {}, r"OBS_TIME_SCALE fast: a factor"),
        ({"time_scale": "0"}, {}, {"time_scale": "--obs-time-scale"}, r"--obs-time-scale 0: a factor"),
        ({"scenario_stacks": "17"}, {}, {}, r"--scenario-stacks 17: a whole number of stacks, 1 to 16"),
        ({"prometheus_url": "prom:9090"}, {}, {}, r"--prometheus-url: .*http"),
        ({}, {"OBS_GRAFANA_URL": "ftp://grafana"}, {}, r"OBS_GRAFANA_URL: "),
    ],
)
def test_a_bad_value_is_named_by_what_gave_it(
    given: dict[str, object], env: dict[str, str], flags: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_settings({"contract": DEMO, **given}, env, flags=flags)


def test_a_missing_contract_is_a_contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractInvalid):
        resolve_settings({"contract": str(tmp_path / "nowhere.yaml")}, {})


def test_given_value_is_the_command_line_then_the_environment() -> None:
    assert given_value({"log_dir": "cli"}, "log_dir", {"OBS_LOG_DIR": "env"}) == "cli"
    assert given_value({}, "log_dir", {"OBS_LOG_DIR": "env"}) == "env"
    assert given_value({"log_dir": ""}, "log_dir", {}) is None
