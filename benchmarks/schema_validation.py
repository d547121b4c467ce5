"""JSON Schema validation per message / per request: jsonschema vs fastjsonschema, on the two hot sites.

Usage: .venv/bin/python benchmarks/schema_validation.py [--repeat 7] [--min-time 0.2] [--request-us 75]

The two places that validate on every message or request:

- ``obs_tests/web/stream.py``: every message of ``obs-tests serve``'s live stream (``Stream.publish``)
  against ``stream.schema.json`` (JSON Schema 2020-12), after the JSON round trip ``Stream`` makes.
  Payloads: a ``log``, an ``event`` (an alert firing, with labels and detail), a ``status`` and an
  ``assertion`` message as a scenario run publishes them.
- ``obs_tests/demo/signals.py``: every webhook body the mock gateway receives (``parse_signal``) against
  ``signal.schema.json`` (draft 7, ``format: date-time`` checked). Payloads: a valid signal and the
  invalid ones exactly as Locust sends them (``obs_tests.demo.traffic.valid_signal`` / ``invalid_signal``).

Each validator is built once and reused: fastjsonschema compiled as the code compiles it; jsonschema as
the code would use it — for the stream the project's :data:`obs_tests.config.validation.Validator`
(2020-12, finite numbers); for signals ``Draft7Validator`` with its format checker (without one,
jsonschema does not check ``date-time``) — and asked for its best error (``best_match(iter_errors(…))``,
what a located message needs). Every case runs ``--repeat`` times for at least ``--min-time`` seconds
of this process' CPU time (not wall time: other processes on the machine do not count); the best run
is printed (as ``timeit`` advises) as validations/s and CPU µs per validation, with the ratio
jsonschema / fastjsonschema.

In context: the whole ``Stream.publish`` of a message, ``parse_signal`` of a body (JSON parse included),
and the gateway's CPU per request (``--request-us``, measured by ``benchmarks/gateway_throughput.py``):
the share of it one validation would take. Also the CPU time of importing each library in a fresh
interpreter (a mock service pays it at start-up, 27 of them per ``obs-tests check``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.metadata
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fastjsonschema  # noqa: E402
import jsonschema  # noqa: E402
import orjson  # noqa: E402
from jsonschema.exceptions import best_match  # noqa: E402

from obs_tests.config.validation import Validator, load_schema  # noqa: E402
from obs_tests.demo.signals import parse_signal  # noqa: E402
from obs_tests.demo.traffic import INVALID_KINDS, invalid_signal, valid_signal  # noqa: E402
from obs_tests.errors import SignalRejected  # noqa: E402
from obs_tests.web.stream import Stream  # noqa: E402

TEST_ID = "20261122-081618-a1b2c3"


def stream_messages() -> dict[str, dict[str, Any]]:
    """One message of each frequent kind, as ``Stream`` validates it (after its JSON round trip)."""
    data: dict[str, dict[str, Any]] = {
        "log": {"t": 12.345, "level": "INFO", "message": "step 2 (wait_for_alert): GatewayDown firing after 4.1 s"},
        "event": {
            "t": 14.2,
            "kind": "alert",
            "name": "GatewayDown",
            "state": "firing",
            "labels": {
                "alertname": "GatewayDown",
                "severity": "critical",
                "job": "gateway",
                "instance": "127.0.0.1:41234",
            },
            "detail": {"value": 0.0, "bound": 17.0, "active_at": 1795962001.25, "for": "6s"},
        },
        "status": {
            "status": "running",
            "phase": "running",
            "duration": 14.2,
            "assertions_passed": 3,
            "assertions_total": 5,
            "chaos": {"applied": 1, "reverted": 0, "active": ["kill gateway"]},
        },
        "assertion": {
            "name": "GatewayDown fires",
            "passed": True,
            "expected": "firing within 17.0 s",
            "actual": "firing after 4.1 s",
            "message": "GatewayDown fired 4.1 s after the fault (bound 17.0 s)",
        },
    }
    return {
        kind: orjson.loads(orjson.dumps({"seq": 0, "type": kind, "ts": 0.0, "test_id": TEST_ID, "data": doc}))
        for kind, doc in data.items()
    }


def signal_bodies() -> dict[str, bytes]:
    """A valid signal and one of each invalid kind that reaches the schema (the others fail in the parser)."""
    rng = random.Random(7)
    bodies = {"valid": valid_signal(rng)}
    for kind in INVALID_KINDS:
        body = invalid_signal(rng, kind)
        with contextlib.suppress(orjson.JSONDecodeError):
            if isinstance(orjson.loads(body), dict):
                bodies[kind] = body
    return bodies


def per_call_us(fn: Callable[[], object], repeat: int, min_time: float) -> float:
    """CPU µs per call of ``fn``: the best of ``repeat`` runs of at least ``min_time`` CPU-seconds each."""
    loops = 1
    while True:
        started = time.process_time()
        for _ in range(loops):
            fn()
        if (spent := time.process_time() - started) >= min_time / 4:
            break
        loops *= 2
    loops = max(1, int(loops * min_time / spent))
    runs = []
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(loops):
            fn()
        runs.append((time.process_time() - started) / loops)
    return 1e6 * min(runs)


def fast_call(validate: Callable[[Any], Any], doc: Any) -> Callable[[], object]:
    def call() -> object:
        try:
            return validate(doc)
        except fastjsonschema.JsonSchemaValueException as exc:
            return exc

    return call


def jsonschema_call(validator: Any, doc: Any) -> Callable[[], object]:
    def call() -> object:
        return best_match(validator.iter_errors(doc))

    return call


def agree(fast: Callable[[], object], slow: Callable[[], object]) -> bool:
    """Both libraries say the same: valid, or invalid."""
    return isinstance(fast(), fastjsonschema.JsonSchemaValueException) == (slow() is not None)


def row(name: str, fast_us: float, slow_us: float, extra: str = "") -> str:
    return (
        f"  {name:<22} {1e6 / fast_us:>12,.0f} {fast_us:>8.2f} {1e6 / slow_us:>12,.0f} {slow_us:>8.2f} "
        f"{slow_us / fast_us:>6.1f}x  {extra}"
    )


HEADER = f"  {'payload':<22} {'fast val/s':>12} {'fast µs':>8} {'jsonsch val/s':>12} {'js µs':>8} {'ratio':>7}"


def import_ms(module: str, repeat: int) -> float:
    """Best CPU time of ``import module`` in a fresh interpreter, minus the interpreter's own start."""

    def run(code: str) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    base = min(run("pass") for _ in range(repeat))
    return 1e3 * (min(run(f"import {module}") for _ in range(repeat)) - base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per case; the best is printed")
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds per run (default: %(default)s)")
    parser.add_argument(
        "--request-us",
        type=float,
        default=75.0,
        help="the gateway's CPU µs per request (gateway_throughput.py, mode A; default: %(default)s)",
    )
    args = parser.parse_args()
    repeat, min_time = args.repeat, args.min_time
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in ("jsonschema", "fastjsonschema"))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{versions}, Python {sys.version.split()[0]}; best of {repeat} runs; load average {load}")

    print()
    print("stream messages (obs_tests/web/stream.py, every message published)")
    print(HEADER)
    stream_schema = load_schema("stream")
    stream_fast = fastjsonschema.compile(copy.deepcopy(stream_schema))
    stream_slow = Validator(stream_schema)
    stream = Stream(size=1_000)
    stream_fast_us: list[float] = []
    stream_slow_us: list[float] = []
    for kind, message in stream_messages().items():
        fast, slow = fast_call(stream_fast, message), jsonschema_call(stream_slow, message)
        assert agree(fast, slow), f"{kind}: the libraries disagree"
        assert slow() is None, f"{kind}: the message is invalid"
        fast_us, slow_us = per_call_us(fast, repeat, min_time), per_call_us(slow, repeat, min_time)

        def publish(k: str = kind, data: dict[str, Any] = message["data"]) -> object:
            return stream.publish(k, data, TEST_ID)

        publish_us = per_call_us(publish, repeat, min_time)
        stream_fast_us.append(fast_us)
        stream_slow_us.append(slow_us)
        print(row(kind, fast_us, slow_us, f"Stream.publish (as the code is): {publish_us:.1f} µs"))

    print()
    print("trading signals (obs_tests/demo/signals.py, every request of the mock gateway)")
    print(HEADER)
    signal_schema = load_schema("signal")
    signal_fast = fastjsonschema.compile(signal_schema)
    signal_slow = jsonschema.Draft7Validator(signal_schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    valid_us: tuple[float, float] | None = None
    for kind, body in signal_bodies().items():
        doc = orjson.loads(body)
        fast, slow = fast_call(signal_fast, doc), jsonschema_call(signal_slow, doc)
        assert agree(fast, slow), f"{kind}: the libraries disagree"
        assert (slow() is None) == (kind == "valid"), kind
        fast_us, slow_us = per_call_us(fast, repeat, min_time), per_call_us(slow, repeat, min_time)

        def parse(b: bytes = body) -> object:
            try:
                return parse_signal(b)
            except SignalRejected as exc:
                return exc

        parse_us = per_call_us(parse, repeat, min_time)
        valid_us = (fast_us, slow_us) if kind == "valid" else valid_us
        print(row(kind, fast_us, slow_us, f"parse_signal (as the code is): {parse_us:.1f} µs"))

    print()
    print("in context")
    slow_stream, fast_stream = statistics.median(stream_slow_us), statistics.median(stream_fast_us)
    print(
        f"  stream: jsonschema {slow_stream:.0f} µs, fastjsonschema {fast_stream:.0f} µs per message (median of "
        f"the kinds). A verbose run under load (web_stream_load.py) publishes ~250 messages/s from its own "
        f"thread: {250 * slow_stream / 1e3:.0f} ms against {250 * fast_stream / 1e3:.0f} ms of CPU per second"
    )
    if valid_us is not None:
        fast_us, slow_us = valid_us
        request = args.request_us
        print(
            f"  gateway, valid signal: fastjsonschema {fast_us:.1f} µs = {100 * fast_us / request:.1f} % of the "
            f"{request:g} µs of gateway CPU per request; jsonschema {slow_us:.1f} µs = {100 * slow_us / request:.0f} %"
        )
        print(
            f"  gateway capacity on one core: {1e6 / request:,.0f} req/s today; with jsonschema "
            f"{1e6 / (request - fast_us + slow_us):,.0f} req/s"
        )

    print()
    print("import CPU time in a fresh interpreter (best of 5, less the interpreter's own start)")
    for module in ("fastjsonschema", "jsonschema"):
        print(f"  {module:<16} {import_ms(module, 5):6.0f} ms")


if __name__ == "__main__":
    main()
