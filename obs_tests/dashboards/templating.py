"""Grafana's variable and macro expansion for Prometheus queries, as Grafana documents and does it.

- Syntax: ``$var``, ``${var}``, ``${var:format}``, ``${var:format:arg}``, ``[[var]]``, ``[[var:format]]``;
  unknown variables are left as written (as Grafana does) and reported.
- Macros: ``$__interval``/``$__interval_ms`` (time range / max data points, rounded the way Grafana rounds,
  never below the min interval), ``$__rate_interval``/``$__rate_interval_ms`` (``max($__interval + scrape
  interval, 4 x scrape interval)``), ``$__range``/``$__range_s``/``$__range_ms``, ``$__from``/``$__to``
  (with ``:date``), ``$__dashboard``, ``$__auto_interval_<name>``.
- Values: the Prometheus datasource's own formatting when no format is given (a single-value variable is
  escaped for a string literal; a multi-value or include-all variable is regex-escaped and several values
  become ``(a|b)``), ``All`` = every option (or the custom all value, used as written), and every
  documented format: ``csv``, ``distributed``, ``doublequote``, ``glob``, ``join``, ``json``, ``lucene``,
  ``percentencode``, ``pipe``, ``queryparam``, ``customqueryparam``, ``raw``, ``regex``, ``singlequote``,
  ``sqlstring``, ``text``, ``date``.

Example::

    >>> env = Expander({"job": VariableValue("job", ("gateway", "agents"), multi=True)},
    ...                interval=QueryInterval(interval_ms=15000, rate_interval_ms=60000),
    ...                time_range=TimeRange(0, 3600))
    >>> env.expand('rate(x{job=~"$job"}[$__rate_interval])')
    'rate(x{job=~"(gateway|agents)"}[1m0s])'
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

__all__ = [
    "ALL",
    "VARIABLE_SYNTAX",
    "Expander",
    "QueryInterval",
    "TimeRange",
    "VariableValue",
    "calculate_interval_ms",
    "format_go_duration",
    "format_interval",
    "format_value",
    "interval_to_ms",
    "parse_time",
    "query_interval",
    "round_interval_ms",
    "variable_names",
]

ALL = "$__all"

#: Grafana's variable syntax (templateSrv): $var | [[var(:fmt)]] | ${var(.path)(:fmt)}
VARIABLE_SYNTAX = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")

_UNITS_MS = {
    "ms": 1.0,
    "s": 1000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
    "d": 86_400_000.0,
    "w": 604_800_000.0,
    "M": 2_592_000_000.0,
    "y": 31_536_000_000.0,
}
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)$")
_RELATIVE = re.compile(r"^now(?:(?P<sign>[+-])(?P<amount>\d+)(?P<unit>ms|s|m|h|d|w|M|y))?(?:/(?P<round>[smhdwMy]))?$")
# (upper bound exclusive, rounded value) in ms — Grafana's rangeutil.roundInterval
_ROUNDING = (
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1500, 1000),
    (3500, 2000),
    (7500, 5000),
    (12500, 10000),
    (17500, 15000),
    (25000, 20000),
    (45000, 30000),
    (90000, 60000),
    (210000, 120000),
    (450000, 300000),
    (750000, 600000),
    (1050000, 900000),
    (1500000, 1200000),
    (2700000, 1800000),
    (5400000, 3600000),
    (9000000, 7200000),
    (16200000, 10800000),
    (32400000, 21600000),
    (86400000, 43200000),
    (604800000, 86400000),
    (1814400000, 604800000),
    (3628800000, 2592000000),
)
_FORMATTED_ALL = ("text", "percentencode", "queryparam")
#: macros Grafana's Prometheus datasource expands on the server for queries sent to /api/ds/query
_GRAFANA_EXPANDS = frozenset(
    {"__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range", "__range_s", "__range_ms"}
)
SAFE_RESOLUTION = 11000  # Prometheus refuses more points per series; Grafana widens the step to stay below


@dataclass(frozen=True)
class TimeRange:
    """A dashboard time range, unix seconds."""

    start: float
    end: float

    @property
    def span_ms(self) -> float:
        """Length in milliseconds."""
        return (self.end - self.start) * 1000.0

    @classmethod
    def parse(cls, start: str, end: str, now: float | None = None) -> TimeRange:
        """From a dashboard's ``time.from``/``time.to`` (``now-15m``, ``now``, epoch ms, ISO 8601)."""
        at = time.time() if now is None else now
        return cls(parse_time(start, at), parse_time(end, at))


