"""The one loader of the user's YAML and JSON files: limits, located one-line errors, and the real files pass."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from obs_tests.core.yamlfile import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    load_json,
    load_located,
    load_located_all,
    load_located_text,
    read_text,
    shown,
)
from obs_tests.errors import ConfigInvalid, InputError

ROOT = Path(__file__).resolve().parents[2]


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The classic "billion laughs": each level a list of ``width`` aliases of the level before (~350 bytes)."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = ["a: &a [" + ",".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        name, previous = names[level], names[level - 1]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * width) + "]")
    return "\n".join(lines) + "\n"


def refused(text: str) -> str:
    with pytest.raises(InputError) as info:
        load_located_text(text, "in.yaml")
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_alias_bomb_is_refused_fast_at_the_alias_that_crosses_the_budget() -> None:
    bomb = alias_bomb()
    assert len(bomb) < 400
    started = time.monotonic()
    message = refused(bomb)
    assert time.monotonic() - started < 0.5
    assert message.startswith("in.yaml:6: YAML aliases expand to more than 100,000 nodes"), message
    assert "write the data out or use fewer nested aliases" in message


def test_aliases_within_the_budget_are_read() -> None:
    doc = load_located_text(alias_bomb(levels=4, width=9), "in.yaml")
    assert len(doc.data["d"]) == 9 and doc.data["d"][0][0][0] == ["lol"] * 9
    merged = load_located_text("base: &b {a: 1}\nx:\n  <<: *b\n  c: 2\n", "in.yaml")
    assert merged.data["x"] == {"a": 1, "c": 2}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a: &a [*a]\n", "in.yaml:1: alias *a is used inside its own anchor", id="recursive-list"),
        pytest.param("a: &a\n  b: *a\n", "in.yaml:2: alias *a is used inside its own anchor", id="recursive-map"),
        pytest.param(
            "a: !!python/object/apply:os.system [echo]\n",
            "in.yaml:1: tag '!!python/object/apply:os.system' is not allowed — obs-tests reads plain YAML data only",
            id="python-tag",
        ),
        pytest.param("a: !vault x\n", "in.yaml:1: tag '!vault' is not allowed", id="custom-tag"),
        pytest.param("a: " + "[" * 150 + "]" * 150, f"in.yaml:1: nested more than {MAX_DEPTH} levels", id="deep"),
        pytest.param("a: 1\nb: " + "9" * 5000, "in.yaml:2: a number of 5,000 characters", id="long-number"),
        pytest.param("a: 1\na: 2\n", "in.yaml:2: key 'a' appears twice", id="duplicate-key"),
        pytest.param("a: 1\nb: \x00\n", "in.yaml:2: not valid YAML: control characters are not allowed", id="nul"),
        pytest.param("a: [1,\n", "in.yaml:2: not valid YAML:", id="unclosed-list"),
        pytest.param("a: *nothing\n", "in.yaml:1: not valid YAML: found undefined alias", id="undefined-alias"),
        pytest.param("a: &x 1\nb: &x 2\n", "in.yaml:2: anchor 'x' is defined twice (first at line 1)", id="anchor"),
        pytest.param("a: 1\n---\nb: 2\n", "in.yaml:3: a second YAML document starts here", id="two-documents"),
    ],
)
def test_hostile_yaml_is_refused_in_one_located_line(text: str, expected: str) -> None:
    assert refused(text).startswith(expected)


def test_plain_yaml_and_exponent_floats_are_read() -> None:
    doc = load_located_text("a: 1e300\nb: -2E3\nc: 1.5e-3\nd: 1e\ne: '1e3'\nf: 0x1F\ng: 1.0e+3\n", "in.yaml")
    assert doc.data == {"a": 1e300, "b": -2000.0, "c": 0.0015, "d": "1e", "e": "1e3", "f": 31, "g": 1000.0}
    assert doc.line_of(("g",)) == 7


def test_file_larger_than_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    started = time.monotonic()
    with pytest.raises(ConfigInvalid, match=r"big.yaml: 10,000,001 bytes — obs-tests reads files of at most "):
        load_located(big, error=ConfigInvalid)
    assert time.monotonic() - started < 0.5
    exact = tmp_path / "exact.yaml"
    exact.write_text("a: 1\n" + "#" * (MAX_FILE_BYTES - 6) + "\n")
    assert load_located(exact).data == {"a": 1}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            b"a: 1\nb: caf\xe9\n", "x.yaml:2: not UTF-8 text (byte 0xe9) — save the file as UTF-8", id="latin"
        ),
        pytest.param("a: 1\n".encode("utf-16"), "x.yaml:1: UTF-16 text — save the file as UTF-8", id="utf-16"),
    ],
)
def test_text_that_is_not_utf8_is_located(tmp_path: Path, raw: bytes, expected: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(raw)
    with pytest.raises(InputError) as info:
        read_text(path)
    assert str(info.value) == f"{tmp_path}/{expected}"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_located(path).data == {"a": 1}


def test_missing_file_and_directory_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.yaml: file not found — check the path"):
        load_located(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="is a directory, expected a file"):
        load_located(tmp_path)


def test_multi_document_files_keep_absolute_lines(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text("groups: []\n---\ngroups:\n  - name: x\n")
    first, second = load_located_all(path)
    assert first.data == {"groups": []}
    assert second.line_of(("groups", 0, "name")) == 4
    path.write_text("a: &a [1]\n---\nb: *a\n")  # anchors do not cross documents
    with pytest.raises(InputError, match=r"rules.yml:3: not valid YAML: found undefined alias"):
        load_located_all(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('{"a":\n  NaN}', "d.json:2: not valid JSON: NaN is not a JSON number", id="nan"),
        pytest.param('{"a": -Infinity}', "d.json:1: not valid JSON: -Infinity is not a JSON number", id="infinity"),
        pytest.param('{"a": 1e400}', "d.json:1: not valid JSON: 1e400 is beyond the range of a number", id="overflow"),
        pytest.param('{"a": ' + "1" * 5000 + "}", "d.json: not valid JSON: a number of thousands of digits", id="long"),
        pytest.param("[" * 150 + "]" * 150, "d.json: nested 150 levels deep — at most 100", id="deep"),
        pytest.param("[" * 100_000 + "]" * 100_000, "d.json: nested too deeply", id="very-deep"),
        pytest.param('{"a": 1,}', "d.json:1:9: not valid JSON: Expecting property name", id="trailing-comma"),
    ],
)
def test_hostile_json_is_refused_in_one_located_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "d.json"
    path.write_text(text)
    with pytest.raises(ConfigInvalid) as info:
        load_json(path, error=ConfigInvalid, shown_as="d.json")
    assert str(info.value).startswith(expected), str(info.value)


def test_json_is_read(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"panels": [{"id": 1, "value": 1e300}], "title": "NaN"}))
    assert load_json(path) == {"panels": [{"id": 1, "value": 1e300}], "title": "NaN"}


def test_every_file_of_the_repository_passes_the_limits() -> None:
    yaml_files = [
        p
        for folder in ("prometheus", "alertmanager", "scenarios", "tests/fixtures/races")
        for p in (ROOT / folder).rglob("*.y*ml")
    ]
    assert len(yaml_files) > 20
    for path in [ROOT / "obs.yaml", ROOT / "docker-compose.yml", *yaml_files]:
        load_located_all(path)
    for path in (ROOT / "grafana_dashboards").glob("*.json"):
        load_json(path)


def test_a_community_sized_dashboard_passes(tmp_path: Path) -> None:
    """A 4 MB dashboard (big community dashboards are a few MB) is read; 1 MB of it through the YAML locator
    (used for line numbers when a dashboard has schema errors) in a few seconds."""
    panel = {
        "type": "timeseries",
        "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
        "targets": [{"expr": 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))', "refId": "A"}],
        "fieldConfig": {"defaults": {"unit": "percent", "thresholds": {"steps": [{"color": "red", "value": 80}]}}},
    }
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"panels": [{**panel, "id": i} for i in range(9000)]}, indent=2))
    assert 3_000_000 < path.stat().st_size < MAX_FILE_BYTES
    assert len(load_json(path)["panels"]) == 9000
    path.write_text(json.dumps({"panels": [{**panel, "id": i} for i in range(2000)]}, indent=2))
    assert load_located(path).line_of(("panels", 1999, "id")) is not None


def test_alias_budget_counts_merge_keys() -> None:
    base = "base: &b {" + ", ".join(f"k{i}: {i}" for i in range(1000)) + "}\n"
    items = "".join(f"i{i}: {{<<: *b}}\n" for i in range(MAX_ALIAS_NODES // 2000 + 1))
    assert refused(base + items).startswith("in.yaml:")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("a\nb", '"a\\nb"', id="newline"),
        pytest.param("x" * 100, '"' + "x" * 58 + "…", id="long"),
        pytest.param(float("nan"), "NaN", id="nan"),
        pytest.param(float("-inf"), "-infinity", id="minus-inf"),
        pytest.param(1e300, "1e+300", id="big"),
        pytest.param("htp://admin:hunter2@grafana:3000/x", '"htp://grafana:3000/x"', id="url-credentials"),
        pytest.param({"url": "https://t0k3n@host"}, '{"url": "https://host"}', id="nested-url"),
    ],
)
def test_shown_values_fit_on_one_line(value: object, expected: str) -> None:
    assert shown(value) == expected
