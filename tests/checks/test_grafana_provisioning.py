"""Grafana provisioning files against the documented format: the repository's own files pass; each broken
file of tests/fixtures/grafana/provisioning_bad/ gives one located ``grafana/provisioning`` finding."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from obs_tests.checks.grafana_provisioning import check_provisioning, check_provisioning_file
from obs_tests.config.policy import RULE_IDS

ROOT = Path(__file__).parents[2]
BAD = ROOT / "tests" / "fixtures" / "grafana" / "provisioning_bad"


def test_the_shipped_provisioning_follows_the_documented_format() -> None:
    directory = ROOT / "grafana" / "provisioning"
    assert sorted(p.name for p in directory.glob("*/*.yml")) == ["obs-tests.yml", "prometheus.yml"]
    assert check_provisioning(directory) == []


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        pytest.param("datasource_typo.yml", 8, "unknown field 'isDefualt' (did you mean 'isDefault'?)", id="typo"),
        pytest.param("datasource_no_type.yml", 3, "datasources[0]: missing required field 'type'", id="no-type"),
        pytest.param("datasource_api_version.yml", 1, "apiVersion: 1 was expected", id="api-version"),
        pytest.param("datasource_access.yml", 5, '"server" is not allowed — use one of: proxy, direct', id="access"),
        pytest.param("datasource_two_defaults.yml", 10, "2 datasources of org 1 have isDefault: true", id="defaults"),
        pytest.param("datasource_bad_yaml.yml", 4, "", id="not-yaml"),
        pytest.param("provider_no_path.yml", 5, "options: missing required field 'path'", id="no-path"),
        pytest.param("provider_interval_string.yml", 4, 'expected an integer, got a string "10s"', id="interval"),
        pytest.param("provider_folder_and_structure.yml", 7, "foldersFromFilesStructure needs folder", id="folders"),
        pytest.param("provider_not_a_mapping.yml", 1, "expected a mapping with apiVersion: 1, got list", id="list"),
    ],
)
def test_broken_provisioning_file(name: str, line: int, message: str) -> None:
    kind = "datasources" if name.startswith("datasource") else "dashboards"
    [finding] = check_provisioning_file(BAD / name, kind)
    assert finding.rule == "grafana/provisioning" and finding.rule in RULE_IDS
    assert finding.line == line and message in finding.message, finding
    assert finding.subject.endswith(f"{name}:{line}")


def test_a_broken_file_in_a_provisioning_directory_is_found(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "grafana" / "provisioning", tmp_path / "provisioning")
    shutil.copy(BAD / "datasource_typo.yml", tmp_path / "provisioning" / "datasources" / "extra.yaml")
    findings = check_provisioning(tmp_path / "provisioning")
    assert [(Path(f.file or "").name, f.line) for f in findings] == [("extra.yaml", 8)]
