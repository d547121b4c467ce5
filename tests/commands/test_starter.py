"""obs-tests init: a starter contract from files alone and from a (recorded) live Prometheus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from obs_tests.cli import cli
from obs_tests.clients.prometheus import PrometheusClient, Target
from obs_tests.commands.starter import StarterInputs, discover, render
from obs_tests.config.contract import load_contract

ROOT = Path(__file__).resolve().parents[2]


class LivePrometheus(PrometheusClient):
    """A Prometheus scraping node_exporter (15 s) and a redis exporter whose target carries `cluster`."""

    def __init__(self) -> None:
        super().__init__("http://recorded:9090")

    def config(self) -> str:
        return "global:\n  scrape_interval: 15s\n  evaluation_interval: 30s\n"

    def targets(self, state: str = "active") -> list[Target]:
        def target(job: str, instance: str, health: str, **extra: str) -> Target:
            labels = {"job": job, "instance": instance, **extra}
            return Target(job, instance, health, labels, f"http://{instance}/metrics", "", None, 0.01, 15.0, 10.0)

        return [
            target("node", "host-a:9100", "up"),
            target("node", "host-b:9100", "down"),
            target("redis", "cache:9121", "up", cluster="eu-1"),
        ]

    def metadata(self, metric: str | None = None) -> dict[str, list[dict[str, str]]]:
        return {
            "node_load5": [{"type": "gauge", "help": "5m load average.", "unit": ""}],
            "node_cpu_seconds_total": [{"type": "counter", "help": "Seconds the CPUs spent in each mode.", "unit": ""}],
            "node_disk_io_time_seconds_total": [
                {"type": "counter", "help": "Total seconds spent doing I/Os.", "unit": ""}
            ],
            "redis_up": [{"type": "gauge", "help": "Information about the Redis instance", "unit": ""}],
            "http_request_duration_seconds": [{"type": "histogram", "help": "Latency.", "unit": ""}],
        }

    def series(self, matchers: Any, start: float | None = None, end: float | None = None) -> list[dict[str, str]]:
        (matcher,) = list(matchers)
        live = {
            "node_load5": [{"__name__": "node_load5", "job": "node", "instance": "host-a:9100"}],
            "node_cpu_seconds_total": [
                {"__name__": "node_cpu_seconds_total", "job": "node", "instance": "host-a:9100", "cpu": "0", "mode": m}
                for m in ("idle", "user")
            ],
            "redis_up": [{"__name__": "redis_up", "job": "redis", "instance": "cache:9121", "cluster": "eu-1"}],
        }
        return [s for name, found in live.items() if f"{name}|" in matcher for s in found]


def _write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "host.yml").write_text(
        "groups:\n  - name: host\n    rules:\n"
        "      - alert: HostHighLoad\n        expr: node_load5 / on(instance) count by (instance) "
        '(node_cpu_seconds_total{mode="idle"}) > 2\n        for: 0m\n        labels: {severity: warning}\n'
        "      - alert: HostDiskBusy\n        expr: rate(node_disk_io_time_seconds_total[2m]) > 0.9\n"
        "        labels: {severity: warning}\n"
        "      - record: instance:node_cpu:ratio\n        expr: sum by (instance) (rate(node_cpu_seconds_total[1m]))\n"
        "      - alert: RedisDown\n        expr: redis_up == 0\n        labels: {severity: critical}\n"
    )
    dashboards = tmp_path / "dashboards"
    dashboards.mkdir()
    (dashboards / "latency.json").write_text(
        json.dumps(
            {
                "uid": "lat",
                "title": "Latency",
                "panels": [
                    {
                        "id": 1,
                        "type": "timeseries",
                        "title": "p95",
                        "targets": [
                            {
                                "refId": "A",
                                "expr": "histogram_quantile(0.95, sum by (le) "
                                "(rate(http_request_duration_seconds_bucket[$__rate_interval])))",
                            },
                            {"refId": "B", "expr": "instance:node_cpu:ratio"},
                        ],
                    }
                ],
            }
        )
    )
    return rules, dashboards


def test_live_discovery_reads_jobs_intervals_types_and_labels(tmp_path: Path) -> None:
    rules, dashboards = _write_inputs(tmp_path)
    inputs = StarterInputs(prometheus_url="http://recorded:9090", rules=(rules,), dashboards=dashboards)
    starter = discover(inputs, LivePrometheus())
    assert [(j.name, j.instances, j.up, j.scrape_interval) for j in starter.jobs] == [
        ("node", 2, 1, 15.0),
        ("redis", 1, 1, 15.0),
    ]
    assert (starter.scrape_interval, starter.evaluation_interval) == (15.0, 30.0)
    metrics = {m.name: m for m in starter.metrics}
    assert set(metrics) == {"node_load5", "node_cpu_seconds_total", "redis_up"}
    assert metrics["node_cpu_seconds_total"].type == "counter"
    assert metrics["node_cpu_seconds_total"].labels == ("cpu", "mode")
    assert metrics["redis_up"].labels == ()  # `cluster` is the target's label, not the exporter's
    assert metrics["redis_up"].job == "redis"
    # read by a rule or a panel, not exported now; the recording rule's output is Prometheus' own
    assert sorted(starter.missing) == ["http_request_duration_seconds", "node_disk_io_time_seconds_total"]
    output = tmp_path / "obs.yaml"
    output.write_text(render(starter, output))
    contract = load_contract(output)
    assert contract.stack.prometheus == "http://recorded:9090"
    assert contract.stack.alertmanager is None
    assert contract.job("node").instances == 2 and contract.job("node").scrape_interval == 15.0
    assert contract.metric("node_cpu_seconds_total").labels == ("cpu", "mode")
    assert contract.policy.alerts.required_labels == ("severity",)
    assert contract.policy.level("coverage/rule-tests", "error") == "warning"
    text = output.read_text()
    assert "# 1 of 2 up now" in text
    assert "Read, but not exported now (the live selector and panel checks report them): " in text


def test_offline_discovery_guesses_types_and_folds_histograms(tmp_path: Path) -> None:
    rules, dashboards = _write_inputs(tmp_path)
    starter = discover(StarterInputs(rules=(rules,), dashboards=dashboards), None)
    kinds = {m.name: (m.type, m.guessed) for m in starter.metrics}
    assert kinds["node_cpu_seconds_total"] == ("counter", True)
    assert kinds["http_request_duration_seconds"] == ("histogram", True)
    assert kinds["node_load5"] == ("untyped", True)
    assert "instance:node_cpu:ratio" not in kinds
    output = tmp_path / "sub" / "obs.yaml"
    output.parent.mkdir()
    output.write_text(render(starter, output))
    contract = load_contract(output)
    assert contract.files.rules == (rules.resolve(),)
    assert contract.files.dashboards == dashboards.resolve()
    assert "# prometheus:" in output.read_text()


def _init(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["init", *args])
    return result.exit_code, result.output


def test_init_writes_a_valid_contract_and_refuses_to_overwrite(tmp_path: Path) -> None:
    rules, dashboards = _write_inputs(tmp_path)
    output = tmp_path / "obs.yaml"
    code, out = _init("--rules", str(rules), "--dashboards", str(dashboards), "-o", str(output))
    assert code == 0, out
    assert f"wrote {output}: 1 jobs, 5 metrics" in out or f"wrote {output}: 0 jobs" in out
    load_contract(output)
    before = output.read_text()
    code, out = _init("--rules", str(rules), "-o", str(output))
    assert code == 2 and "exists — give --force to overwrite it" in out
    assert output.read_text() == before
    code, out = _init("--rules", str(rules), "-o", str(output), "--force")
    assert code == 0, out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param([], "nothing to start from", id="no-input"),
        pytest.param(["--rules", "/no/such/rules"], "does not exist", id="missing-rules"),
        pytest.param(["--prometheus-url", "ftp://x"], "http", id="bad-url"),
    ],
)
def test_init_refuses_bad_input(tmp_path: Path, args: list[str], fragment: str) -> None:
    code, out = _init(*args, "-o", str(tmp_path / "obs.yaml"))
    assert code == 2, out
    assert fragment in out and "Traceback" not in out
    assert not (tmp_path / "obs.yaml").exists()


def test_a_baseline_makes_lint_green_and_a_new_problem_red(tmp_path: Path) -> None:
    rules, dashboards = _write_inputs(tmp_path)
    output = tmp_path / "obs.yaml"
    lint = ["lint", "-c", str(output), "--junit", str(tmp_path / "j.xml")]
    assert _init("--rules", str(rules), "--dashboards", str(dashboards), "-o", str(output))[0] == 0
    assert CliRunner().invoke(cli, lint).exit_code == 1  # a community-style pack is red as it is
    code, out = _init(
        "--rules", str(rules), "--dashboards", str(dashboards), "-o", str(output), "--force", "--baseline"
    )
    assert code == 0, out
    assert "baseline: " in out and "finding(s) accepted" in out
    accepted = load_contract(output).policy.exceptions
    assert any(a.rule == "rule/required-annotation" and a.subject == "alert RedisDown" for a in accepted)
    assert all(a.reason.startswith("baseline ") for a in accepted)
    result = CliRunner().invoke(cli, lint)
    assert result.exit_code == 0, result.output
    # a new alert without a summary is red again
    host = rules / "host.yml"
    host.write_text(
        host.read_text() + "      - alert: HostSwapping\n        expr: node_load5 > 50\n        for: 5m\n"
        "        labels: {severity: warning}\n"
    )
    result = CliRunner().invoke(cli, lint)
    assert result.exit_code == 1, result.output
    assert "alert HostSwapping" in result.output and "missing annotation(s) summary" in result.output


def test_the_template_writes_strings_quoted(tmp_path: Path) -> None:
    rules, _ = _write_inputs(tmp_path)
    starter = discover(StarterInputs(rules=(rules,)), None)
    text = render(starter, tmp_path / "obs.yaml")
    data = yaml.safe_load(text)
    assert all(isinstance(m["name"], str) for m in data["metrics"])
    assert data["policy"]["levels"]["rule/for"] == "warning"
