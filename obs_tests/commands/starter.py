"""A starter contract for a stack obs-tests has never seen (``obs-tests init``).

What it reads: the rule files and dashboards given (the metrics they read), and — when a Prometheus URL
is given — the live stack: its jobs with their current target counts and scrape intervals, the global
scrape and evaluation intervals, and for every metric the rules and dashboards read that the stack
exports now, its type and help (``/api/v1/metadata``), its job and its labels (``/api/v1/series``).
Offline (files alone) a metric's type is guessed from its name. What it writes: a commented,
schema-valid ``obs.yaml`` with a day-one policy (see :data:`DAY_ONE_LEVELS`) that a reviewer can read
line by line.

Example::

    starter = discover(StarterInputs(rules=(Path("rules"),), dashboards=Path("dashboards")), prom)
    Path("obs.yaml").write_text(render(starter, Path("obs.yaml")))
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from obs_tests.checks.coverage import SYNTHETIC, dashboard_references, rule_references
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.policy import Accepted
from obs_tests.core.durations import format_duration, parse_duration
from obs_tests.core.yamlfile import load_yaml
from obs_tests.errors import ConfigInvalid, ObsTestsError, UsageError
from obs_tests.rules.rulefiles import load_rule_files

__all__ = [
    "DAY_ONE_ALERTS",
    "DAY_ONE_LEVELS",
    "Starter",
    "StarterInputs",
    "StarterJob",
    "StarterMetric",
    "discover",
    "load_yaml_text",
    "render",
]

#: what a typical team's alerts carry on day one (community packs: a severity and a summary)
DAY_ONE_ALERTS: dict[str, tuple[str, ...]] = {"required_labels": ("severity",), "required_annotations": ("summary",)}

#: the levels ``init`` writes, each with why (a typical team on its first run)
DAY_ONE_LEVELS: dict[str, tuple[str, str]] = {
    "coverage/rule-tests": ("warning", "no promtool unit tests yet: write them, then make this an error"),
    "coverage/routing-tests": ("warning", "no routing tests yet (alertmanager_tests)"),
    "coverage/scenarios": ("warning", "chaos scenarios run on the embedded demo stack, rarely on yours"),
    "exposition/promtool": ("warning", "third-party exporters chose their metric names; you cannot change them"),
    "rule/for": ("warning", "community packs often fire on one evaluation (for: 0m) on purpose"),
    "dashboard/query-empty": ("warning", "Grafana still draws the panel's other queries"),
    "dashboard/constant-zero": ("warning", "often right: nothing failing reads as zero"),
}

_SUFFIXES = ("_bucket", "_count", "_sum")


@dataclass(frozen=True)
class StarterInputs:
    """What ``init`` was given."""

    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    grafana_url: str | None = None
    rules: tuple[Path, ...] = ()
    dashboards: Path | None = None
    prometheus_config: Path | None = None
    alertmanager_config: Path | None = None
    rule_tests: Path | None = None
    alertmanager_tests: Path | None = None


@dataclass(frozen=True)
class StarterJob:
    """A scrape job as the stack shows it now."""

    name: str
    instances: int
    up: int
    scrape_interval: float | None = None


@dataclass(frozen=True)
class StarterMetric:
    """A metric the rules or dashboards read and the stack exports."""

    name: str
    type: str
    job: str | None = None
    help: str = ""
    labels: tuple[str, ...] = ()
    read_by: int = 0
    guessed: bool = False  # type from the name, not from the stack


@dataclass
class Starter:
    """Everything the starter contract says, with where it came from."""

    inputs: StarterInputs
    jobs: list[StarterJob] = field(default_factory=list)
    metrics: list[StarterMetric] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # read by rules/dashboards, not exported now
    scrape_interval: float | None = None
    evaluation_interval: float | None = None
    alerts: int = 0
    rule_files: int = 0
    dashboards: int = 0
    notes: list[str] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)  # --baseline

    @property
    def live(self) -> bool:
        """Whether a Prometheus was read."""
        return self.inputs.prometheus_url is not None


def _expand(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in (".yml", ".yaml"))
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"--rules {path}: no such file or directory")
    return found


def _guess(name: str) -> str:
    if name.endswith("_total"):
        return "counter"
    if name.endswith("_bucket"):
        return "histogram"
    return "untyped"


def _offline_family(name: str, read: Mapping[str, int]) -> str:
    """Offline: ``x_bucket`` (and its ``x_count``/``x_sum``) are the histogram ``x``."""
    for suffix in _SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and base + "_bucket" in read:
            return base
    return name


def _family(name: str, metadata: Mapping[str, Any]) -> str:
    """The metric family a sample name belongs to (``x_bucket`` → ``x`` when ``x`` is a histogram)."""
    if name in metadata:
        return name
    for suffix in _SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and base in metadata:
            return base
    return name


def _jobs(prom: PrometheusClient) -> tuple[list[StarterJob], dict[str, set[str]]]:
    counts: dict[str, list[bool]] = {}
    intervals: dict[str, float | None] = {}
    target_labels: dict[str, set[str]] = {}
    for target in prom.targets():
        counts.setdefault(target.job, []).append(target.up)
        intervals.setdefault(target.job, target.scrape_interval)
        target_labels.setdefault(target.job, set()).update(target.labels)
    jobs = [StarterJob(name, len(ups), sum(ups), intervals.get(name)) for name, ups in sorted(counts.items())]
    return jobs, target_labels


def _metric(
    prom: PrometheusClient, family: str, kind: str, help_text: str, target_labels: Mapping[str, set[str]], read_by: int
) -> StarterMetric | None:
    sample = f"{family}_count" if kind in ("histogram", "summary") else family
    series = prom.series([f"{{__name__=~{_quote(family + '|' + sample + '|' + family + '_bucket')}}}"])
    if not series:
        return None
    jobs = sorted({s.get("job", "") for s in series} - {""})
    labels: set[str] = set()
    for item in series:
        own = target_labels.get(item.get("job", ""), set())
        labels |= set(item) - {"__name__", "job", "instance", "le", "quantile"} - own
    return StarterMetric(
        family,
        kind,
        jobs[0] if len(jobs) == 1 else None,
        help_text,
        tuple(sorted(labels)),
        read_by,
    )


def _quote(regex: str) -> str:
    return '"' + regex.replace("\\", "\\\\").replace('"', '\\"') + '"'


def discover(inputs: StarterInputs, prom: PrometheusClient | None) -> Starter:
    """Read the files and (with ``prom``) the live stack."""
    starter = Starter(inputs)
    rule_paths = _expand(inputs.rules)
    starter.rule_files = len(rule_paths)
    parsed = load_rule_files(rule_paths)
    starter.alerts = sum(len(rf.alerts) for rf in parsed)
    refs, recorded, problems = rule_references(rule_paths)
    starter.notes += problems
    if inputs.dashboards is not None:
        if not inputs.dashboards.is_dir():
            raise UsageError(f"--dashboards {inputs.dashboards}: not a directory of dashboard JSON files")
        dash_refs, dash_problems = dashboard_references(inputs.dashboards)
        starter.dashboards = len(list(inputs.dashboards.glob("*.json")))
        starter.notes += dash_problems
        for name, where in dash_refs.items():
            refs.setdefault(name, []).extend(where)
    # Recording rules' outputs (by convention level:metric:operations) are Prometheus' own series.
    read = {n: len(w) for n, w in refs.items() if n not in SYNTHETIC and n not in recorded and ":" not in n}
    if prom is None:
        offline: dict[str, int] = {}
        for name, count in read.items():
            family = _offline_family(name, read)
            offline[family] = offline.get(family, 0) + count
        starter.metrics = [
            StarterMetric(n, "histogram" if n + "_bucket" in read else _guess(n), read_by=c, guessed=True)
            for n, c in sorted(offline.items())
        ]
        if inputs.prometheus_config is not None:
            starter.jobs = _config_jobs(inputs.prometheus_config)
        return starter
    config = load_yaml_text(prom.config())
    glob = (config or {}).get("global") or {}
    starter.scrape_interval = parse_duration(str(glob.get("scrape_interval", "1m")))
    starter.evaluation_interval = parse_duration(str(glob.get("evaluation_interval", "1m")))
    starter.jobs, target_labels = _jobs(prom)
    metadata = prom.metadata()
    families: dict[str, int] = {}
    for name, count in read.items():
        family = _family(name, metadata)
        families[family] = families.get(family, 0) + count
    for family, count in sorted(families.items()):
        meta = (metadata.get(family) or [{}])[0]
        kind = str(meta.get("type") or "")
        if kind not in ("counter", "gauge", "histogram", "summary", "info", "stateset"):
            kind = "untyped" if kind else _guess(family)
        found = _metric(prom, family, kind, str(meta.get("help") or ""), target_labels, count)
        if found is None:
            starter.missing.append(family)
        else:
            starter.metrics.append(found)
    return starter


def load_yaml_text(text: str) -> Any:
    """Prometheus' loaded config (YAML text from its API: a server's answer, not a user's file)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ObsTestsError(f"Prometheus answered /api/v1/status/config with YAML it cannot parse: {exc}") from None


