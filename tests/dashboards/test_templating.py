"""Grafana's variable and macro expansion, case by case against Grafana's documented behaviour:
the "Variable syntax" / "Advanced variable format options" pages (servers = ['test1.', 'test2'] examples),
the Prometheus datasource's "Using template variables" page ($__rate_interval = max($__interval + scrape
interval, 4 * scrape interval), regex escaping of multi-value variables) and the global variables page."""

from __future__ import annotations

import pytest

from obs_tests.dashboards.templating import (
    Expander,
    QueryInterval,
    TimeRange,
    VariableValue,
    calculate_interval_ms,
    format_go_duration,
    format_interval,
    format_value,
    interval_to_ms,
    parse_time,
    query_interval,
    round_interval_ms,
    variable_names,
)

SERVERS = VariableValue("servers", ("test1.", "test2"), multi=True)
HOUR = TimeRange(1_700_000_000.0, 1_700_003_600.0)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        pytest.param("csv", "test1.,test2", id="csv"),
        pytest.param("distributed", "test1.,servers=test2", id="distributed"),
        pytest.param("doublequote", '"test1.","test2"', id="doublequote"),
        pytest.param("glob", "{test1.,test2}", id="glob-is-the-fallback"),
        pytest.param("join:&", "test1.&test2", id="join"),
        pytest.param("json", '["test1.","test2"]', id="json"),
        pytest.param("lucene", '("test1." OR "test2")', id="lucene"),
        pytest.param("pipe", "test1.|test2", id="pipe"),
        pytest.param("raw", "test1.,test2", id="raw"),
        pytest.param("regex", "(test1\\.|test2)", id="regex"),
        pytest.param("singlequote", "'test1.','test2'", id="singlequote"),
        pytest.param("text", "test1. + test2", id="text"),
        pytest.param("queryparam", "var-servers=test1.&var-servers=test2", id="queryparam"),
        pytest.param("customqueryparam:v-servers:x-", "v-servers=x-test1.&v-servers=x-test2", id="customqueryparam"),
    ],
)
def test_documented_formats(fmt: str, expected: str) -> None:
    assert format_value(SERVERS, fmt) == expected


def test_documented_percentencode_and_sqlstring() -> None:
    assert format_value(VariableValue("s", ("foo()bar BAZ", "test2"), multi=True), "percentencode") == (
        "foo%28%29bar%20BAZ%2Ctest2"
    )
    assert format_value(VariableValue("s", ("test'1", "test2"), multi=True), "sqlstring") == "'test''1','test2'"


def test_prometheus_default_multi_value_is_an_escaped_regex_alternation() -> None:
    instances = VariableValue("instance", ("127.0.0.1:9090", "127.0.0.1:9093"), multi=True)
    # inside a PromQL string the regex escape is doubled: "127\\.0" is the regex 127\.0
    assert format_value(instances) == "(127\\\\.0\\\\.0\\\\.1:9090|127\\\\.0\\\\.0\\\\.1:9093)"


def test_prometheus_default_one_selected_value_of_a_multi_variable_has_no_parentheses() -> None:
    assert format_value(VariableValue("job", ("api.v1",), multi=True)) == "api\\\\.v1"


def test_prometheus_default_single_value_variable_is_not_regex_escaped() -> None:
    # only backslashes and single quotes are escaped for a plain variable
    assert format_value(VariableValue("job", ("api.v1",))) == "api.v1"
    assert format_value(VariableValue("job", ("it's",))) == "it\\\\'s"


def test_all_expands_to_every_option_unless_a_custom_all_value_is_set() -> None:
    every = VariableValue("job", ("a", "b", "c"), multi=True, include_all=True, is_all=True)
    assert Expander({"job": every}).expand('up{job=~"$job"}') == 'up{job=~"(a|b|c)"}'
    custom = VariableValue("job", ("a", "b"), multi=True, include_all=True, is_all=True, all_value=".*")
    assert Expander({"job": custom}).expand('up{job=~"$job"}') == 'up{job=~".*"}'
    # the custom all value is not formatted ... except by text/queryparam/percentencode
    assert Expander({"job": custom}).expand("${job:regex}|${job:text}") == ".*|All"


def test_include_all_single_value_is_regex_escaped() -> None:
    value = VariableValue("job", ("a.b",), include_all=True)
    assert Expander({"job": value}).expand('up{job=~"$job"}') == 'up{job=~"a\\\\.b"}'


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('up{job="$job"}', id="dollar"),
        pytest.param('up{job="${job}"}', id="braces"),
        pytest.param('up{job="[[job]]"}', id="deprecated-brackets"),
    ],
)
def test_every_variable_syntax(text: str) -> None:
    assert Expander({"job": VariableValue("job", ("gateway",))}).expand(text) == 'up{job="gateway"}'


