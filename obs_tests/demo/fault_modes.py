"""Runtime faults of a mock service, set through ``/admin/faults`` and consulted by its hot paths.

The JSON format (``obs_tests/schemas/faults.schema.json``; every field optional, absent = off)::

    {"error_rate": 0.5,                                   # fraction of work units that fail
     "latency": {"distribution": "fixed", "value_ms": 200},   # or uniform(min_ms,max_ms),
                                                          #    normal(mean_ms,stddev_ms), exponential(mean_ms)
     "hang": true,                                        # work units block until cleared
     "publish_failure_rate": 1.0,                         # NATS publishes reported as failed
     "drop_publishes": 1.0,                               # NATS publishes silently dropped
     "corrupt_payloads": 1.0,                             # published bytes garbled
     "metrics_delay_ms": 5000,                            # /metrics answers late
     "exposition": ["counter_decrease"],                  # broken /metrics variants (corruptions.py)
     "seed": 42}                                          # reseed the fault RNG

``PUT`` replaces the set, ``PATCH`` merges it (a ``null`` value removes that fault), ``DELETE`` clears.
Every check costs one attribute read when no fault is set::

    >>> state = FaultState(seed=1)
    >>> state.should_fail()
    False
    >>> _ = state.replace({"error_rate": 1})
    >>> state.should_fail()
    True
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final

from obs_tests.errors import FaultsInvalid

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

__all__ = ["FaultState", "Faults", "Latency", "parse_faults"]

_GARBLE: Final = bytes((byte ^ 0x5A) for byte in range(256))


@dataclass(frozen=True)
class Latency:
    """A delay distribution, in milliseconds; :meth:`sample` draws seconds (never negative).

    >>> Latency("fixed", value_ms=200).sample(random.Random(0))
    0.2
    """

    distribution: str
    value_ms: float = 0.0
    min_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    stddev_ms: float = 0.0

    def sample(self, rng: random.Random) -> float:
        """One delay in seconds drawn with ``rng``."""
        if self.distribution == "fixed":
            millis = self.value_ms
        elif self.distribution == "uniform":
            millis = rng.uniform(self.min_ms, self.max_ms)
        elif self.distribution == "normal":
            millis = rng.gauss(self.mean_ms, self.stddev_ms)
        else:  # exponential
            millis = rng.expovariate(1.0 / self.mean_ms) if self.mean_ms > 0 else 0.0
        return max(0.0, millis) / 1000.0

    def to_json(self) -> dict[str, Any]:
        """The schema form: only the fields of this distribution."""
        keys = {
            "fixed": ("value_ms",),
            "uniform": ("min_ms", "max_ms"),
            "normal": ("mean_ms", "stddev_ms"),
            "exponential": ("mean_ms",),
        }[self.distribution]
        doc: dict[str, Any] = {"distribution": self.distribution}
        doc.update({key: getattr(self, key) for key in keys})
        return doc


@dataclass(frozen=True)
class Faults:
    """One validated set of faults; the defaults mean "no fault"."""

    error_rate: float = 0.0
    latency: Latency | None = None
    hang: bool = False
    publish_failure_rate: float = 0.0
    drop_publishes: float = 0.0
    corrupt_payloads: float = 0.0
    metrics_delay_ms: int = 0
    exposition: tuple[str, ...] = ()
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The schema form with only the fields that are set."""
        doc: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key == "latency":
                if self.latency is not None:
                    doc[key] = self.latency.to_json()
            elif key == "seed":
                if value is not None:
                    doc[key] = value
            elif key == "exposition":
                if value:
                    doc[key] = list(value)
            elif value not in (None, 0, 0.0, False):
                doc[key] = value
        return doc

    @property
    def active(self) -> bool:
        """Whether any fault (other than a seed) is set."""
        return bool(self.to_json().keys() - {"seed"})


_validator: Draft202012Validator | None = None


def _schema_error(doc: dict[str, Any]) -> ValidationError | None:
    """The most relevant error of ``doc`` against the faults schema (compiled once, on first use)."""
    # Imported on the first fault set, not when a service starts: every mock service imports this
    # module, and jsonschema is ~0.1 s of each one's start-up CPU (a check starts 27 of them).
    from jsonschema import Draft202012Validator  # noqa: PLC0415
    from jsonschema.exceptions import best_match  # noqa: PLC0415

    from obs_tests.config.validation import load_schema  # noqa: PLC0415

    global _validator  # noqa: PLW0603
    if _validator is None:
        _validator = Draft202012Validator(load_schema("faults"))
    error: ValidationError | None = best_match(_validator.iter_errors(doc))
    return error


