"""Dashboard lint: the bundled dashboards are schema-valid and lint-clean; every rule fails on a broken input,
with the dashboard, the panel and the fix in the message; foreign dashboards never crash it; `obs-tests lint`
reports them (exit 1) and a bad contract declaration is a located input error (exit 2)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from obs_tests.checks.dashboard_coverage import dashboard_metric_references
from obs_tests.checks.dashboard_schema import validate_dashboard_file
from obs_tests.checks.dashboards_lint import LINT_RULE_IDS, LINT_RULES, lint_dashboard, lint_dashboards
from obs_tests.cli import cli
from obs_tests.config.policy import RULE_IDS
from obs_tests.dashboards.dashboard_json import dashboard_files, load_dashboard, parse_dashboard
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.dashboards.datasources import prometheus_targets
from tests.checks.dashboard_helpers import with_queries

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "grafana_dashboards"
FIXTURES = ROOT / "tests" / "fixtures" / "dashboards"
GATEWAY = json.loads((BUNDLED / "gateway.json").read_text())


def _rules(findings: list[Any]) -> list[str]:
    return sorted({f.check.removeprefix("dashboard-lint:") for f in findings})


def _gateway(change: Any) -> Dashboard:
    """The bundled gateway dashboard with one thing broken."""
    model = copy.deepcopy(GATEWAY)
    change(model)
    return parse_dashboard(model, "gateway.json")


def _first_expr(model: dict[str, Any]) -> dict[str, Any]:
    target: dict[str, Any] = next(p for p in model["panels"] if p.get("targets"))["targets"][0]
    return target


def test_bundled_dashboards_are_schema_valid_and_lint_clean() -> None:
    dashboards = []
    for path in dashboard_files(BUNDLED):
        dashboard, findings = validate_dashboard_file(path)
        assert dashboard is not None and findings == [], findings
        dashboards.append(dashboard)
    assert [str(f) for f in lint_dashboards(dashboards)] == []


def test_missing_uid() -> None:
    findings = lint_dashboard(_gateway(lambda m: m.pop("uid")))
    assert _rules(findings) == ["uid"]
    assert 'no uid — set a stable "uid"' in findings[0].message


def test_duplicate_uid_across_dashboards() -> None:
    one = parse_dashboard(copy.deepcopy(GATEWAY), "gateway.json")
    two = parse_dashboard({**copy.deepcopy(GATEWAY), "title": "Copy"}, "copy.json")
    findings = [f for f in lint_dashboards([one, two]) if f.check.endswith(":uid")]
    assert len(findings) == 1
    assert "uid 'obs-gateway' is also used by 'obs-tests / Gateway' (obs-gateway, gateway.json)" in findings[0].message


def test_rate_without_rate_interval() -> None:
    def change(model: dict[str, Any]) -> None:
        _first_expr(model)["expr"] = 'sum(rate(gateway_webhooks_total{job=~"$job", instance=~"$instance"}[5m]))'

    findings = lint_dashboard(_gateway(change))
    assert _rules(findings) == ["rate-interval"]
    assert "panel 'Requests/s' (id 1) query A" in findings[0].subject
    assert findings[0].message.startswith("rate(gateway_webhooks_total[5m]) — use [$__rate_interval]")


@pytest.mark.parametrize(
    ("window", "ok"),
    [
        pytest.param("$__rate_interval", True, id="rate-interval"),
        pytest.param("${__rate_interval}", True, id="rate-interval-braces"),
        pytest.param("$__interval", False, id="interval"),
        pytest.param("$__range", False, id="range-in-rate"),
        pytest.param("1m", False, id="literal"),
    ],
)
def test_rate_windows(window: str, ok: bool) -> None:
    def change(model: dict[str, Any]) -> None:
        _first_expr(model)["expr"] = (
            f'sum(rate(gateway_webhooks_total{{job=~"$job", instance=~"$instance"}}[{window}]))'
        )

    assert (_rules(lint_dashboard(_gateway(change))) == []) is ok


def test_increase_over_the_dashboard_range_is_accepted() -> None:
    def change(model: dict[str, Any]) -> None:
        _first_expr(model)["expr"] = (
            'sum(increase(gateway_webhooks_total{job=~"$job", instance=~"$instance"}[$__range]))'
        )

    assert lint_dashboard(_gateway(change)) == []


def test_hard_coded_datasource() -> None:
    def change(model: dict[str, Any]) -> None:
        model["panels"][0]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}

    findings = lint_dashboard(_gateway(change))
    assert _rules(findings) == ["template-datasource"]
    assert "datasource is hard-coded ({type: prometheus, uid: P1809F7CD0C75ACF3})" in findings[0].message


def test_missing_job_variable_and_unfiltered_selector() -> None:
    def drop_job(model: dict[str, Any]) -> None:
        model["templating"]["list"] = [v for v in model["templating"]["list"] if v["name"] != "job"]

    findings = lint_dashboard(_gateway(drop_job))
    assert "template-job" in _rules(findings)

    def unfiltered(model: dict[str, Any]) -> None:
        _first_expr(model)["expr"] = 'sum(rate(gateway_webhooks_total{instance=~"$instance"}[$__rate_interval]))'

    findings = lint_dashboard(_gateway(unfiltered))
    assert _rules(findings) == ["template-job"]
    assert findings[0].message == 'selector gateway_webhooks_total does not filter on $job — add job=~"$job"'


def test_a_recorded_series_summed_by_job_is_not_asked_to_filter_on_instance() -> None:
    """job:redis_commands:rate5m (level:metric:operations) is summed by job: it has no instance label, and
    adding instance=~"$instance" would empty the panel (found on a mixin-style dashboard)."""

    def by_job(model: dict[str, Any]) -> None:
        _first_expr(model)["expr"] = 'sum(job:gateway_webhooks:rate5m{job=~"$job"})'

    assert lint_dashboard(_gateway(by_job)) == []

    def by_instance(model: dict[str, Any]) -> None:
        _first_expr(model)["expr"] = 'sum(instance:gateway_webhooks:rate5m{job=~"$job"})'

    [finding] = lint_dashboard(_gateway(by_instance))
    assert finding.message == (
        'selector instance:gateway_webhooks:rate5m does not filter on $instance — add instance=~"$instance"'
    )


def test_missing_unit() -> None:
    findings = lint_dashboard(_gateway(lambda m: m["panels"][0]["fieldConfig"]["defaults"].pop("unit")))
    assert _rules(findings) == ["panel-units"]
    assert "panel 'Requests/s' (id 1)" in findings[0].subject


def test_a_stat_that_maps_values_to_text_needs_no_unit_and_old_panels_are_told_where_it_goes() -> None:
    def stat_with_mappings(model: dict[str, Any]) -> None:
        panel = model["panels"][0]
        panel["type"] = "stat"
        panel["fieldConfig"]["defaults"].pop("unit")
        panel["fieldConfig"]["defaults"]["mappings"] = [
            {"type": "value", "options": {"0": {"text": "DOWN"}, "1": {"text": "UP"}}}
        ]

    assert "panel-units" not in _rules(lint_dashboard(_gateway(stat_with_mappings)))

    # a time series with mappings still draws numbers on an axis: it needs its unit
    def series_with_mappings(model: dict[str, Any]) -> None:
        stat_with_mappings(model)
        model["panels"][0]["type"] = "timeseries"

    assert "panel-units" in _rules(lint_dashboard(_gateway(series_with_mappings)))

    def old_graph(model: dict[str, Any]) -> None:
        panel = model["panels"][0]
        panel["type"] = "graph"
        panel["fieldConfig"]["defaults"].pop("unit")
        panel["yaxes"] = [{"format": None}, {"format": "short"}]

    [finding] = [f for f in lint_dashboard(_gateway(old_graph)) if f.check.endswith("panel-units")]
    assert finding.message.startswith("no unit — set yaxes[0].format (the old graph panel)")


def test_every_rule_on_one_broken_dashboard() -> None:
    dashboard = load_dashboard(FIXTURES / "broken" / "lint_problems.json")
    findings = lint_dashboard(dashboard)
    assert _rules(findings) == [
        "panel-ids",
        "panel-targets",
        "panel-units",
        "promql",
        "rate-interval",
        "schema-version",
        "template-datasource",
        "template-instance",
        "template-job",
        "template-undefined",
        "uid",
    ]
    by_rule = {f.check.removeprefix("dashboard-lint:"): f for f in findings}
    assert "id 1 is also used by panel 'Hard-coded rate' (id 1)" in by_rule["panel-ids"].message
    assert "uses $jobb, which the dashboard does not define" in by_rule["template-undefined"].message
    assert by_rule["promql"].message.startswith("does not parse: unclosed left parenthesis")
    assert by_rule["schema-version"].severity == "warning"


@pytest.mark.parametrize("name", [p.name for p in sorted((FIXTURES / "foreign").glob("*.json"))])
def test_foreign_dashboards_never_crash(name: str) -> None:
    dashboard, findings = validate_dashboard_file(FIXTURES / "foreign" / name)
    assert dashboard is not None and findings == [], findings
    lint_dashboard(dashboard)
    dashboard_metric_references([dashboard])


def test_library_panels_are_reported_not_checked() -> None:
    dashboard = load_dashboard(FIXTURES / "foreign" / "library_panels.json")
    _, skipped = prometheus_targets(dashboard)
    assert (
        skipped[0][2] == "library panel 'Shared request rate' (uid lib-1): its queries live in Grafana's panel library"
    )
    warnings = [f for f in lint_dashboard(dashboard) if f.check.endswith("library-panel")]
    assert warnings and warnings[0].severity == "warning"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's config, dashboards and compose file to break."""
    for name in ("prometheus", "alertmanager", "runbooks", "grafana_dashboards", "grafana"):
        shutil.copytree(ROOT / name, tmp_path / name)
    for name in ("obs.yaml", "docker-compose.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _lint(project: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["lint", "--contract", str(project / "obs.yaml"), "--junit", str(project / "junit.xml")]
    )
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.slow
def test_obs_tests_lint_reports_a_broken_dashboard(project: Path) -> None:
    clean, out = _lint(project)
    assert clean == 0, out
    assert "PASS  dashboards: 7 dashboards in" in out
    model = json.loads((project / "grafana_dashboards" / "gateway.json").read_text())
    del model["uid"]
    _first_expr(model)["expr"] = 'sum(rate(gateway_webhooks_total{job=~"$job", instance=~"$instance"}[1m]))'
    (project / "grafana_dashboards" / "gateway.json").write_text(json.dumps(model))
    code, out = _lint(project)
    assert code == 1, out
    assert "FAIL  dashboards" in out
    assert "dashboard 'obs-tests / Gateway' (no uid, gateway.json): no uid" in out
    assert "panel 'Requests/s' (id 1) query A: rate(gateway_webhooks_total[1m]) — use [$__rate_interval]" in out