def test_format_in_brackets_and_braces() -> None:
    env = Expander({"servers": SERVERS})
    assert env.expand("[[servers:csv]] ${servers:pipe}") == "test1.,test2 test1.|test2"


def test_unknown_variables_are_left_as_written_and_reported() -> None:
    env = Expander({"job": VariableValue("job", ("gateway",))})
    # $varname cannot be used inside a word: $jobs is a variable called "jobs"
    assert env.expand('up{job="$jobs", x="${nope}"}') == 'up{job="$jobs", x="${nope}"}'
    assert env.unknown == ["jobs", "nope"]


def test_interval_from_range_and_resolution() -> None:
    # one hour over 1000 points = 3.6 s, rounded the way Grafana rounds: 5 s
    assert calculate_interval_ms(HOUR, 1000) == 5000
    # never below the min interval (the datasource's scrape interval)
    assert calculate_interval_ms(HOUR, 1000, low_limit_ms=15000) == 15000


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [(10, 10), (900, 1000), (1499, 1000), (3600, 5000), (12000, 10000), (50_000, 60_000), (200_000, 120_000)],
)
def test_round_interval(raw: float, rounded: int) -> None:
    assert round_interval_ms(raw) == rounded


def test_rate_interval_is_max_of_interval_plus_scrape_and_four_scrapes() -> None:
    short = query_interval(HOUR, max_data_points=1000, scrape_interval_ms=15000)
    assert (short.interval_ms, short.rate_interval_ms) == (15000, 60000)  # 4 x 15 s wins
    wide = query_interval(TimeRange(0, 7 * 86400), max_data_points=1000, scrape_interval_ms=15000)
    assert wide.interval_ms == 600_000  # 7 d / 1000 = 604.8 s -> 10 m
    assert wide.rate_interval_ms == 615_000  # $__interval + scrape interval wins
    # a query's "Min step" replaces the scrape interval in $__rate_interval
    stepped = query_interval(HOUR, max_data_points=1000, scrape_interval_ms=15000, min_step="30s")
    assert (stepped.interval_ms, stepped.rate_interval_ms) == (30000, 120000)


def test_macros_expand() -> None:
    env = Expander({}, interval=QueryInterval(15000, 60000), time_range=HOUR, dashboard_title="Gateway")
    text = "$__interval $__interval_ms $__rate_interval ${__rate_interval_ms} $__range $__range_s $__range_ms"
    assert env.expand(text) == "15s 15000 1m0s 60000 3600s 3600 3600000"
    assert env.expand("${__from:date:seconds} ${__to} $__dashboard") == "1700000000 1700003600000 Gateway"
    assert env.expand("${__from:date:iso}") == "2023-11-14T22:13:20.000Z"


def test_macros_can_be_left_to_grafana() -> None:
    env = Expander({"job": VariableValue("job", ("g",))}, keep_macros=True)
    assert env.expand('rate(x{job="$job"}[$__rate_interval])') == 'rate(x{job="g"}[$__rate_interval])'


def test_durations_as_grafana_writes_them() -> None:
    assert [format_interval(ms) for ms in (500, 15000, 90000, 7_200_000)] == ["500ms", "15s", "1m", "2h"]
    assert [format_go_duration(ms) for ms in (4000, 60000, 90500, 3_600_000)] == ["4s", "1m0s", "1m30.5s", "1h0m0s"]


def test_time_parsing() -> None:
    now = 1_700_000_000.0
    assert parse_time("now", now) == now
    assert parse_time("now-15m", now) == now - 900
    assert parse_time("now-1d/d", now) == (now - 86400) // 86400 * 86400
    assert parse_time("1700000000000", now) == now
    assert parse_time("2023-11-14T22:13:20Z", now) == now
    with pytest.raises(ValueError, match="not a Grafana time: 'yesterday'"):
        parse_time("yesterday", now)


def test_interval_parsing() -> None:
    assert interval_to_ms("1m30s") == 90000
    assert interval_to_ms(">10s") == 10000
    assert interval_to_ms("30") == 30000
    with pytest.raises(ValueError, match="not an interval"):
        interval_to_ms("5 minutes")


def test_variable_names_in_order_without_repeats() -> None:
    assert variable_names('x{a="$job", b="${instance:regex}", c="[[job]]"}[$__rate_interval]') == [
        "job",
        "instance",
        "__rate_interval",
    ]
