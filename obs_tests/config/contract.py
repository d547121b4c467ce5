"""The contract (``obs.yaml``): what a monitored stack promises, loaded into frozen dataclasses.

Example::

    contract = load_contract(Path("obs.yaml"))
    for job in contract.jobs:
        print(job.name, job.instances)

Schema: ``obs_tests/schemas/contract.schema.json``. Any problem raises :class:`ContractInvalid` with
``file:line: field.path: what — fix``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obs_tests.config.policy import Policy, unknown_levels
from obs_tests.config.topology import Topology
from obs_tests.config.validation import validate_document
from obs_tests.core.durations import parse_duration
from obs_tests.core.yamlfile import LocatedDocument, format_path, load_located, shown
from obs_tests.errors import ContractInvalid

__all__ = [
    "DEMO_SYSTEM",
    "EMBEDDED",
    "Contract",
    "DashboardSettings",
    "ExpectedEmpty",
    "FileSettings",
    "Job",
    "Metric",
    "NoMatchExpected",
    "StackSettings",
    "load_contract",
    "parse_duration",
    "with_topology",
]

EMBEDDED = "embedded"
#: the system an embedded stack starts when the contract names none: the project's demo
DEMO_SYSTEM = "obs_tests.demo.system"


@dataclass(frozen=True)
class StackSettings:
    """Where the servers are. ``"embedded"`` means obs-tests runs them as local processes."""

    prometheus: str = EMBEDDED
    alertmanager: str | None = EMBEDDED
    grafana: str | None = None
    scrape_interval: float = 1.0
    evaluation_interval: float = 1.0
    startup_timeout: float = 60.0
    node_exporter: bool = False
    time_scale: float = 1.0
    #: embedded stacks the chaos scenarios run on in parallel (each scenario on a stack of its own)
    scenario_stacks: int = 1
    #: the embedded stack's own monitoring: one Prometheus and one Alertmanager, or replicas and peers
    topology: Topology = field(default_factory=Topology)
    #: the system under test an embedded stack starts: a module with a ``SYSTEM`` (None: a stack obs-tests
    #: does not start has none; see :mod:`obs_tests.stack.system_under_test`)
    system: str | None = None

    @property
    def embedded(self) -> bool:
        """True when Prometheus is run by obs-tests."""
        return self.prometheus == EMBEDDED


@dataclass(frozen=True)
class FileSettings:
    """Config files the stack uses, resolved to absolute paths."""

    prometheus_config: Path
    rules: tuple[Path, ...]
    rule_tests: Path
    alertmanager_config: Path
    alertmanager_tests: Path
    dashboards: Path
    scenarios: Path

    def rule_files(self) -> list[Path]:
        """Every ``*.yml``/``*.yaml`` rule file under the configured rule paths, sorted."""
        found: list[Path] = []
        for entry in self.rules:
            if entry.is_dir():
                found.extend(sorted(p for p in entry.iterdir() if p.suffix in (".yml", ".yaml")))
            elif entry.exists():
                found.append(entry)
        return found


@dataclass(frozen=True)
class Job:
    """A scrape job and how many targets it must have."""

    name: str
    instances: int
    components: tuple[str, ...] = ()
    metrics_path: str = "/metrics"
    scrape_interval: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    lint_ignore: tuple[str, ...] = ()
    # The gauge whose change marks a restart of what the job's counters count: the process itself by
    # default; for an exporter, the server it exports (a counter may reset only when this changes).
    start_time_metric: str = "process_start_time_seconds"


@dataclass(frozen=True)
class Metric:
    """A metric the stack promises to export."""

    name: str
    type: str
    job: str | None = None
    help: str = ""
    labels: tuple[str, ...] = ()
    range_min: float | None = None
    range_max: float | None = None
    max_series: int | None = None

    def series_names(self) -> tuple[str, ...]:
        """The sample names this metric appears under in Prometheus."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_count", f"{self.name}_sum")
        if self.type == "summary":
            return (self.name, f"{self.name}_count", f"{self.name}_sum")
        return (self.name,)

    @property
    def query_name(self) -> str:
        """A sample name that always exists when the metric does (``_count`` for histograms)."""
        return f"{self.name}_count" if self.type in ("histogram", "summary") else self.name