def test_contract_declaration_without_reason_is_an_input_error(tmp_path: Path) -> None:
    text = (
        (ROOT / "obs.yaml")
        .read_text()
        .replace(
            'panel: Consumer backlog, reason: "0 while the agents keep up with the signals"}',
            "panel: Consumer backlog}",
        )
    )
    (tmp_path / "obs.yaml").write_text(text)
    result = CliRunner().invoke(cli, ["lint", "--contract", str(tmp_path / "obs.yaml")])
    assert result.exit_code == 2, result.output
    assert (
        "ContractInvalid" in result.output
        and "dashboards.expected_empty[5]: missing required field 'reason'" in result.output
    )
    assert "Traceback" not in result.output


# -- dashboards written the way community dashboards are ------------------------------------------------

COMMUNITY = FIXTURES / "community"


def _instance_findings(findings: list[Any]) -> list[str]:
    return [
        f"{f.subject.rpartition(') ')[2]}: {f.message}" for f in findings if f.rule == "dashboard/instance-variable"
    ]


def test_a_selector_not_filtering_on_the_instance_variable_names_it() -> None:
    dashboard = with_queries(
        'node_load1{instance="$node:9100", job="$job"}',
        'node_load5{job="$job"}',
        'node_load15{instance="localhost:9100", job="$job"}',  # a fixed instance, not the variable
        variables=("job", "node", "nodename"),
    )
    assert _instance_findings(lint_dashboard(dashboard)) == [
        'query A: selector node_load5 does not filter on $node — add instance="$node:9100"',
        'query A: selector node_load15 does not filter on $node — add instance="$node:9100"',
    ]


