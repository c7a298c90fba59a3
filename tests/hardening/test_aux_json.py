"""Tracebacks: hostile JSON and TOML in the auxiliary files end in one line and exit 2.

Each generated case takes a valid shard index, adapter config, baseline or saved report, puts
a hostile value at a random place in it — JSON nested thousands deep (RecursionError) or just
past the depth limit, a 5000-digit integer (beyond Python's int-string limit), 10**400
(OverflowError on float conversion), NaN/Infinity (not JSON), 1e400 (overflows to inf),
bytes that are not UTF-8 — and runs the command that reads it. TOML configs (pyproject.toml
and --config) get the same treatment with TOML's own syntax. Saved reports also get their
shape broken ("summary": [], "options": [], sigma that is not numbers, fields of a pass
missing) for plot and report. The inputs must be unchanged after every command.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.hardening.inputs import snapshot, workspace
from weightlens.checkpoint.safeload import MAX_DEPTH
from weightlens.cli import app
from weightlens.errors import WeightlensError
from weightlens.report.io import read_report

runner = CliRunner()
SETTINGS = settings(max_examples=70, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SENTINEL = "\x00hostile\x00"
JSON_PAYLOADS = {
    "nested 5000 deep": b"[" * 5000 + b"]" * 5000,
    "nested past the limit": b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    "5000-digit integer": b"9" * 5000,
    "10**400": b"1" + b"0" * 400,
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "1e400": b"1e400",
    "not UTF-8": b'"\xff\xfe"',
}
# file -> the command reading it
JSON_FILES = {
    "idx/model.safetensors.index.json": ["inspect", "idx"],
    "ad/adapter_config.json": ["analyze", "ad", "-p", "health"],
    "base.json": ["check", "one.safetensors", "--baseline", "base.json", "--allow-appeared", "--allow-disappeared"],
    "base.json ": ["plot", "base.json", "-o", "figs"],  # the saved report again, read by plot
}




def places(doc: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in doc (the root excluded)."""
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    out = []
    for key, value in children:
        out += [(*at, key), *places(value, (*at, key))]
    return out


def with_payload(doc: Any, place: tuple[Any, ...], payload: bytes) -> bytes:
    """doc serialized with the value at ``place`` replaced by the raw JSON text ``payload``."""
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in place[:-1]:
        node = node[key]
    node[place[-1]] = SENTINEL
    return json.dumps(doc).encode().replace(json.dumps(SENTINEL).encode(), payload)


