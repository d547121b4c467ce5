from __future__ import annotations

import subprocess

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from obs_tests.demo.corruptions import CORRUPTIONS, EXPLOSION, apply


def _exposition() -> bytes:
    registry = CollectorRegistry()
    webhooks = Counter("gateway_webhooks_total", "doc", ["source", "status"], registry=registry)
    webhooks.labels(source="tv", status="accepted").inc(10)
    webhooks.labels(source="tv", status="invalid").inc(4)
    hist = Histogram("gateway_processing_duration_seconds", "doc", buckets=(0.1, 1.0), registry=registry)
    for value in (0.05, 0.5, 2.0):
        hist.observe(value)
    Gauge("agent_confidence_score", "doc", ["agent_type"], registry=registry).labels(agent_type="risk").set(0.5)
    return generate_latest(registry)


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            if not s.name.endswith("_created"):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _types(text: bytes) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(text.decode())}


def test_no_corruption_is_identity() -> None:
    text = _exposition()
    assert _samples(apply(text, [])) == _samples(text)


def test_counter_decrease_halves_counters_only() -> None:
    before, after = _samples(_exposition()), _samples(apply(_exposition(), ["counter_decrease"]))
    key = ("gateway_webhooks_total", (("source", "tv"), ("status", "accepted")))
    assert (before[key], after[key]) == (10.0, 5.0)
    count = ("gateway_processing_duration_seconds_count", ())
    assert after[count] == before[count] == 3.0


def _buckets(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> list[float]:
    return [v for (name, _), v in samples.items() if name.endswith("_bucket")]


def test_histogram_nonmonotonic() -> None:
    after = _samples(apply(_exposition(), ["histogram_nonmonotonic"]))
    assert _buckets(after) == [4.0, 2.0, 3.0]
    assert after[("gateway_processing_duration_seconds_count", ())] == 3.0


def test_histogram_inf_mismatch() -> None:
    after = _samples(apply(_exposition(), ["histogram_inf_mismatch"]))
    assert _buckets(after) == [1.0, 2.0, 4.0]
    assert after[("gateway_processing_duration_seconds_count", ())] == 3.0


def test_histogram_unit_ms() -> None:
    after = _samples(apply(_exposition(), ["histogram_unit_ms"]))
    assert _buckets(after) == [0.0, 0.0, 3.0]
    assert after[("gateway_processing_duration_seconds_sum", ())] == pytest.approx(2550.0)


@pytest.mark.parametrize(("name", "value"), [("gauge_out_of_range", 1.5), ("gauge_nan", None)])
def test_gauges(name: str, value: float | None) -> None:
    after = _samples(apply(_exposition(), [name]))
    got = after[("agent_confidence_score", (("agent_type", "risk"),))]
    assert got == value if value is not None else got != got


def test_label_explosion_adds_series_to_the_first_labelled_counter() -> None:
    after = _samples(apply(_exposition(), ["label_explosion"]))
    statuses = {dict(labels)["status"] for name, labels in after if name == "gateway_webhooks_total"}
    assert len(statuses) == 2 + EXPLOSION
    assert "exploded_0" in statuses


def test_unexpected_label() -> None:
    after = _samples(apply(_exposition(), ["unexpected_label"]))
    labels = [dict(items) for name, items in after if name == "gateway_webhooks_total"]
    assert labels and all(lbl.get("pod") == "mock-0" for lbl in labels)


def test_type_mismatch() -> None:
    assert _types(_exposition())["agent_confidence_score"] == "gauge"
    assert _types(apply(_exposition(), ["type_mismatch"]))["agent_confidence_score"] == "unknown"


def test_bad_metric_name_is_flagged_by_promtool() -> None:
    clean = subprocess.run(["promtool", "check", "metrics"], input=_exposition(), capture_output=True)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    bad = subprocess.run(
        ["promtool", "check", "metrics"], input=apply(_exposition(), ["bad_metric_name"]), capture_output=True
    )
    assert bad.returncode != 0
    assert b"mockLatencyMilliseconds" in bad.stdout + bad.stderr


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_every_corruption_stays_parseable(name: str) -> None:
    assert _samples(apply(_exposition(), [name]))