def parse_faults(doc: object) -> Faults:
    """Validate a fault document (``null`` values are dropped) and build :class:`Faults`.

    Raises :class:`FaultsInvalid` with the field and the reason, e.g.
    ``error_rate: 2 is greater than the maximum of 1``.
    """
    if not isinstance(doc, dict):
        raise FaultsInvalid(f"faults must be a JSON object, got {type(doc).__name__}")
    cleaned = {key: value for key, value in doc.items() if value is not None}
    error = _schema_error(cleaned)
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "faults"
        raise FaultsInvalid(f"{where}: {error.message}")
    latency = None
    if "latency" in cleaned:
        spec = dict(cleaned["latency"])
        distribution = str(spec.pop("distribution"))
        latency = Latency(distribution, **{key: float(value) for key, value in spec.items()})
        if latency.distribution == "uniform" and latency.min_ms > latency.max_ms:
            raise FaultsInvalid("latency: min_ms must not exceed max_ms")
    return Faults(
        error_rate=float(cleaned.get("error_rate", 0.0)),
        latency=latency,
        hang=bool(cleaned.get("hang", False)),
        publish_failure_rate=float(cleaned.get("publish_failure_rate", 0.0)),
        drop_publishes=float(cleaned.get("drop_publishes", 0.0)),
        corrupt_payloads=float(cleaned.get("corrupt_payloads", 0.0)),
        metrics_delay_ms=int(cleaned.get("metrics_delay_ms", 0)),
        exposition=tuple(cleaned.get("exposition", ())),
        seed=cleaned.get("seed"),
    )


class FaultState:
    """The live faults of one service, shared by its hot paths.

    Checks are synchronous and cost one attribute read when no fault is set; ``delay`` and
    ``wait_unhung`` return at once unless latency or a hang is set. :meth:`release` (on shutdown)
    unblocks every hung work unit for good.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._faults = Faults()
        self._unhung = asyncio.Event()
        self._unhung.set()
        self._released = False
        self.holding = False
        """True when :meth:`hold` may block or sleep (hang or latency set): hot paths skip it otherwise."""

    @property
    def faults(self) -> Faults:
        """The current fault set."""
        return self._faults

    def to_json(self) -> dict[str, Any]:
        """The current faults in schema form (what ``GET /admin/faults`` answers)."""
        return self._faults.to_json()

    def _apply(self, faults: Faults, *, reseed: bool) -> Faults:
        if reseed and faults.seed is not None:
            self._rng.seed(faults.seed)
        self._faults = faults
        self.holding = faults.latency is not None or (faults.hang and not self._released)
        if faults.hang and not self._released:
            self._unhung.clear()
        else:
            self._unhung.set()
        return faults

    def replace(self, doc: object) -> Faults:
        """``PUT``: validate ``doc`` and make it the whole fault set."""
        return self._apply(parse_faults(doc), reseed=True)

    def merge(self, doc: object) -> Faults:
        """``PATCH``: merge ``doc`` into the current set (``null`` removes a field), then validate.

        The RNG is reseeded only when ``doc`` itself carries a ``seed``.
        """
        if not isinstance(doc, dict):
            raise FaultsInvalid(f"faults must be a JSON object, got {type(doc).__name__}")
        merged = self._faults.to_json()
        merged.update(doc)
        return self._apply(parse_faults(merged), reseed=doc.get("seed") is not None)

    def clear(self) -> None:
        """``DELETE``: no fault at all (hung work units proceed)."""
        self._apply(Faults(), reseed=False)

    def release(self) -> None:
        """Unblock every hung work unit now and from now on (called at shutdown)."""
        self._released = True
        self.holding = self._faults.latency is not None
        self._unhung.set()

    def _roll(self, rate: float) -> bool:
        return rate >= 1.0 or self._rng.random() < rate

    def should_fail(self) -> bool:
        """Whether this work unit fails (``error_rate``)."""
        rate = self._faults.error_rate
        return rate > 0.0 and self._roll(rate)

    def should_fail_publish(self) -> bool:
        """Whether this NATS publish is reported as failed (``publish_failure_rate``)."""
        rate = self._faults.publish_failure_rate
        return rate > 0.0 and self._roll(rate)

    def should_drop_publish(self) -> bool:
        """Whether this NATS publish is silently dropped (``drop_publishes``)."""
        rate = self._faults.drop_publishes
        return rate > 0.0 and self._roll(rate)

    def maybe_corrupt(self, payload: bytes) -> bytes:
        """``payload`` itself, or garbled bytes that no JSON decoder accepts (``corrupt_payloads``)."""
        rate = self._faults.corrupt_payloads
        if rate > 0.0 and self._roll(rate):
            return b"\xff" + payload.translate(_GARBLE)
        return payload

    @property
    def hung(self) -> bool:
        """Whether work units must block now."""
        return not self._unhung.is_set()

    async def wait_unhung(self) -> None:
        """Block while ``hang`` is set."""
        if not self._unhung.is_set():
            await self._unhung.wait()

    def latency_seconds(self) -> float:
        """One sample of the latency fault, 0.0 when none is set."""
        latency = self._faults.latency
        return 0.0 if latency is None else latency.sample(self._rng)

    async def delay(self) -> None:
        """Sleep for one sample of the latency fault (returns at once when none is set)."""
        if self._faults.latency is not None:
            seconds = self.latency_seconds()
            if seconds > 0.0:
                await asyncio.sleep(seconds)

    async def hold(self) -> None:
        """What every work unit goes through first: ``wait_unhung`` then ``delay``."""
        if not self._unhung.is_set():
            await self._unhung.wait()
        if self._faults.latency is not None:
            await self.delay()

    @property
    def exposition(self) -> tuple[str, ...]:
        """The exposition corruptions to apply to ``/metrics`` (empty: none)."""
        return self._faults.exposition

    @property
    def metrics_delay_seconds(self) -> float:
        """How long ``/metrics`` waits before answering."""
        return self._faults.metrics_delay_ms / 1000.0
