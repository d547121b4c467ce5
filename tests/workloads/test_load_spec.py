from __future__ import annotations

import pytest

from obs_tests.errors import UsageError
from obs_tests.workloads.load_spec import LoadSpec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (LoadSpec(users=0), "load.users: 0"),
        (LoadSpec(duration=0), "load.duration: 0"),
        (LoadSpec(malformed_ratio=1.5), "load.malformed_ratio: 1.5"),
        (LoadSpec(shape="sawtooth"), "unknown shape 'sawtooth' — known: step, spike, soak"),
        (LoadSpec(workers=-1), "load.workers: -1"),
        (LoadSpec(requests=-5), "load.requests: -5"),
    ],
)
def test_bad_specs(spec: LoadSpec, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        spec.validate()
