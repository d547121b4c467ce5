"""Exposition corruptions: broken variants of a service's ``/metrics``, switched on at runtime.

``PATCH /admin/faults {"exposition": ["counter_decrease"]}`` makes the service expose what a buggy
exporter would, so the metric checks can be proven to catch it — without editing the checks:

- ``counter_decrease``     every counter sample reports half its value: counters go *down* while the
                           process keeps running (``process_start_time_seconds`` unchanged);
- ``histogram_nonmonotonic`` the first bucket of every histogram series exceeds the ``+Inf`` bucket;
- ``histogram_inf_mismatch`` the ``+Inf`` bucket of every histogram series is ``_count`` + 1;
- ``histogram_unit_ms``    every histogram looks as if it observed milliseconds into a ``_seconds``
                           histogram: all observations in ``+Inf``, ``_sum`` x 1000 (quantiles are wrong);
- ``gauge_out_of_range``   known bounded gauges leave their range (confidence 1.5, prices/queues -1);
- ``gauge_nan``            the same gauges report ``NaN``;
- ``bad_metric_name``      adds ``mockLatencyMilliseconds`` (camelCase, non-base unit: promtool flags it);
- ``label_explosion``      the service's first labelled counter (not a python_/process_ runtime metric)
                           gains 200 series (a new value of its last label each);
- ``unexpected_label``     that counter's series gain a ``pod`` label;
- ``type_mismatch``        the bounded gauges above are exposed as ``untyped``.

Each corruption is a pure ``bytes -> bytes`` function over the text exposition format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

__all__ = ["CORRUPTIONS", "apply"]

_BOUNDED_GAUGES: Final = {
    b"agent_confidence_score": b"1.5",
    b"gateway_inflight_requests": b"-1.0",
    b"exchange_price": b"-1.0",
    b"nats_consumer_pending_messages": b"-1.0",
    b"nats_up": b"2.0",
}
EXPLOSION: Final = 200
_RUNTIME_PREFIXES: Final = (b"python_", b"process_", b"go_")


def _split(line: bytes) -> tuple[bytes, bytes, bytes] | None:
    """``name{labels} value`` -> (name, labels-with-braces or b"", value); None for comments."""
    if not line or line.startswith(b"#"):
        return None
    head, _, value = line.rpartition(b" ")
    if not head:
        return None
    brace = head.find(b"{")
    if brace < 0:
        return head, b"", value
    return head[:brace], head[brace:], value


def _types(lines: list[bytes]) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    for line in lines:
        if line.startswith(b"# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                out[parts[2]] = parts[3]
    return out


def _family(name: bytes, types: dict[bytes, bytes]) -> tuple[bytes, bytes]:
    """(family name, type) of a sample name (handles _total/_bucket/_count/_sum suffixes)."""
    if name in types:
        return name, types[name]
    for suffix in (b"_total", b"_bucket", b"_count", b"_sum", b"_created", b"_info"):
        if name.endswith(suffix) and name[: -len(suffix)] in types:
            base = name[: -len(suffix)]
            return base, types[base]
    return name, b"untyped"


def _number(value: bytes) -> float:
    return float(value.decode())


def _fmt(value: float) -> bytes:
    return repr(float(value)).encode()


def counter_decrease(lines: list[bytes]) -> list[bytes]:
    types = _types(lines)
    out = []
    for line in lines:
        parts = _split(line)
        if parts and parts[0].endswith(b"_total") and _family(parts[0], types)[1] == b"counter":
            out.append(parts[0] + parts[1] + b" " + _fmt(_number(parts[2]) / 2))
        else:
            out.append(line)
    return out


def _bucket_groups(lines: list[bytes]) -> dict[bytes, list[int]]:
    """Labels-without-le -> indexes of the bucket lines of that series, in order."""
    groups: dict[bytes, list[int]] = {}
    for index, line in enumerate(lines):
        parts = _split(line)
        if parts and parts[0].endswith(b"_bucket"):
            labels = b",".join(p for p in parts[1].strip(b"{}").split(b",") if not p.startswith(b"le="))
            groups.setdefault(parts[0] + b"|" + labels, []).append(index)
    return groups


def histogram_nonmonotonic(lines: list[bytes]) -> list[bytes]:
    out = list(lines)
    for indexes in _bucket_groups(lines).values():
        inf = _split(lines[indexes[-1]])
        first = _split(lines[indexes[0]])
        if inf and first and len(indexes) > 1:
            out[indexes[0]] = first[0] + first[1] + b" " + _fmt(_number(inf[2]) + 1)
    return out


def histogram_inf_mismatch(lines: list[bytes]) -> list[bytes]:
    out = list(lines)
    for indexes in _bucket_groups(lines).values():
        inf = _split(lines[indexes[-1]])
        if inf and b'le="+Inf"' in inf[1]:
            out[indexes[-1]] = inf[0] + inf[1] + b" " + _fmt(_number(inf[2]) + 1)
    return out


def histogram_unit_ms(lines: list[bytes]) -> list[bytes]:
    out = list(lines)
    for indexes in _bucket_groups(lines).values():
        for index in indexes:
            parts = _split(lines[index])
            if parts and b'le="+Inf"' not in parts[1]:
                out[index] = parts[0] + parts[1] + b" 0.0"
    for index, line in enumerate(out):
        parts = _split(line)
        if parts and parts[0].endswith(b"_sum") and (parts[0][:-4] + b"_bucket") in line_names(lines):
            out[index] = parts[0] + parts[1] + b" " + _fmt(_number(parts[2]) * 1000)
    return out


def line_names(lines: list[bytes]) -> set[bytes]:
    """Every sample name in ``lines``."""
    return {parts[0] for line in lines if (parts := _split(line))}


def _gauges(lines: list[bytes], value: Callable[[bytes], bytes]) -> list[bytes]:
    out = []
    for line in lines:
        parts = _split(line)
        if parts and parts[0] in _BOUNDED_GAUGES:
            out.append(parts[0] + parts[1] + b" " + value(parts[0]))
        else:
            out.append(line)
    return out


def gauge_out_of_range(lines: list[bytes]) -> list[bytes]:
    return _gauges(lines, lambda name: _BOUNDED_GAUGES[name])


def gauge_nan(lines: list[bytes]) -> list[bytes]:
    return _gauges(lines, lambda name: b"NaN")


def bad_metric_name(lines: list[bytes]) -> list[bytes]:
    return [
        *lines,
        b"# HELP mockLatencyMilliseconds Latency of the mock in milliseconds.",
        b"# TYPE mockLatencyMilliseconds gauge",
        b"mockLatencyMilliseconds 12.0",
    ]


def _first_labelled_counter(lines: list[bytes]) -> tuple[int, tuple[bytes, bytes, bytes]] | None:
    types = _types(lines)
    for index, line in enumerate(lines):
        parts = _split(line)
        if (
            parts
            and parts[1]
            and parts[0].endswith(b"_total")
            and not parts[0].startswith(_RUNTIME_PREFIXES)
            and _family(parts[0], types)[1] == b"counter"
        ):
            return index, parts
    return None


def label_explosion(lines: list[bytes]) -> list[bytes]:
    found = _first_labelled_counter(lines)
    if found is None:
        return lines
    index, (name, labels, _value) = found
    head, _, _last = labels.strip(b"{}").rpartition(b'="')
    extra = [name + b"{" + head + b'="exploded_' + str(i).encode() + b'"} 0.0' for i in range(EXPLOSION)]
    return [*lines[: index + 1], *extra, *lines[index + 1 :]]


def unexpected_label(lines: list[bytes]) -> list[bytes]:
    found = _first_labelled_counter(lines)
    if found is None:
        return lines
    target = found[1][0]
    out = []
    for line in lines:
        parts = _split(line)
        if parts and parts[0] == target and parts[1]:
            out.append(parts[0] + parts[1][:-1] + b',pod="mock-0"} ' + parts[2])
        else:
            out.append(line)
    return out


def type_mismatch(lines: list[bytes]) -> list[bytes]:
    out = list(lines)
    for index, line in enumerate(lines):
        parts = line.split()
        if line.startswith(b"# TYPE ") and len(parts) == 4 and parts[2] in _BOUNDED_GAUGES:
            out[index] = b"# TYPE " + parts[2] + b" untyped"
    return out


CORRUPTIONS: Final[dict[str, Callable[[list[bytes]], list[bytes]]]] = {
    "counter_decrease": counter_decrease,
    "histogram_nonmonotonic": histogram_nonmonotonic,
    "histogram_inf_mismatch": histogram_inf_mismatch,
    "histogram_unit_ms": histogram_unit_ms,
    "gauge_out_of_range": gauge_out_of_range,
    "gauge_nan": gauge_nan,
    "bad_metric_name": bad_metric_name,
    "label_explosion": label_explosion,
    "unexpected_label": unexpected_label,
    "type_mismatch": type_mismatch,
}


def apply(text: bytes, names: Iterable[str]) -> bytes:
    """Apply the named corruptions, in order, to an exposition ``text``."""
    lines = text.rstrip(b"\n").split(b"\n")
    for name in names:
        lines = CORRUPTIONS[name](lines)
    return b"\n".join(lines) + b"\n"
