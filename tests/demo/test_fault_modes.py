from __future__ import annotations

import asyncio
import random
import statistics
from typing import Any

import orjson
import pytest

from obs_tests.demo.fault_modes import Faults, FaultState, Latency, parse_faults
from obs_tests.errors import FaultsInvalid


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        pytest.param([], "JSON object", id="not-object"),
        pytest.param({"error_rate": 2}, "error_rate", id="rate-above-1"),
        pytest.param({"error_rate": -0.1}, "error_rate", id="rate-negative"),
        pytest.param({"error_rate": "0.5"}, "error_rate", id="rate-string"),
        pytest.param({"eror_rate": 0.5}, "eror_rate", id="unknown-field"),
        pytest.param({"hang": "yes"}, "hang", id="hang-not-bool"),
        pytest.param({"latency": {"distribution": "fixed"}}, "value_ms", id="fixed-without-value"),
        pytest.param({"latency": {"distribution": "gamma", "value_ms": 1}}, "latency", id="unknown-distribution"),
        pytest.param({"latency": {"distribution": "fixed", "value_ms": -1}}, "latency", id="negative-ms"),
        pytest.param({"latency": {"distribution": "fixed", "value_ms": 1, "x": 1}}, "latency", id="latency-extra"),
        pytest.param({"latency": {"distribution": "uniform", "min_ms": 5}}, "max_ms", id="uniform-missing-max"),
        pytest.param(
            {"latency": {"distribution": "uniform", "min_ms": 5, "max_ms": 1}}, "min_ms", id="uniform-inverted"
        ),
        pytest.param({"latency": {"distribution": "normal", "mean_ms": 5}}, "stddev_ms", id="normal-missing-sd"),
        pytest.param({"latency": {"distribution": "exponential"}}, "mean_ms", id="exp-missing-mean"),
        pytest.param({"latency": 200}, "latency", id="latency-number"),
        pytest.param({"metrics_delay_ms": 1.5}, "metrics_delay_ms", id="delay-float"),
        pytest.param({"seed": "x"}, "seed", id="seed-string"),
        pytest.param({"drop_publishes": 1.01}, "drop_publishes", id="drop-above-1"),
    ],
)
def test_faults_bad_documents_rejected_naming_the_field(doc: Any, fragment: str) -> None:
    with pytest.raises(FaultsInvalid) as info:
        parse_faults(doc)
    assert fragment in str(info.value)


def test_faults_full_document_round_trips() -> None:
    doc = {
        "error_rate": 0.5,
        "latency": {"distribution": "uniform", "min_ms": 1, "max_ms": 2},
        "hang": True,
        "publish_failure_rate": 0.1,
        "drop_publishes": 0.2,
        "corrupt_payloads": 0.3,
        "metrics_delay_ms": 100,
        "seed": 0,
    }
    faults = parse_faults(doc)
    assert faults.to_json() == {**doc, "latency": {"distribution": "uniform", "min_ms": 1.0, "max_ms": 2.0}}
    assert faults.active
    assert not Faults().active
    assert not parse_faults({"seed": 3}).active


def test_faults_state_put_patch_delete() -> None:
    state = FaultState(seed=1)
    assert state.to_json() == {}
    state.replace({"error_rate": 1, "hang": True})
    assert state.hung
    state.merge({"hang": None, "metrics_delay_ms": 5})
    assert state.to_json() == {"error_rate": 1, "metrics_delay_ms": 5}
    assert not state.hung
    state.replace({"drop_publishes": 1})
    assert state.to_json() == {"drop_publishes": 1}
    state.clear()
    assert state.to_json() == {}
    with pytest.raises(FaultsInvalid):
        state.merge({"error_rate": 3})
    with pytest.raises(FaultsInvalid):
        state.merge(["x"])
    assert state.to_json() == {}, "a rejected document changes nothing"


