"""Scenario names resolve only to files directly inside the scenario directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.errors import BadScenarioName, ScenarioInvalid, UnknownScenario
from obs_tests.scenarios.model import Catalog
from obs_tests.web.scenario_files import ScenarioFiles

from .helpers import FIXTURES, ROOT


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_contract(load_contract(ROOT / "obs.yaml"))


@pytest.fixture
def files(tmp_path: Path, catalog: Catalog) -> ScenarioFiles:
    directory = tmp_path / "scenarios"
    directory.mkdir()
    shutil.copy(ROOT / "scenarios" / "gateway-down.yaml", directory)
    shutil.copy(FIXTURES / "broken.yaml", directory)
    (directory / "notes.txt").write_text("not a scenario")
    (directory / "sub").mkdir()
    (directory / "sub" / "hidden.yaml").write_text("name: hidden\nsteps: []\n")
    outside = tmp_path / "outside.yaml"
    outside.write_text((ROOT / "scenarios" / "exchange-down.yaml").read_text())
    (directory / "escape.yaml").symlink_to(outside)
    return ScenarioFiles(directory, catalog)


def test_only_yaml_files_directly_inside_are_scenarios(files: ScenarioFiles) -> None:
    assert files.names() == ["broken", "gateway-down"]  # no .txt, no sub-directory, no symlink out


@pytest.mark.parametrize(
    "name",
    [
        "../outside",
        "sub/hidden",
        "/etc/passwd",
        "..",
        ".hidden",
        "gateway-down/../broken",
        "a" * 200,
        "",
        "gateway down",
        "gateway-down\x00",
    ],
)
def test_paths_and_odd_names_are_refused(files: ScenarioFiles, name: str) -> None:
    with pytest.raises(BadScenarioName, match="is not a file name of the scenario directory"):
        files.resolve(name)


@pytest.mark.parametrize("name", ["escape", "hidden", "notes", "outside", "gateway-up"])
def test_names_not_in_the_directory_are_unknown(files: ScenarioFiles, name: str) -> None:
    with pytest.raises(UnknownScenario, match=f"no scenario '{name}' — known: broken, gateway-down"):
        files.resolve(name)


def test_names_resolve_with_or_without_the_extension(files: ScenarioFiles) -> None:
    assert files.resolve("gateway-down") == files.resolve("gateway-down.yaml")
    assert files.resolve("gateway-down").parent == files.directory


def test_errors_name_the_file_never_the_servers_directories(files: ScenarioFiles) -> None:
    summary = files.summary("broken")
    assert summary["valid"] is False
    assert summary["error"]["line"] == 6
    assert summary["error"]["message"].startswith("broken.yaml:6: steps[0].wait_for_alert.name")
    assert str(files.directory) not in summary["error"]["message"]
    with pytest.raises(ScenarioInvalid) as invalid:
        files.load("broken")
    assert str(invalid.value).startswith("broken.yaml:6:")


def test_a_file_without_a_line_has_a_null_line(files: ScenarioFiles) -> None:
    (files.directory / "listy.yaml").write_text("- just\n- a list\n")
    summary = files.summary("listy")
    assert summary["error"] == {
        "message": "listy.yaml: a scenario is a mapping with name, steps, expect ... — see scenarios/",
        "line": None,
    }


def test_oversized_files_are_refused(files: ScenarioFiles) -> None:
    (files.directory / "huge.yaml").write_text("# " + "x" * 1_100_000 + "\nname: huge\nsteps: []\n")
    assert "a scenario file is at most" in files.summary("huge")["error"]["message"]
    assert len(files.preview("huge")["yaml"]) <= 1_000_000


def test_summary_and_preview_of_a_valid_scenario(files: ScenarioFiles) -> None:
    doc = files.preview("gateway-down")
    assert doc["valid"] is True and doc["title"] == "gateway-down"
    assert doc["must_fire"] == ["GatewayDown"]
    assert doc["faults"] == [{"name": "kill-gateway", "kind": "kill", "target": "gateway"}]
    assert doc["yaml"] == (ROOT / "scenarios" / "gateway-down.yaml").read_text()


def test_a_trading_bot_scenario_is_titled_as_written(tmp_path: Path, catalog: Catalog) -> None:
    shutil.copy(ROOT / "scenarios" / "trading-flash-crash-recovery.yaml", tmp_path)
    doc = ScenarioFiles(tmp_path, catalog).summary("trading-flash-crash-recovery")
    assert doc["valid"] is True, doc["error"]
    assert (doc["name"], doc["title"]) == ("trading-flash-crash-recovery", "Flash Crash Recovery Test")
    assert doc["description"] == "Verify bot handles flash crash without panic selling"
    assert {f["kind"] for f in doc["faults"]} == {
        "delay_event",
        "inject_failure",
        "drop_event",
        "modify_event",
        "network_latency",
    }
