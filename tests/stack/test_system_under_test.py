"""A system under test is named in the contract and loaded only when an embedded stack starts it; a bad
name is a contract error saying how to fix it; the embedded stack builds its components from it."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from obs_tests.config.contract import DEMO_SYSTEM, load_contract
from obs_tests.errors import ContractInvalid
from obs_tests.stack.components import ComponentPlan, build_components, component_names, port_names
from obs_tests.stack.system_under_test import ServicePlan, SystemUnderTest, load_system

ROOT = Path(__file__).resolve().parents[2]

OWN_SYSTEM = """
from obs_tests.stack.probes import TcpProbe
from obs_tests.stack.system_under_test import ServiceSpec, SystemUnderTest

def _db_probe(plan):
    return TcpProbe("127.0.0.1", plan.port("db", "sql"))

def _argv(plan):
    return ["my-api", "--listen", f"127.0.0.1:{plan.port('api')}", "--db", f"127.0.0.1:{plan.port('db', 'sql')}"]

SYSTEM = SystemUnderTest(
    name="billing",
    module="billing",
    services=(
        ServiceSpec("db", "a database", lambda plan: ["my-db"], _db_probe,
            ports=("sql", "admin"), scheme="postgres", metrics=False),
        ServiceSpec("api", "the billing API", _argv, lambda plan: plan.http_probe("api", "/health")),
    ),
)
"""


@pytest.fixture
def own_module(tmp_path: Path) -> Iterator[str]:
    """A module of the user's own, with a SYSTEM, importable as ``own_billing_system``."""
    (tmp_path / "own_billing_system.py").write_text(textwrap.dedent(OWN_SYSTEM), encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        yield "own_billing_system"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("own_billing_system", None)


def _contract(tmp_path: Path, stack: str) -> Path:
    path = tmp_path / "obs.yaml"
    path.write_text(
        f"version: 1\nstack:\n{textwrap.indent(stack, '  ')}\njobs:\n  - name: api\n    instances: 1\n",
        encoding="utf-8",
    )
    return path


def test_the_demo_loads_once() -> None:
    system = load_system(DEMO_SYSTEM)
    assert isinstance(system, SystemUnderTest)
    assert load_system(DEMO_SYSTEM) is system
    assert "gateway" in system.service_names and "webhook-sink" in system.service_names


def test_a_module_that_does_not_exist_is_a_contract_error_with_the_fix() -> None:
    with pytest.raises(ContractInvalid, match=r"stack.system: cannot import 'no_such_system_module'.*e\.g\. obs_tests"):
        load_system("no_such_system_module")


def test_a_module_without_a_system_is_a_contract_error() -> None:
    with pytest.raises(ContractInvalid, match=r"'json' has no SYSTEM of type SystemUnderTest"):
        load_system("json")


def test_an_embedded_contract_starts_the_demo_unless_it_names_its_own(tmp_path: Path, own_module: str) -> None:
    assert load_contract(_contract(tmp_path, "prometheus: embedded")).stack.system == DEMO_SYSTEM
    named = load_contract(_contract(tmp_path, f"prometheus: embedded\nsystem: {own_module}"))
    assert named.stack.system == own_module


def test_a_stack_obs_tests_does_not_start_has_no_system(tmp_path: Path) -> None:
    contract = load_contract(_contract(tmp_path, "prometheus: http://prometheus.example:9090"))
    assert contract.stack.system is None


def test_a_system_name_that_is_no_module_name_is_rejected_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ContractInvalid, match=r"obs.yaml:4.*stack.system"):
        load_contract(_contract(tmp_path, "prometheus: embedded\nsystem: 'my system!'"))


def test_components_are_built_from_the_users_own_system(tmp_path: Path, own_module: str) -> None:
    system = load_system(own_module)
    names = ["prometheus", *system.service_names]
    assert component_names(system) == ["prometheus", "alertmanager", "node-exporter", "db", "api"]
    assert port_names("db", system) == ("sql", "admin")
    ports = {"prometheus": {"http": 9090}, "db": {"sql": 5432, "admin": 5433}, "api": {"http": 8080}}
    plan = ComponentPlan(ServicePlan(tmp_path, ports), tmp_path / "prometheus.yml", None)
    built = build_components(plan, names, system)
    assert built["api"].argv == ["my-api", "--listen", "127.0.0.1:8080", "--db", "127.0.0.1:5432"]
    assert built["db"].url == "postgres://127.0.0.1:5432" and not built["db"].metrics
    assert built["prometheus"].argv[0] == "prometheus"
    with pytest.raises(KeyError):
        build_components(plan, ["gateway"], system)  # not a service of this system
    with pytest.raises(KeyError):
        build_components(plan, ["api"], None)  # no system: only the monitoring


def test_the_documented_example_system_builds_its_components(tmp_path: Path) -> None:
    """docs/stack.md's example, run as written."""
    text = (ROOT / "docs" / "stack.md").read_text(encoding="utf-8")
    section = text.split("## The system under test", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/stack.md", "exec"), namespace)
    system = namespace["SYSTEM"]
    assert isinstance(system, SystemUnderTest)
    ports = {"db": {"sql": 5432}, "api": {"http": 8080}}
    plan = ComponentPlan(ServicePlan(tmp_path, ports), tmp_path / "prometheus.yml", None)
    built = build_components(plan, system.service_names, system)
    assert built["db"].argv == ["postgres", "-p", "5432"] and built["api"].argv == ["billing-api", "--port", "8080"]