def test_faults_no_fault_costs_nothing_and_never_triggers() -> None:
    state = FaultState()
    assert not any(state.should_fail() for _ in range(1000))
    assert not state.should_fail_publish()
    assert not state.should_drop_publish()
    assert state.maybe_corrupt(b"{}") == b"{}"
    assert state.latency_seconds() == 0.0
    assert state.metrics_delay_seconds == 0.0


def test_faults_rates_are_respected_and_reproducible_by_seed() -> None:
    state = FaultState()
    state.replace({"error_rate": 0.3, "seed": 42})
    first = [state.should_fail() for _ in range(2000)]
    state.replace({"error_rate": 0.3, "seed": 42})
    assert [state.should_fail() for _ in range(2000)] == first
    assert 0.25 < sum(first) / len(first) < 0.35
    state.replace({"publish_failure_rate": 1})
    assert all(state.should_fail_publish() for _ in range(100))
    state.replace({"drop_publishes": 1})
    assert all(state.should_drop_publish() for _ in range(100))


def test_faults_patch_without_seed_keeps_rng_sequence() -> None:
    state = FaultState()
    state.replace({"error_rate": 0.5, "seed": 7})
    a = [state.should_fail() for _ in range(10)]
    state.merge({"metrics_delay_ms": 1})
    b = [state.should_fail() for _ in range(10)]
    reference = FaultState()
    reference.replace({"error_rate": 0.5, "seed": 7})
    assert [reference.should_fail() for _ in range(20)] == a + b


def test_faults_corrupted_payload_is_not_json() -> None:
    state = FaultState()
    state.replace({"corrupt_payloads": 1})
    garbled = state.maybe_corrupt(b'{"a": 1}')
    assert garbled != b'{"a": 1}'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(garbled)


@pytest.mark.parametrize(
    ("latency", "mean", "low", "high"),
    [
        pytest.param(Latency("fixed", value_ms=200), 0.2, 0.2, 0.2, id="fixed"),
        pytest.param(Latency("uniform", min_ms=100, max_ms=300), 0.2, 0.1, 0.3, id="uniform"),
        pytest.param(Latency("normal", mean_ms=200, stddev_ms=20), 0.2, 0.0, 1.0, id="normal"),
        pytest.param(Latency("exponential", mean_ms=200), 0.2, 0.0, 10.0, id="exponential"),
    ],
)
def test_faults_latency_distributions(latency: Latency, mean: float, low: float, high: float) -> None:
    rng = random.Random(3)
    samples = [latency.sample(rng) for _ in range(4000)]
    assert min(samples) >= low
    assert max(samples) <= high
    assert statistics.fmean(samples) == pytest.approx(mean, rel=0.08)


def test_faults_normal_latency_is_clamped_at_zero() -> None:
    rng = random.Random(1)
    samples = [Latency("normal", mean_ms=0, stddev_ms=100).sample(rng) for _ in range(500)]
    assert min(samples) == 0.0
    assert Latency("exponential", mean_ms=0).sample(rng) == 0.0


def test_faults_hang_blocks_until_cleared_and_release_unblocks_forever() -> None:
    async def scenario() -> None:
        state = FaultState()
        state.replace({"hang": True})
        waiter = asyncio.ensure_future(state.hold())
        await asyncio.sleep(0.02)
        assert not waiter.done()
        state.clear()
        await asyncio.wait_for(waiter, 1)
        state.replace({"hang": True})
        state.release()
        await asyncio.wait_for(state.wait_unhung(), 1)
        state.replace({"hang": True})
        assert not state.hung, "after release (shutdown) nothing hangs again"

    asyncio.run(scenario())


def test_faults_delay_sleeps_the_fixed_latency() -> None:
    async def scenario() -> float:
        state = FaultState()
        state.replace({"latency": {"distribution": "fixed", "value_ms": 30}})
        loop = asyncio.get_running_loop()
        start = loop.time()
        await state.hold()
        return loop.time() - start

    assert asyncio.run(scenario()) >= 0.03