def test_no_query_filtering_instance_is_still_a_finding() -> None:
    listed = with_queries('node_load1{job="$job"}', variables=("job", "host"))  # host lists instances
    assert _instance_findings(lint_dashboard(listed)) == [
        "dashboard 't' (t, t.json): variable $host is defined but no query filters instance on it — add "
        'instance=~"$host" to every selector',
        'query A: selector node_load1 does not filter on $host — add instance=~"$host"',
    ]
    none = with_queries('node_load1{job="$job"}', variables=("job",))
    [finding] = _instance_findings(lint_dashboard(none))
    assert finding == (
        "dashboard 't' (t, t.json): no instance variable: no query filters instance on a variable — add a query "
        "variable label_values(instance) (multi-value, include All) and filter every selector with "
        'instance=~"$instance"'
    )


def test_a_community_node_dashboard_is_schema_valid_and_lints_without_false_positives() -> None:
    """Defects 8 and 12 on a dashboard written like the public node_exporter ones: `"repeat": null` and
    friends, `${DS_PROMETHEUS}` inputs in both forms, an instance variable called `node`."""
    dashboard, findings = validate_dashboard_file(COMMUNITY / "node_host_overview.json")
    assert dashboard is not None and findings == [], findings
    assert [(f.rule, f.message) for f in lint_dashboard(dashboard)] == [
        (
            "dashboard/datasource",
            "no datasource variable — its queries use the import input ${DS_PROMETHEUS}, which Grafana binds to "
            "one datasource when the dashboard is imported; add {name: datasource, type: datasource, query: "
            "prometheus} to templating.list and use ${datasource} in every panel and query",
        )
    ]