def _config_jobs(path: Path) -> list[StarterJob]:
    """Offline: the jobs of a prometheus.yml and their static targets."""
    data = load_yaml(path, error=ConfigInvalid) or {}
    glob = data.get("global") or {}
    default = parse_duration(str(glob.get("scrape_interval", "1m")))
    jobs = []
    for job in data.get("scrape_configs") or []:
        targets = [t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
        interval = parse_duration(str(job["scrape_interval"])) if "scrape_interval" in job else default
        jobs.append(StarterJob(str(job.get("job_name")), max(len(targets), 1), 0, interval))
    return jobs


def _relative(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    return os.path.relpath(path.resolve(), base.resolve())


def render(starter: Starter, output: Path) -> str:
    """The contract text (paths relative to ``output``'s directory)."""
    base = output.parent
    inputs = starter.inputs
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("obs_tests", "templates"),
        autoescape=False,  # noqa: S701 - YAML, every value goes through the yaml filter
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["yaml"] = _yaml_scalar
    env.filters["duration"] = lambda s: format_duration(float(s))
    template = env.get_template("contract.yaml.j2")
    return template.render(
        s=starter,
        inputs=inputs,
        when=time.strftime("%Y-%m-%d"),
        rules=[_relative(p, base) for p in inputs.rules],
        dashboards=_relative(inputs.dashboards, base),
        prometheus_config=_relative(inputs.prometheus_config, base),
        alertmanager_config=_relative(inputs.alertmanager_config, base),
        rule_tests=_relative(inputs.rule_tests, base),
        alertmanager_tests=_relative(inputs.alertmanager_tests, base),
        alerts=DAY_ONE_ALERTS,
        levels=DAY_ONE_LEVELS,
        schema=_relative(Path(__file__).parents[1] / "schemas" / "contract.schema.json", base),
    )


def _yaml_scalar(value: Any) -> str:
    """One YAML flow scalar (strings always quoted, so nothing is read as a bool or a number)."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
