"""A monitoring stack obs-tests did not design, for the "your own stack" tests.

Real processes on loopback, started the way a team runs them — not through obs-tests' embedded stack:
prometheus-node-exporter, redis-server with prometheus-redis-exporter, and a Prometheus scraping the three
(and itself) with its own prometheus.yml, loading the rule files it is given, with no Alertmanager. A
PrometheusRule manifest is loaded the way the Prometheus Operator does it: its ``spec.groups`` written to a
plain rule file of its own.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.stack.ports import allocate_ports
from obs_tests.stack.process import ManagedProcess, Spawner

__all__ = ["ForeignStack"]

LOOPBACK = "127.0.0.1"


def _operator_files(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(file name, rule file)`` for each PrometheusRule of ``path``; a plain rule file as itself."""
    documents = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    rules = [d for d in documents if d.get("kind") == "PrometheusRule"]
    if not rules:
        return [(path.name, documents[0])]
    return [
        (f"{d['metadata'].get('namespace', 'default')}-{d['metadata']['name']}.yaml", {"groups": d["spec"]["groups"]})
        for d in rules
    ]


class ForeignStack:
    """The stack; a context manager that stops every process it started, on every exit path."""

    def __init__(self, workdir: Path, *, scrape_interval: str = "5s") -> None:
        self.workdir = workdir
        self.scrape_interval = scrape_interval
        self.rules_dir = workdir / "prometheus-rules"
        prom, node, redis, exporter = allocate_ports(4)
        self.ports = {"prometheus": prom, "node": node, "redis": redis, "redis-exporter": exporter}
        self.processes: dict[str, ManagedProcess] = {}
        self._spawner = Spawner()

    @property
    def prometheus_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['prometheus']}"

    @property
    def node_target(self) -> str:
        return f"{LOOPBACK}:{self.ports['node']}"

    def __enter__(self) -> ForeignStack:
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, name: str, argv: list[str]) -> None:
        process = ManagedProcess(name, argv, spawner=self._spawner, log_path=self.workdir / f"{name}.log")
        self.processes[name] = process
        process.start()

    def _start(self) -> None:
        p = self.ports
        self._spawn("node", ["prometheus-node-exporter", f"--web.listen-address={LOOPBACK}:{p['node']}"])
        self._spawn(
            "redis",
            ["redis-server", "--port", str(p["redis"]), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
        )  # fmt: skip
        self._spawn(
            "redis-exporter",
            ["prometheus-redis-exporter", f"--redis.addr=redis://{LOOPBACK}:{p['redis']}",
             f"--web.listen-address={LOOPBACK}:{p['redis-exporter']}"],
        )  # fmt: skip
        config = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "rule_files": [str(self.rules_dir / "*.y*ml")],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [f"{LOOPBACK}:{p[port]}"]}]}
                for job, port in (("prometheus", "prometheus"), ("node", "node"), ("redis", "redis-exporter"))
            ],
        }
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        self._spawn(
            "prometheus",
            ["prometheus", f"--config.file={self.workdir / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.workdir / 'tsdb'}", f"--web.listen-address={LOOPBACK}:{p['prometheus']}",
             "--web.enable-lifecycle"],
        )  # fmt: skip
        self.wait_scraped()

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.prometheus_url + path, timeout=5) as response:
            return json.load(response)

    def wait_scraped(self, timeout: float = 90) -> None:
        """Every target up and scraped twice (a rate() has two samples), every rule group evaluated."""

        def probe() -> Poll[str]:
            targets = self._get("/api/v1/targets")["data"]["activeTargets"]
            up = sum(t["health"] == "up" for t in targets)
            samples = self._get("/api/v1/query?query=min(count_over_time(up[1h]))")["data"]["result"]
            scrapes = int(float(samples[0]["value"][1])) if samples else 0
            groups = self._get("/api/v1/rules")["data"]["groups"]
            fresh = all(g["lastEvaluation"] > "0001-01-01T00:00:00Z" for g in groups)
            seen = f"{up}/{len(targets)} targets up, {scrapes} scrapes, every group evaluated: {fresh}"
            return Poll(len(targets) == 3 and up == 3 and scrapes >= 2 and fresh, seen, seen)

        wait_for(
            probe, timeout=timeout, interval=0.2, expected="3/3 targets up, 2 scrapes each, every group evaluated",
            bound=f"2 scrape intervals ({self.scrape_interval})", transient=(OSError, KeyError, ValueError),
        )  # fmt: skip

    def load_rules(self, paths: Iterable[Path]) -> None:
        """Load these rule files (manifests as the operator does) in place of the previous ones; reload."""
        for old in self.rules_dir.iterdir():
            old.unlink()
        for path in paths:
            for name, content in _operator_files(path):
                (self.rules_dir / name).write_text(yaml.safe_dump(content, sort_keys=False))
        request = urllib.request.Request(self.prometheus_url + "/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass
        self.wait_scraped()

    def stop(self, name: str) -> None:
        """Stop one process (a real outage of it)."""
        self.processes[name].stop()

    def close(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.stop()
            process.close_log()
        self._spawner.close()