def parse_time(text: str, now: float) -> float:
    """``now``, ``now-15m``, ``now-1d/d`` (rounded down), epoch milliseconds or ISO 8601 -> unix seconds.

    >>> parse_time("now-15m", 1000.0)
    100.0
    """
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        at = now
        if match.group("amount"):
            delta = float(match.group("amount")) * _UNITS_MS[match.group("unit")] / 1000.0
            at = at - delta if match.group("sign") == "-" else at + delta
        unit = match.group("round")
        if unit:
            step = _UNITS_MS[unit] / 1000.0
            at = math.floor(at / step) * step
        return at
    if value.isdigit():
        return int(value) / 1000.0
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValueError(f"not a Grafana time: {text!r} (use now, now-15m, epoch ms or ISO 8601)") from None


def interval_to_ms(text: str) -> float:
    """``"30s"`` -> 30000.0; Grafana's ``>10s`` lower-limit notation is accepted; a bare number is seconds."""
    value = text.strip().lstrip(">")
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value) * 1000.0
    total, pos = 0.0, 0
    for part in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)", value):
        if part.start() != pos:
            break
        total += float(part.group(1)) * _UNITS_MS[part.group(2)]
        pos = part.end()
    if not value or pos != len(value):
        raise ValueError(f"not an interval: {text!r} (use e.g. 15s, 1m, 500ms)")
    return total


def round_interval_ms(interval_ms: float) -> int:
    """Grafana's rounding of a computed interval to a "nice" one (``rangeutil.roundInterval``)."""
    for bound, rounded in _ROUNDING:
        if interval_ms < bound:
            return rounded
    return 31_536_000_000


