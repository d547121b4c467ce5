from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract, parse_duration
from obs_tests.errors import ContractInvalid

ROOT = Path(__file__).resolve().parents[2]
BAD = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"


def test_bundled_contract_loads() -> None:
    contract = load_contract(ROOT / "obs.yaml")
    assert contract.stack.embedded
    assert contract.job("agents").instances == 4
    assert contract.job("agents").components == (
        "agent-momentum",
        "agent-risk",
        "agent-sentiment",
        "agent-correlation",
    )
    score = contract.metric("agent_confidence_score")
    assert (score.range_min, score.range_max) == (0.0, 1.0)
    assert contract.files.alertmanager_config == ROOT / "alertmanager" / "alertmanager.yml"
    assert ROOT / "prometheus" / "alerts" / "availability.yml" in contract.files.rule_files()


def test_minimal_contract_gets_defaults() -> None:
    contract = load_contract(BAD / "minimal.yaml")
    assert contract.stack.scrape_interval == 1.0
    assert contract.stack.alertmanager == "embedded"
    assert contract.metrics == ()
    assert contract.jobs[0].metrics_path == "/metrics"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param(
            "unknown_field.yaml",
            "unknown_field.yaml:6: jobs[1].instanses: unknown field 'instanses' (did you mean 'instances'?)",
            id="unknown-field",
        ),
        pytest.param(
            "wrong_type.yaml",
            "wrong_type.yaml:4: jobs[0].instances: expected an integer, got a string",
            id="wrong-type",
        ),
        pytest.param(
            "missing_job_name.yaml",
            "missing_job_name.yaml:3: jobs[0]: missing required field 'name'",
            id="missing-job-name",
        ),
        pytest.param(
            "duplicate_job.yaml",
            "duplicate_job.yaml:5: jobs[1].name: job 'gateway' is already declared at jobs[0]",
            id="duplicate-job",
        ),
        pytest.param(
            "bad_duration.yaml",
            'bad_duration.yaml:3: stack.scrape_interval: "1 second" is not valid — a duration such as 500ms',
            id="bad-duration",
        ),
        pytest.param(
            "unknown_metric_job.yaml",
            "unknown_metric_job.yaml:8: metrics[0].job: unknown job 'gatewy' — declared jobs: gateway",
            id="unknown-metric-job",
        ),
        pytest.param("bad_range.yaml", "bad_range.yaml:8: metrics[0].range: min 1 is greater than max 0", id="range"),
        pytest.param("bad_yaml.yaml", "bad_yaml.yaml:4: not valid YAML", id="yaml-syntax"),
        pytest.param("empty.yaml", "empty.yaml: the file is empty", id="empty"),
        pytest.param("duplicate_key.yaml", "duplicate_key.yaml:5: key 'instances' appears twice", id="duplicate-key"),
        pytest.param(
            "components_mismatch.yaml",
            "components_mismatch.yaml:4: jobs[0].instances: 3 instances but 2 components listed",
            id="components-mismatch",
        ),
        pytest.param(
            "bad_metric_type.yaml",
            "bad_metric_type.yaml:7: metrics[0].type: \"countr\" is not allowed (did you mean 'counter'?)",
            id="metric-type",
        ),
        pytest.param(
            "bad_url.yaml",
            "bad_url.yaml:3: stack.prometheus: \"prometheus:9090\" is not valid — 'embedded' or an http",
            id="bad-url",
        ),
        pytest.param("not_a_mapping.yaml", "not_a_mapping.yaml:1: (top level): expected a mapping", id="not-mapping"),
        pytest.param("does_not_exist.yaml", "does_not_exist.yaml: file not found", id="missing-file"),
    ],
)
def test_bad_contract_is_located(fixture: str, expected: str) -> None:
    with pytest.raises(ContractInvalid) as info:
        load_contract(BAD / fixture)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("500ms", 0.5),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1.5s", 1.5),
        ("1d", 86400.0),
        ("2w", 1209600.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "s", "1 s", "1x", "-1s", "1s2"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            "files:\n  rules: [rules, prometheus/alert]\n",
            'c.yaml:3: files.rules[1]: "prometheus/alert" does not exist (resolved to ',
            id="rules-typo",
        ),
        pytest.param(
            "files:\n  dashboards: grafana/dashbords\n",
            'c.yaml:3: files.dashboards: "grafana/dashbords" does not exist (resolved to ',
            id="dashboards-typo",
        ),
    ],
)
def test_a_mistyped_rules_or_dashboards_path_is_a_located_error(tmp_path: Path, files: str, expected: str) -> None:
    """Defect 4: a path the contract names that does not exist is an error, not "0 files"."""
    (tmp_path / "rules").mkdir()
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\n" + files + "jobs:\n  - {name: node, instances: 1}\n")
    with pytest.raises(ContractInvalid) as info:
        load_contract(path)
    assert str(info.value).startswith(str(path)[: -len("c.yaml")] + expected), str(info.value)
    assert "fix the path (relative to" in str(info.value)


def test_existing_and_default_file_paths_load(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "alerts.yml").write_text("groups: []\n")
    (tmp_path / "dash").mkdir()
    path = tmp_path / "c.yaml"
    path.write_text(
        "version: 1\nfiles:\n  rules: [rules, alerts.yml]\n  dashboards: dash\njobs:\n  - {name: n, instances: 1}\n"
    )
    assert load_contract(path).files.rule_files() == [tmp_path / "alerts.yml"]
    path.write_text("version: 1\njobs:\n  - {name: n, instances: 1}\n")  # defaults need not exist
    assert load_contract(path).files.rule_files() == []