@dataclass(frozen=True)
class ExpectedEmpty:
    """A dashboard panel (or one query of it) allowed to show no data, and why."""

    dashboard: str  # uid, title or file name
    panel: str  # title, or id as text
    reason: str
    query: str | None = None  # refId; None = every query of the panel

    def matches(self, dashboard_keys: tuple[str, ...], panel_title: str, panel_id: int | None, ref_id: str) -> bool:
        """True when this declaration covers that query."""
        if self.dashboard not in dashboard_keys:
            return False
        if self.panel not in (panel_title, str(panel_id)):
            return False
        return self.query is None or self.query == ref_id


@dataclass(frozen=True)
class DashboardSettings:
    """What the dashboard checks accept."""

    expected_empty: tuple[ExpectedEmpty, ...] = ()


@dataclass(frozen=True)
class NoMatchExpected:
    """A rule selector allowed to match no series on this stack (``rules.expected_no_match``), and why."""

    selector: str  # as the finding shows it, or a bare metric name (every selector of that metric)
    reason: str
    alert: str | None = None  # only in this rule

    def matches(self, rule: str, selector: str, metric: str | None) -> bool:
        """True when this declaration covers ``selector`` (of ``metric``) in rule ``rule``."""
        if self.alert is not None and self.alert != rule:
            return False
        return self.selector in (selector, metric)


@dataclass(frozen=True)
class Contract:
    """A parsed, validated contract."""

    source: Path
    stack: StackSettings
    files: FileSettings
    jobs: tuple[Job, ...]
    metrics: tuple[Metric, ...]
    dashboards: DashboardSettings = field(default_factory=DashboardSettings)
    policy: Policy = field(default_factory=Policy)
    expected_no_match: tuple[NoMatchExpected, ...] = ()

    @property
    def root(self) -> Path:
        """The directory relative paths in the contract are resolved from."""
        return self.source.parent

    def job(self, name: str) -> Job:
        """The job called ``name`` (KeyError if the contract has none)."""
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)

    def metric(self, name: str) -> Metric:
        """The metric called ``name`` (KeyError if the contract has none)."""
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(name)