def format_interval(ms: float) -> str:
    """An interval as Grafana writes ``$__interval``: the largest whole unit (``90000`` -> ``1m``)."""
    for unit, size in (("y", 31_536_000_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size:
            return f"{int(ms // size)}{unit}"
    return f"{max(1, int(ms))}ms"


def format_go_duration(ms: float) -> str:
    """Go's ``time.Duration.String()`` (how Grafana writes ``$__rate_interval``): ``60000`` -> ``1m0s``."""
    millis = round(ms)
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = rest / 1000.0
    text = f"{seconds:g}s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def calculate_interval_ms(time_range: TimeRange, resolution: int, low_limit_ms: float = 1.0) -> int:
    """``$__interval`` in ms: range / resolution rounded, never below ``low_limit_ms``."""
    interval = round_interval_ms(time_range.span_ms / max(1, resolution))
    return int(max(interval, low_limit_ms))


@dataclass(frozen=True)
class QueryInterval:
    """The intervals Grafana computes for one query."""

    interval_ms: int
    rate_interval_ms: int
    interval_factor: int = 1

    @property
    def step_seconds(self) -> float:
        """The range-query step Grafana sends to Prometheus."""
        return self.interval_ms * self.interval_factor / 1000.0


def query_interval(
    time_range: TimeRange,
    *,
    max_data_points: int,
    scrape_interval_ms: float = 15000.0,
    min_interval: str = "",
    min_step: str = "",
    interval_factor: int = 1,
) -> QueryInterval:
    """What Grafana's Prometheus datasource computes for a query.

    ``min_interval`` is the panel's "Min interval" (default: the datasource's scrape interval), ``min_step``
    the query's "Min step" — which also replaces the scrape interval in ``$__rate_interval``.
    """
    floor_ms = scrape_interval_ms
    for text in (min_interval, min_step):
        if text and not text.startswith("$"):
            floor_ms = interval_to_ms(text)
    interval = calculate_interval_ms(time_range, max_data_points, floor_ms)
    safe = round_interval_ms(time_range.span_ms / SAFE_RESOLUTION)
    interval = max(interval, safe)
    scrape = interval_to_ms(min_step) if min_step and not min_step.startswith("$") else scrape_interval_ms
    rate = int(max(interval + scrape, 4 * scrape))
    return QueryInterval(interval, rate, max(1, interval_factor))


@dataclass(frozen=True)
class VariableValue:
    """The current value of a variable: what it expands to."""

    name: str
    values: tuple[str, ...]
    texts: tuple[str, ...] = ()
    multi: bool = False
    include_all: bool = False
    is_all: bool = False
    all_value: str | None = None

    @property
    def text_values(self) -> tuple[str, ...]:
        """Display texts (the values when no texts are known)."""
        return self.texts if len(self.texts) == len(self.values) and self.texts else self.values

    def describe(self) -> str:
        """``All (a, b)`` / ``a`` for messages."""
        shown = ", ".join(self.values[:6]) + (" …" if len(self.values) > 6 else "")
        if self.is_all:
            return f"All ({self.all_value if self.all_value is not None else shown})"
        return shown or "(empty)"


def _regex_escape(value: str) -> str:
    return re.sub(r"[\\^$*+?.()|\[\]{}/]", lambda m: "\\" + m.group(0), value)


def _prom_regular_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def _prom_regex_escape(value: str) -> str:
    return re.sub(r"[$^*{}\[\]+?.()|]", lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def _lucene_escape(value: str) -> str:
    return re.sub(r'([!*+\-=<>\s&|()\[\]{}^~?:\\/"])', r"\\\1", value)


def _percent(value: str) -> str:
    # encodeURIComponentStrict: also ! ' ( ) * are escaped
    return quote(value, safe="-_.~")


def _js_string(values: Sequence[str], multi: bool) -> str:
    return ",".join(values) if multi else (values[0] if values else "")


def _prometheus_format(value: VariableValue, values: Sequence[str], as_list: bool) -> str:
    """The Prometheus datasource's ``interpolateQueryExpr``."""
    if not value.multi and not value.include_all:
        return _prom_regular_escape(values[0] if values else "")
    if not as_list:
        return _prom_regex_escape(values[0] if values else "")
    escaped = [_prom_regex_escape(v) for v in values]
    if len(escaped) == 1:
        return escaped[0]
    return "(" + "|".join(escaped) + ")"


def _date(ms: float, arg: str | None) -> str:
    moment = datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    if arg in (None, "", "iso"):
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if arg == "seconds":
        return str(int(ms // 1000))
    if arg == "ms":
        return str(int(ms))
    return moment.isoformat()


def format_value(value: VariableValue, fmt: str | None = None, *, default: str = "prometheus") -> str:
    """Expand one variable with a format (``None``: the datasource's own formatting).

    >>> format_value(VariableValue("s", ("test1.", "test2"), multi=True), "regex")
    '(test1\\\\.|test2)'
    """
    values = list(value.values)
    as_list = value.multi or value.is_all
    name, _, arg = (fmt or "").partition(":")
    if value.is_all and value.all_value is not None and name not in _FORMATTED_ALL:
        return value.all_value
    if not name and default == "prometheus":
        return _prometheus_format(value, values, as_list)
    name = name or default
    if name == "regex":
        escaped = [_regex_escape(v) for v in values]
        if not as_list or len(escaped) == 1:
            return escaped[0] if escaped else ""
        return "(" + "|".join(escaped) + ")"
    if name == "pipe":
        return "|".join(values) if as_list else (values[0] if values else "")
    if name in ("csv", "raw"):
        return _js_string(values, as_list)
    if name == "join":
        return (arg or ",").join(values)
    if name == "distributed":
        return f",{value.name}=".join(values) if as_list else (values[0] if values else "")
    if name == "json":
        return json.dumps(values if as_list else (values[0] if values else ""), separators=(",", ":"))
    if name == "lucene":
        if not as_list:
            return _lucene_escape(values[0] if values else "")
        if len(values) == 1:
            return f'"{_lucene_escape(values[0])}"'
        return "(" + " OR ".join(f'"{_lucene_escape(v)}"' for v in values) + ")"
    if name == "percentencode":
        return _percent(",".join(values) if as_list else (values[0] if values else ""))
    if name == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if name == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if name == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if name == "text":
        return "All" if value.is_all else " + ".join(value.text_values)
    if name == "queryparam":
        if value.is_all and value.all_value is not None:
            return f"var-{value.name}={ALL}"
        return "&".join(f"var-{_percent(value.name)}={_percent(v)}" for v in values)
    if name == "customqueryparam":
        param, _, prefix = arg.partition(":")
        return "&".join(f"{param or 'var-' + value.name}={prefix}{v}" for v in values)
    if name == "date":
        return _date(float(values[0]) if values else 0.0, arg or None)
    if name == "html":
        return ", ".join(v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for v in values)
    # unknown formats: Grafana falls back to glob
    return "{" + ",".join(values) + "}" if as_list and len(values) > 1 else (values[0] if values else "")


def variable_names(text: str) -> list[str]:
    """Every variable referenced in ``text`` (in order, repeats removed)."""
    names: list[str] = []
    for match in VARIABLE_SYNTAX.finditer(text):
        name = match.group(1) or match.group(2) or match.group(4)
        if name and name not in names:
            names.append(name)
    return names


@dataclass
class Expander:
    """Expands queries with a dashboard's variable values and one query's intervals.

    ``unknown`` collects the names of variables that were referenced but are not defined (left as written).
    """

    variables: Mapping[str, VariableValue]
    interval: QueryInterval = field(default_factory=lambda: QueryInterval(15000, 60000))
    time_range: TimeRange = field(default_factory=lambda: TimeRange(time.time() - 3600, time.time()))
    dashboard_title: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    default_format: str = "prometheus"
    keep_macros: bool = False  # leave $__interval & co. for Grafana to expand (queries sent through Grafana)
    unknown: list[str] = field(default_factory=list)

    def builtin(self, name: str, fmt: str | None) -> str | None:
        """The value of a built-in ``$__…`` variable, or None when ``name`` is not one."""
        span_ms = round(self.time_range.span_ms)
        rate = self.interval.rate_interval_ms
        macros: dict[str, Callable[[], str]] = {
            "__interval": lambda: format_interval(self.interval.interval_ms),
            "__interval_ms": lambda: str(self.interval.interval_ms),
            "__rate_interval": lambda: format_go_duration(rate),
            "__rate_interval_ms": lambda: str(rate),
            "__range": lambda: f"{round(span_ms / 1000)}s",
            "__range_s": lambda: str(round(span_ms / 1000)),
            "__range_ms": lambda: str(span_ms),
            "__dashboard": lambda: self.dashboard_title,
            "__org": lambda: "1",
        }
        if name in ("__from", "__to"):
            ms = (self.time_range.start if name == "__from" else self.time_range.end) * 1000.0
            _, _, arg = (fmt or "").partition(":")
            return _date(ms, arg or None) if (fmt or "").startswith("date") else str(int(ms))
        if name in macros:
            return macros[name]()
        return self.extra.get(name)

    def expand(self, text: str) -> str:
        """``text`` with every known variable and macro replaced."""

        def replace(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2) or match.group(4) or ""
            fmt = match.group(3) or match.group(6)
            if name.startswith("__") and self.keep_macros and name in _GRAFANA_EXPANDS:
                return match.group(0)
            if name.startswith("__"):
                value = self.builtin(name, fmt)
                if value is not None:
                    return value
            variable = self.variables.get(name)
            if variable is None:
                if name not in self.unknown:
                    self.unknown.append(name)
                return match.group(0)
            if (
                variable.is_all
                and variable.all_value is not None
                and (fmt or "").partition(":")[0] not in _FORMATTED_ALL
            ):
                # a custom all value is used as written, after its own variables are expanded
                return VARIABLE_SYNTAX.sub(replace, variable.all_value or "")
            return format_value(variable, fmt, default=self.default_format)

        return VARIABLE_SYNTAX.sub(replace, text)