def test_an_api_form_dashboard_from_grafana_is_validated_and_linted_on_its_model() -> None:
    dashboard, findings = validate_dashboard_file(COMMUNITY / "redis_saved_api_form.json")
    assert dashboard is not None and findings == [], findings
    assert (dashboard.uid, len(dashboard.panels)) == ("redis-saved", 6)
    # the hard-coded Prometheus uid and name once each (not again on their queries); the Loki panel is not
    # this lint's business; the fix names the dashboard's own datasource variable
    assert [(f.subject.rpartition(") ")[2], f.message) for f in lint_dashboard(dashboard)] == [
        (
            "panel 'Memory used' (id 4)",
            "datasource is hard-coded ({type: prometheus, uid: PBFA97CFB590B2093}) — use ${ds} so the dashboard "
            "works on every Grafana",
        ),
        (
            "panel 'Keys per database' (id 5)",
            "datasource is hard-coded (Prometheus) — use ${ds} so the dashboard works on every Grafana",
        ),
    ]
    queries, skipped = prometheus_targets(dashboard)
    assert len(queries) == 6
    assert [(p.title, why) for p, _, why in skipped] == [
        ("Redis log", "datasource {type: loki, uid: P8E80F9AEF21F6940} is of type 'loki', not Prometheus")
    ]


def test_every_lint_finding_has_a_known_rule_id() -> None:
    findings = lint_dashboard(load_dashboard(FIXTURES / "broken" / "lint_problems.json"))
    assert findings and all(f.rule == LINT_RULE_IDS[f.check.removeprefix("dashboard-lint:")] for f in findings)
    assert set(LINT_RULE_IDS) == set(LINT_RULES) and set(LINT_RULE_IDS.values()) <= set(RULE_IDS)
    _, schema = validate_dashboard_file(FIXTURES / "broken" / "schema_error.json")
    assert {(f.rule, f.file) for f in schema} == {
        ("dashboard/schema", "tests/fixtures/dashboards/broken/schema_error.json")
    }
    assert [f.line for f in schema] == sorted(f.line or 0 for f in schema)  # panels[2] before panels[10]


def test_a_dashboard_without_prometheus_queries_needs_no_prometheus_variables() -> None:
    logs = parse_dashboard(
        {
            "uid": "logs",
            "title": "Logs",
            "panels": [
                {"id": 1, "type": "text", "title": "About", "options": {"content": "read me"}},
                {
                    "id": 2,
                    "type": "logs",
                    "title": "Errors",
                    "datasource": {"type": "loki", "uid": "${loki}"},
                    "targets": [{"refId": "A", "expr": '{app="gateway"} |= "error"'}],
                },
            ],
            "templating": {"list": [{"name": "loki", "type": "datasource", "query": "loki"}]},
        },
        "logs.json",
    )
    assert lint_dashboard(logs) == []
    # the same dashboard with one Prometheus query needs them
    model = {
        **logs.raw,
        "panels": [
            *logs.raw["panels"],
            {
                "id": 3,
                "type": "stat",
                "title": "Up",
                "fieldConfig": {"defaults": {"unit": "short"}},
                "targets": [{"refId": "A", "expr": "sum(up)"}],
            },
        ],
    }
    rules = {f.rule for f in lint_dashboard(parse_dashboard(model, "logs.json"))}
    assert rules == {"dashboard/datasource", "dashboard/job-variable", "dashboard/instance-variable"}