def _duration(doc: LocatedDocument, path: tuple[str | int, ...], value: Any, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = parse_duration(str(value))
    except ValueError as exc:
        raise ContractInvalid(f"{doc.where(path)}: {format_path(path)}: {exc}") from None
    if seconds <= 0:
        raise ContractInvalid(f"{doc.where(path)}: {format_path(path)}: must be greater than 0")
    return seconds


def _stack(doc: LocatedDocument, raw: dict[str, Any]) -> StackSettings:
    base = ("stack",)
    prometheus = str(raw.get("prometheus", EMBEDDED)).rstrip("/")
    return StackSettings(
        prometheus=prometheus,
        alertmanager=(raw["alertmanager"].rstrip("/") if raw.get("alertmanager") else None)
        if "alertmanager" in raw
        else EMBEDDED,
        grafana=str(raw["grafana"]).rstrip("/") if raw.get("grafana") else None,
        scrape_interval=_duration(doc, (*base, "scrape_interval"), raw.get("scrape_interval"), 1.0),
        evaluation_interval=_duration(doc, (*base, "evaluation_interval"), raw.get("evaluation_interval"), 1.0),
        startup_timeout=_duration(doc, (*base, "startup_timeout"), raw.get("startup_timeout"), 60.0),
        node_exporter=bool(raw.get("node_exporter", False)),
        time_scale=float(raw.get("time_scale", 1.0)),
        scenario_stacks=int(raw.get("scenario_stacks", 1)),
        topology=_topology(doc, raw, embedded=prometheus == EMBEDDED),
        system=str(raw["system"]) if raw.get("system") else DEMO_SYSTEM if prometheus == EMBEDDED else None,
    )


def _topology(doc: LocatedDocument, raw: dict[str, Any], *, embedded: bool) -> Topology:
    """``stack.topology`` and its counts (the schema checked their types and ranges)."""
    shape = str(raw.get("topology", "single"))
    counts = {key: raw[key] for key in ("prometheus_replicas", "alertmanager_peers") if key in raw}
    if shape == "single":
        for key, value in counts.items():
            if value != 1:
                raise ContractInvalid(
                    f"{doc.where(('stack', key))}: stack.{key}: {value} needs `topology: ha` — add it, or remove {key}"
                )
        return Topology()
    if not embedded:
        raise ContractInvalid(
            f"{doc.where(('stack', 'topology'))}: stack.topology: ha is a shape of the embedded stack — for your "
            "own HA stack, give every replica and peer: obs-tests health --prometheus-url A --prometheus-url B "
            "--alertmanager-url X --alertmanager-url Y"
        )
    no_alertmanager = "alertmanager" in raw and raw["alertmanager"] is None
    if no_alertmanager and counts.get("alertmanager_peers", 1) > 1:
        raise ContractInvalid(
            f"{doc.where(('stack', 'alertmanager_peers'))}: stack.alertmanager_peers: {counts['alertmanager_peers']} "
            "with `alertmanager: null` — set alertmanager: embedded, or remove alertmanager_peers"
        )
    return Topology.shaped(
        "ha",
        prometheus_replicas=int(counts.get("prometheus_replicas", 2)),
        alertmanager_peers=int(counts.get("alertmanager_peers", 3)),
        alertmanager=not no_alertmanager,
        replica_label=str(raw.get("replica_label", "replica")),
    )


def _files(doc: LocatedDocument, root: Path, raw: dict[str, Any]) -> FileSettings:
    def path(key: str, default: str) -> Path:
        return (root / str(raw.get(key, default))).resolve()

    def must_exist(where: tuple[str | int, ...], given: str, resolved: Path, what: str) -> None:
        # A path the contract names explicitly must exist: a typo would otherwise check "0 files".
        if not resolved.exists():
            raise ContractInvalid(
                f"{doc.where(where)}: {format_path(where)}: {shown(given, 200)} does not exist (resolved to "
                f"{resolved}) — fix the path (relative to {root}), or leave the field out when you have no {what}"
            )

    rules = raw.get("rules", ["prometheus/alerts", "prometheus/rules"])
    if "rules" in raw:
        for index, entry in enumerate(rules):
            must_exist(("files", "rules", index), entry, (root / entry).resolve(), "rule files")
    if "dashboards" in raw:
        must_exist(("files", "dashboards"), raw["dashboards"], path("dashboards", ""), "dashboards")
    return FileSettings(
        prometheus_config=path("prometheus_config", "prometheus/prometheus.yml"),
        rules=tuple((root / r).resolve() for r in rules),
        rule_tests=path("rule_tests", "prometheus/tests"),
        alertmanager_config=path("alertmanager_config", "alertmanager/alertmanager.yml"),
        alertmanager_tests=path("alertmanager_tests", "alertmanager/tests"),
        dashboards=path("dashboards", "grafana_dashboards"),
        scenarios=path("scenarios", "scenarios"),
    )


def _jobs(doc: LocatedDocument, raw: list[dict[str, Any]]) -> tuple[Job, ...]:
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        name = item["name"]
        if name in seen:
            raise ContractInvalid(
                f"{doc.where(('jobs', index, 'name'))}: jobs[{index}].name: job '{name}' is already declared "
                f"at jobs[{seen[name]}] — job names must be unique"
            )
        seen[name] = index
        components = tuple(item.get("components", ()))
        if components and len(components) != item["instances"]:
            raise ContractInvalid(
                f"{doc.where(('jobs', index, 'instances'))}: jobs[{index}].instances: {item['instances']} "
                f"instances but {len(components)} components listed — make them agree"
            )
        interval = item.get("scrape_interval")
        for number, pattern in enumerate(item.get("lint_ignore", ())):
            try:
                re.compile(pattern)
            except re.error as exc:
                where = doc.where(("jobs", index, "lint_ignore", number))
                raise ContractInvalid(
                    f"{where}: jobs[{index}].lint_ignore[{number}]: not a valid regular expression: {exc}"
                ) from None
        jobs.append(
            Job(
                name=name,
                instances=item["instances"],
                components=components,
                metrics_path=item.get("metrics_path", "/metrics"),
                scrape_interval=_duration(doc, ("jobs", index, "scrape_interval"), interval, 0.0) if interval else None,
                labels=dict(item.get("labels", {})),
                lint_ignore=tuple(item.get("lint_ignore", ())),
                start_time_metric=item.get("start_time_metric", "process_start_time_seconds"),
            )
        )
    return tuple(jobs)


def _metrics(doc: LocatedDocument, raw: list[dict[str, Any]], jobs: tuple[Job, ...]) -> tuple[Metric, ...]:
    job_names = [j.name for j in jobs]
    metrics: list[Metric] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        name = item["name"]
        here = ("metrics", index)
        if name in seen:
            raise ContractInvalid(
                f"{doc.where((*here, 'name'))}: metrics[{index}].name: metric '{name}' is already declared "
                f"at metrics[{seen[name]}] — declare each metric once"
            )
        seen[name] = index
        job = item.get("job")
        if job is not None and job not in job_names:
            raise ContractInvalid(
                f"{doc.where((*here, 'job'))}: metrics[{index}].job: unknown job '{shown(job, 80, quote=False)}' — "
                f"declared jobs: {', '.join(job_names)}"
            )
        bounds = item.get("range", {})
        low, high = bounds.get("min"), bounds.get("max")
        if low is not None and high is not None and low > high:
            raise ContractInvalid(
                f"{doc.where((*here, 'range'))}: metrics[{index}].range: min {low} is greater than max {high}"
            )
        metrics.append(
            Metric(
                name=name,
                type=item["type"],
                job=job,
                help=item.get("help", ""),
                labels=tuple(item.get("labels", ())),
                range_min=float(low) if low is not None else None,
                range_max=float(high) if high is not None else None,
                max_series=item.get("max_series"),
            )
        )
    return tuple(metrics)


def _dashboards(raw: dict[str, Any]) -> DashboardSettings:
    return DashboardSettings(
        expected_empty=tuple(
            ExpectedEmpty(
                dashboard=str(item["dashboard"]),
                panel=str(item["panel"]),
                reason=str(item["reason"]),
                query=str(item["query"]) if item.get("query") is not None else None,
            )
            for item in raw.get("expected_empty", ())
        )
    )


def load_contract(path: Path) -> Contract:
    """Load and validate the contract at ``path``.

    Raises :class:`ContractInvalid` naming the file, the line, the field path and the fix.
    """
    doc = load_located(path, error=ContractInvalid)
    if doc.data is None:
        raise ContractInvalid(f"{path}: the file is empty — start from the bundled obs.yaml")
    validate_document(doc, "contract", ContractInvalid)
    data: dict[str, Any] = doc.data
    root = path.resolve().parent
    jobs = _jobs(doc, data["jobs"])
    return Contract(
        source=path.resolve(),
        stack=_stack(doc, data.get("stack", {})),
        files=_files(doc, root, data.get("files", {})),
        jobs=jobs,
        metrics=_metrics(doc, data.get("metrics", []), jobs),
        dashboards=_dashboards(data.get("dashboards", {})),
        policy=_policy(doc, data.get("policy")),
        expected_no_match=tuple(
            NoMatchExpected(str(item["selector"]), str(item["reason"]), item.get("alert"))
            for item in (data.get("rules") or {}).get("expected_no_match", ())
        ),
    )


def _policy(doc: LocatedDocument, raw: dict[str, Any] | None) -> Policy:
    levels = (raw or {}).get("levels") or {}
    unknown = unknown_levels(levels)
    if unknown:
        path = ("policy", "levels", unknown[0])
        raise ContractInvalid(
            f"{doc.where(path)}: {format_path(path)}: no finding has the rule id {shown(unknown[0])} — "
            "see docs/policy.md for the ids (globs such as coverage/* are allowed)"
        )
    return Policy.from_contract_data(raw)


def with_topology(contract: Contract, shape: str | None) -> Contract:
    """``contract`` with its embedded stack in topology ``shape`` (``single``, or ``ha``: 2 Prometheus
    replicas and 3 Alertmanager peers unless the contract says how many); None keeps the contract's."""
    if shape is None or shape == contract.stack.topology.name:
        return contract
    topology = Topology.shaped(
        shape,
        alertmanager=contract.stack.alertmanager is not None,
        replica_label=contract.stack.topology.replica_label,
    )
    return dataclasses.replace(contract, stack=dataclasses.replace(contract.stack, topology=topology))