def assert_one_line_error(result: Any, *expected: str) -> None:
    assert result.exit_code == 2, (result.exception, result.output)
    assert result.stderr.startswith("weightlens: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert all(e in result.stderr for e in expected), result.stderr


@SETTINGS
@given(st.sampled_from(sorted(JSON_FILES)), st.sampled_from(sorted(JSON_PAYLOADS)), st.data())
def test_hostile_values_in_json_files(template: Path, file: str, payload: str, data: st.DataObject) -> None:
    with workspace(template) as root:
        path = root / file.strip()
        doc = json.loads(path.read_text())
        place = data.draw(st.sampled_from(places(doc)), label="place")
        path.write_bytes(with_payload(doc, place, JSON_PAYLOADS[payload]))
        before = snapshot(root)
        result = runner.invoke(app, JSON_FILES[file])
        assert_one_line_error(result, path.name)
        assert snapshot(root) == before


TOML_PAYLOADS = {
    "5000-digit integer": b"9" * 5000,
    "10**400": b"1" + b"0" * 400,
    "arrays 5000 deep": b"[" * 5000 + b"]" * 5000,
    "arrays past the limit": b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    "not UTF-8": b'"\xff\xfe"',
}


@pytest.mark.parametrize("payload", sorted(TOML_PAYLOADS))
@pytest.mark.parametrize("where", ["pyproject rule", "pyproject other table", "--config rule"])
def test_hostile_values_in_toml_files(template: Path, where: str, payload: str) -> None:
    with workspace(template) as root:
        value = TOML_PAYLOADS[payload]
        if where == "pyproject rule":
            (root / "cwd" / "pyproject.toml").write_bytes(b"[tool.weightlens]\nmax_condition = " + value + b"\n")
        elif where == "pyproject other table":
            (root / "cwd" / "pyproject.toml").write_bytes(b"[tool.weightlens]\nmax_dead_rows = 1.0\n[tool.other]\nx = " + value + b"\n")
        else:
            (root / "rules.toml").write_bytes(b"max_condition = " + value + b"\n")
        before = snapshot(root)
        with contextlib.chdir(root / "cwd"):
            result = runner.invoke(app, ["check", str(root / "one.safetensors"), "--config", str(root / "rules.toml")])
        if where == "pyproject other table" and payload == "10**400":
            assert result.exit_code == 0, result.output  # valid TOML, and not weightlens' table
        else:
            assert_one_line_error(result, "pyproject.toml" if where.startswith("pyproject") else "rules.toml")
        assert snapshot(root) == before


BROKEN_SHAPES = {
    "summary is a list": lambda d: d.update(summary=[]),
    "options is a list": lambda d: d.update(options=[]),
    "sigma is not numbers": lambda d: d["tensors"][0].update(sigma=["x", "y"]),
    "sigma of the wrong length": lambda d: d["tensors"][0].update(sigma=d["tensors"][0]["sigma"][:1]),
    "matrix_shape of one number": lambda d: d["tensors"][0].update(matrix_shape=[8]),
    "a condition field missing": lambda d: d["tensors"][0].pop("condition_number"),
    "a spectrum field missing": lambda d: d["tensors"][1].pop("sigma_max"),
    "options of the wrong type": lambda d: d["options"].update(top_k="many"),
    "include not a list of globs": lambda d: d["options"].update(include=5),
    "tensors is an object": lambda d: d.update(tensors={}),
}


@pytest.mark.parametrize("command", ["plot", "report"])
@pytest.mark.parametrize("broken", sorted(BROKEN_SHAPES))
def test_saved_reports_of_the_wrong_shape(template: Path, broken: str, command: str) -> None:
    with workspace(template) as root:
        doc = json.loads((root / "base.json").read_text())
        BROKEN_SHAPES[broken](doc)
        (root / "base.json").write_text(json.dumps(doc))
        before = snapshot(root)
        result = runner.invoke(app, [command, "base.json", "-o", "out"])
        assert_one_line_error(result, "base.json", "not a weightlens analyze report")
        assert snapshot(root) == before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_saved_reports_are_read_whole_or_refused(template: Path, data: st.DataObject) -> None:
    """Any value anywhere: read_report gives a report its readers can use (the summary recomputed,
    every record's fields consistent), or raises weightlens' own error."""
    doc = json.loads((template / "base.json").read_text())
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        place = data.draw(st.sampled_from(places(doc)), label="place")
        if data.draw(st.booleans(), label="delete"):
            node = doc
            for key in place[:-1]:
                node = node[key]
            del node[place[-1]]
        else:
            doc = json.loads(with_payload(doc, place, json.dumps(data.draw(json_values, label="value")).encode()))
        if not places(doc):
            break
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "r.json"
        path.write_text(json.dumps(doc))
        try:
            report = read_report(path)
        except WeightlensError as e:
            assert "\n" not in str(e) and str(path) in str(e)
            return
        json.dumps(report.to_dict(), allow_nan=False)
        for r in report.tensors:
            assert r.matrix_shape is None or len(r.matrix_shape) == 2
            if "sigma" in r.metrics:
                assert r.matrix_shape is not None and len(r["sigma"]) == min(r.matrix_shape)


def test_report_from_a_saved_fast_spectrum_report(template: Path) -> None:
    """A partial spectrum (--spectrum fast) leaves effective_rank null: the overview must skip it, not crash."""
    with workspace(template) as root:
        doc = json.loads((root / "base.json").read_text())
        for t in doc["tensors"]:
            if "sigma" in t:
                del t["sigma"]
                t.update(effective_rank=None, spectrum_exact=False, svd_route="lanczos")
        (root / "fast.json").write_text(json.dumps(doc))
        result = runner.invoke(app, ["report", "fast.json", "-o", "r.html", "-q"])
        assert result.exit_code == 0, (result.exception, result.output)
        assert (root / "r.html").stat().st_size > 0
