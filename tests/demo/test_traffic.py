from __future__ import annotations

import random

import pytest

from obs_tests.demo.signals import parse_signal
from obs_tests.demo.traffic import ACTIONS, INVALID_KINDS, invalid_signal, valid_signal
from obs_tests.errors import SignalRejected


@pytest.mark.parametrize("seed", range(20))
def test_valid_signals_pass_the_gateway_schema(seed: int) -> None:
    rng = random.Random(seed)
    for action in ACTIONS:
        assert parse_signal(valid_signal(rng, action=action))["action"] == action


@pytest.mark.parametrize(("kind", "reason"), list(INVALID_KINDS.items()), ids=list(INVALID_KINDS))
def test_invalid_signals_are_rejected_with_the_mapped_reason(kind: str, reason: str) -> None:
    for seed in range(10):
        with pytest.raises(SignalRejected) as info:
            parse_signal(invalid_signal(random.Random(seed), kind))
        assert info.value.reason == reason


def test_unknown_invalid_kind() -> None:
    with pytest.raises(ValueError, match="unknown invalid kind 'nope'"):
        invalid_signal(random.Random(1), "nope")
