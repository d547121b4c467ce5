"""ChaosController and the compose backend over recording fakes (pure logic: order, idempotence, errors).
The faults themselves are exercised on real stacks in tests/integration/test_chaos.py."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import obs_tests
from obs_tests.chaos.controller import ChaosController
from obs_tests.chaos.faults import (
    FAULT_KINDS,
    CandleFault,
    FaultSpec,
    MarketFault,
    ProcessFault,
    ServiceFault,
    build_fault,
)
from obs_tests.config.contract import load_contract
from obs_tests.core.interrupts import forget_signals, signal_received
from obs_tests.errors import StackError, UnknownComponent, UsageError
from obs_tests.stack.compose_stack import ComposeStack
from obs_tests.stack.containers import ComposeBackend

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def noted() -> Iterator[None]:
    """A test that signals this process: the signal it notes is this test's (and forgotten after it, or a
    later test would find it noted — tests/stack/test_signal_guard.py did, run after this module)."""
    forget_signals()
    yield
    forget_signals()


class RecordingBackend:
    """A stack (obs_tests.stack.protocol.Stack) that records the process faults asked of it."""

    contract = None
    prometheus_url = "http://127.0.0.1:1"
    alertmanager_url = None
    components = ("gateway", "nats", "exchange")
    controllable = True
    time_scale = 1.0
    load_targets = None

    def __init__(self, fail_start: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_start = fail_start

    def prometheus(self) -> Any:
        raise AssertionError("faults do not query Prometheus")

    def heal(self, timeout: float = 30.0) -> list[str]:
        return []

    def close(self) -> None:
        pass

    def kill(self, name: str) -> None:
        self.calls.append(("kill", name))

    def stop(self, name: str) -> None:
        self.calls.append(("stop", name))

    def pause(self, name: str) -> None:
        self.calls.append(("pause", name))

    def resume(self, name: str) -> None:
        self.calls.append(("resume", name))

    def start(self, name: str | None = None, *, wait: bool = True) -> None:
        if self.fail_start:
            raise StackError(f"{name} did not come back")
        self.calls.append(("start", name or ""))

    def restart(self, name: str, *, wait: bool = True) -> None:
        self.calls.append(("restart", name))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:1/{name}"


def test_faults_are_reverted_newest_first_on_exit() -> None:
    backend = RecordingBackend()
    with ChaosController(backend) as chaos:
        chaos.apply(FaultSpec("a", "kill", "gateway"))
        chaos.apply(FaultSpec("b", "pause", "nats"))
        chaos.apply(FaultSpec("c", "nats_down"))  # fixed target
    assert backend.calls == [
        ("kill", "gateway"),
        ("pause", "nats"),
        ("kill", "nats"),
        ("start", "nats"),
        ("resume", "nats"),
        ("start", "gateway"),
    ]
    assert chaos.stats() == {"applied": 3, "reverted": 3, "revert_failed": 0, "active": 0}


def test_revert_is_idempotent_and_reverted_faults_are_not_reverted_again() -> None:
    backend = RecordingBackend()
    with ChaosController(backend) as chaos:
        chaos.apply(FaultSpec("a", "stop", "orchestrator"))
        assert chaos.revert("a") is True
        assert chaos.revert("a") is False
    assert backend.calls == [("stop", "orchestrator"), ("start", "orchestrator")]


def test_reverts_run_when_the_block_raises() -> None:
    backend = RecordingBackend()

    def crash() -> None:
        with ChaosController(backend) as chaos:
            chaos.apply(FaultSpec("a", "pause", "gateway"))
            raise RuntimeError("the scenario crashed")

    with pytest.raises(RuntimeError):
        crash()
    assert backend.calls[-1] == ("resume", "gateway")


def test_a_failing_revert_is_recorded_and_the_others_still_run() -> None:
    backend = RecordingBackend(fail_start=True)
    logged: list[tuple[str, str]] = []
    with ChaosController(backend, log=lambda level, msg: logged.append((level, msg))) as chaos:
        chaos.apply(FaultSpec("a", "pause", "gateway"))
        chaos.apply(FaultSpec("b", "kill", "redis"))
    assert ("resume", "gateway") in backend.calls
    assert chaos.errors and "revert of b (kill redis) failed: redis did not come back" in chaos.errors[0]
    assert ("ERROR", chaos.errors[0]) in logged
    assert chaos.stats()["revert_failed"] == 1


@pytest.mark.usefixtures("noted")
def test_sigterm_inside_the_block_reverts_then_interrupts() -> None:
    backend = RecordingBackend()

    def terminated() -> None:
        with ChaosController(backend) as chaos:
            chaos.apply(FaultSpec("a", "kill", "gateway"))
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        terminated()
    assert backend.calls == [("kill", "gateway"), ("start", "gateway")]
    assert signal.getsignal(signal.SIGTERM) is not None
    assert signal_received() == signal.SIGTERM


@pytest.mark.usefixtures("noted")
def test_signal_during_revert_is_held_until_every_revert_ran() -> None:
    class SignallingBackend(RecordingBackend):
        def start(self, name: str | None = None, *, wait: bool = True) -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives in the middle of the reverts
            super().start(name, wait=wait)

    backend = SignallingBackend()

    def two_faults() -> None:
        with ChaosController(backend) as chaos:
            chaos.apply(FaultSpec("a", "kill", "gateway"))
            chaos.apply(FaultSpec("b", "kill", "agent-risk"))

    with pytest.raises(KeyboardInterrupt, match="faults reverted"):
        two_faults()
    assert backend.calls[-2:] == [("start", "agent-risk"), ("start", "gateway")]
    assert signal_received() == signal.SIGTERM


def test_unknown_kind_and_missing_target_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown kind 'explode'"):
        build_fault(FaultSpec("x", "explode", "gateway"), RecordingBackend())
    with pytest.raises(UsageError, match="needs a target"):
        build_fault(FaultSpec("x", "kill"), RecordingBackend())
    assert {"kill", "stop", "pause", "restart", "service", "slow_metrics", "market", "load"} <= set(FAULT_KINDS)


@pytest.mark.parametrize(
    ("kind", "target", "built", "described"),
    [
        pytest.param("kill", "gateway", ProcessFault, "kill gateway", id="kill"),
        pytest.param("restart", "exchange", ProcessFault, "restart exchange", id="restart"),
        pytest.param("nats_down", None, ProcessFault, "kill nats", id="nats_down-fixed-target"),
        pytest.param("nats_pause", None, ProcessFault, "pause nats", id="nats_pause-fixed-target"),
        pytest.param("redis_down", None, ProcessFault, "kill redis", id="redis_down-fixed-target"),
        pytest.param(
            "slow_metrics", "gateway", ServiceFault, "slow_metrics gateway (metrics_delay_ms=3000)", id="slow"
        ),
        pytest.param("market", None, MarketFault, "market flash_crash", id="market-default"),
        pytest.param("candles", None, CandleFault, "candles flash_crash", id="candles-default"),
    ],
)
def test_each_kind_is_built_by_its_registry_entry(kind: str, target: str | None, built: type, described: str) -> None:
    fault = build_fault(FaultSpec("f", kind, target), RecordingBackend())
    assert type(fault) is built
    assert fault.describe() == described
    assert FAULT_KINDS[kind].description


class CandleFeedFake:
    """The exchange's candle-feed admin API as a CandleFault calls it."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.puts: list[dict[str, Any] | None] = []

    def candles(self) -> dict[str, Any]:
        return self.state

    def set_candles(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        self.puts.append(config)
        return {}


FEED_STATE = {
    "scenario": "sideways",
    "seed": 42,
    "initial_price": 50000.0,
    "pair": "BTC/USDT",
    "volatility_multiplier": 1.0,
    "spread_bps": 20.0,
    "warmup_candles": 20,
    "candle": 12,
    "first_price": 49990.0,
    "last_price": 50170.5,
    "min_price": 49800.0,
    "max_price": 50200.0,
    "known": ["sideways", "flash_crash"],
}


def test_a_candle_fault_plays_its_scenario_from_the_last_price_and_reverts_to_the_feed_at_that_price() -> None:
    fault = build_fault(FaultSpec("crash", "candles", None, {"seed": 7}), RecordingBackend())
    assert isinstance(fault, CandleFault)
    feed = fault.client = CandleFeedFake(FEED_STATE)  # type: ignore[assignment]
    fault.apply()
    fault.revert()
    config = {"pair": "BTC/USDT", "volatility_multiplier": 1.0, "spread_bps": 20.0}
    assert feed.puts == [
        {**config, "scenario": "flash_crash", "seed": 7, "initial_price": 50170.5, "warmup_candles": 0},
        {**config, "scenario": "sideways", "seed": 42, "initial_price": 50170.5, "warmup_candles": 20},
    ]


def test_a_candle_fault_on_a_feed_that_served_nothing_starts_at_its_initial_price() -> None:
    fault = build_fault(
        FaultSpec("crash", "candles", None, {"scenario": "bear_crash", "warmup_candles": 3}), RecordingBackend()
    )
    feed = fault.client = CandleFeedFake({**FEED_STATE, "candle": 0, "last_price": None})  # type: ignore[assignment]
    fault.apply()
    assert feed.puts[0] is not None
    assert (feed.puts[0]["scenario"], feed.puts[0]["initial_price"], feed.puts[0]["warmup_candles"]) == (
        "bear_crash",
        50000.0,
        3,
    )


def test_a_candle_fault_with_an_unknown_param_names_the_known_ones() -> None:
    with pytest.raises(UsageError) as info:
        build_fault(FaultSpec("crash", "candles", None, {"scenario": "flash_crash", "speed": 2}), RecordingBackend())
    assert str(info.value) == (
        "fault crash: params: unknown speed — known: scenario, seed, initial_price, volatility_multiplier, "
        "spread_bps, warmup_candles"
    )


def test_every_kind_the_schema_allows_is_registered() -> None:
    schema = json.loads((Path(obs_tests.__file__).parent / "schemas" / "scenario.schema.json").read_text())
    assert set(schema["$defs"]["fault"]["properties"]["kind"]["enum"]) == set(FAULT_KINDS)


def test_restart_has_nothing_to_revert() -> None:
    backend = RecordingBackend()
    with ChaosController(backend) as chaos:
        chaos.apply(FaultSpec("r", "restart", "orchestrator"))
    assert backend.calls == [("restart", "orchestrator")]


def test_summary_gives_each_fault_its_times_from_the_start() -> None:
    backend = RecordingBackend(fail_start=True)
    with ChaosController(backend) as chaos:
        fault = chaos.apply(FaultSpec("p", "pause", "gateway"))
        chaos.apply(FaultSpec("k", "kill", "redis"))
    assert fault.applied_at is not None and fault.reverted_at is not None
    summary = chaos.summary(fault.applied_at - 2.0)
    assert summary["applied"] == 2 and summary["reverted"] == 1 and summary["revert_failed"] == 1
    assert summary["errors"] == chaos.errors
    paused, killed = summary["faults"]
    assert paused["name"] == "p" and paused["what"] == "pause gateway" and paused["applied_at"] == 2.0
    assert paused["reverted_at"] == round(fault.reverted_at - fault.applied_at + 2.0, 3)
    assert killed["what"] == "kill redis" and killed["reverted_at"] is None


def test_applying_the_same_fault_twice_is_refused() -> None:
    with ChaosController(RecordingBackend()) as chaos:
        chaos.apply(FaultSpec("a", "pause", "gateway"))
        with pytest.raises(UsageError, match="already applied"):
            chaos.apply(FaultSpec("a", "pause", "gateway"))


class FakeContainer:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.status = "running"
        self.attrs: dict[str, Any] = {"State": {}}

    def kill(self) -> None:
        self.log.append("kill")

    def stop(self, timeout: int) -> None:
        self.log.append(f"stop {timeout}")

    def pause(self) -> None:
        self.log.append("pause")

    def unpause(self) -> None:
        self.log.append("unpause")

    def start(self) -> None:
        self.log.append("start")

    def restart(self, timeout: int) -> None:
        self.log.append("restart")

    def reload(self) -> None:
        pass


class FakeDocker:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.filters: list[Any] = []
        self.containers = self

    def list(self, all: bool, filters: dict[str, Any]) -> list[FakeContainer]:
        self.filters.append(filters)
        service = filters["label"][1].split("=", 1)[1]
        return [FakeContainer(self.log)] if service != "ghost" else []


def test_compose_backend_acts_on_the_services_containers() -> None:
    docker = FakeDocker()
    backend = ComposeBackend("obs", urls={"gateway": "http://127.0.0.1:8000"}, client=docker)
    compose = ComposeStack(
        load_contract(ROOT / "obs.yaml"), project="obs", compose_file=ROOT / "docker-compose.yml", client=docker
    )
    with ChaosController(compose) as chaos:
        chaos.apply(FaultSpec("p", "pause", "gateway"))
        chaos.apply(FaultSpec("k", "kill", "agent-risk"))
    assert docker.log == ["pause", "kill", "start", "unpause"]
    assert docker.filters[0] == {"label": ["com.docker.compose.project=obs", "com.docker.compose.service=gateway"]}
    assert backend.url("gateway") == "http://127.0.0.1:8000"
    with pytest.raises(UnknownComponent, match="no container of compose service 'ghost'"):
        backend.kill("ghost")
    with pytest.raises(UnknownComponent, match="no URL configured"):
        backend.url("exchange")
