"""CI gate bypass: no rule passes on a value that is missing or not a finite number.

A comparison with NaN is false, so ``value > limit`` with a NaN value or baseline let every
tensor pass. A baseline file holding NaN, ±Infinity or an out-of-range number is an input error
(exit 2) wherever the number sits; in the library, a rule whose value or baseline value is NaN,
missing or (for a baseline) infinite is "not evaluated", counted, and fails under ``strict``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.hardening.inputs import build_inputs, snapshot
from weightlens.check import RULES, CheckConfig, load_config, run_check
from weightlens.check.evaluate import evaluate_record
from weightlens.cli import app
from weightlens.report.io import read_report
from weightlens.report.records import TensorRecord
from weightlens.testing import write_safetensors

runner = CliRunner()
FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "1" + "0" * 400]
BASELINE_RULES = ["--max-condition-growth", "10", "--max-sigma-max-change", "25", "--max-rank-ratio-drop", "0.1"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inputs")
    build_inputs(root)
    return root


def numbers(doc: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every number (not boolean) in doc."""
    if isinstance(doc, (int, float)) and not isinstance(doc, bool):
        return [at]
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    return [p for k, v in children for p in numbers(v, (*at, k))]


@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=FIXTURE_OK)
@given(st.sampled_from(TOKENS), st.data())
def test_non_finite_numbers_in_a_baseline_are_input_errors(template: Path, token: str, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "w"
        shutil.copytree(template, root)
        doc = json.loads((root / "base.json").read_text())
        place = data.draw(st.sampled_from(numbers(doc)), label="number")
        node = doc
        for key in place[:-1]:
            node = node[key]
        node[place[-1]] = "\x00"
        (root / "base.json").write_text(json.dumps(doc).replace('"\\u0000"', token))
        before = snapshot(root)
        with contextlib.chdir(root):
            result = runner.invoke(app, ["check", "one.safetensors", "--baseline", "base.json", *BASELINE_RULES])
        assert result.exit_code == 2, (place, result.exception, result.output)
        assert result.stderr.startswith("weightlens: error: base.json: cannot read baseline: ") and result.stderr.count("\n") == 1, result.stderr
        assert snapshot(root) == before


def test_nan_sigma_in_a_baseline_no_longer_passes(template: Path) -> None:
    """The reported case: sigma_max and condition_number NaN made the gate pass where numbers fail."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        doc = json.loads((template / "base.json").read_text())
        for t in doc["tensors"]:
            t["sigma_max"] = 1e-6  # real numbers: every tensor fails σ1 change and κ growth
            t["condition_number"], t["singular"] = 1.0, False
        (root / "real.json").write_text(json.dumps(doc))
        text = json.dumps(doc).replace("1e-06", "NaN").replace('"condition_number": 1.0', '"condition_number": NaN')
        (root / "nan.json").write_text(text)
        args = ["check", str(template / "one.safetensors"), "--max-sigma-max-change", "25", "--max-condition-growth", "2"]
        assert runner.invoke(app, [*args, "--baseline", str(root / "real.json")]).exit_code == 1
        result = runner.invoke(app, [*args, "--baseline", str(root / "nan.json")])
        assert result.exit_code == 2 and "NaN is not a JSON number" in result.stderr, result.output


@pytest.fixture(scope="module")
def records(template: Path) -> list[TensorRecord]:
    """Real records with every field the rules read (a check of one.safetensors with all passes)."""
    return [r for r in read_report(template / "base.json").tensors if r.analyzed]


NUMBER_RULES = [r for r in RULES if r.kind != "forbid"]


def _poison(record: TensorRecord, field: str, how: str) -> TensorRecord:
    metrics = dict(record.metrics)
    if field in ("condition_number", "singular"):
        field, metrics["singular"] = "condition_number", False  # else κ = ∞ and condition_number is not read
    if field == "nmf":
        entries = [dict(e) for e in metrics.get("nmf") or [{"rank": 1, "nmf_svd_ratio": 1.5}]]
        entries[0]["nmf_svd_ratio"] = math.nan if how == "nan" else None
        metrics["nmf"] = entries
    elif how == "missing":
        metrics.pop(field, None)
    else:
        metrics[field] = {"nan": math.nan, "none": None, "inf": math.inf, "-inf": -math.inf}[how]
    return dataclasses.replace(record, metrics=metrics)


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=FIXTURE_OK)
@given(st.sampled_from(NUMBER_RULES), st.data())
def test_a_rule_never_passes_on_a_missing_or_nan_value(records: list[TensorRecord], rule: Any, data: st.DataObject) -> None:
    record = data.draw(st.sampled_from(records), label="record")
    base = dataclasses.replace(record, metrics={**record.metrics, "nmf": [{"rank": 1, "nmf_svd_ratio": 1.5}]})
    now = base
    field = data.draw(st.sampled_from([f for f in rule.fields if f != "singular"] or ["nmf"]), label="field")
    side = data.draw(st.sampled_from(["now", "baseline"] if rule.baseline else ["now"]), label="side")
    hows = ["nan", "none", "missing"] + (["inf", "-inf"] if side == "baseline" and field != "condition_number" else [])
    how = data.draw(st.sampled_from(hows), label="how")
    if side == "now":
        now = _poison(now, field, how)
    else:
        base = _poison(base, field, how)
    hi = min(rule.high, 1e6)
    limit = data.draw(st.floats(rule.low, hi) if hi > rule.low else st.just(rule.low), label="limit")
    config = CheckConfig(limits={r.name: (limit if r is rule else None) for r in RULES})
    (outcome,) = evaluate_record(now, config, [rule], base)
    assert outcome.status == "skip", (outcome, field, side, how)
    assert outcome.message.startswith("not evaluated: "), outcome.message


def test_strict_fails_on_checks_not_evaluated(tmp_path: Path) -> None:
    """A NaN matrix has no κ: without --strict the κ rule is "not evaluated" and the gate passes."""
    w = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    w[0, 0] = np.nan
    path = write_safetensors(tmp_path / "nan.safetensors", {"w": w})
    args = ["check", str(path), "--allow-nonfinite", "--max-condition", "1e4", "--isolated"]
    lenient = runner.invoke(app, args)
    assert lenient.exit_code == 0 and "1 check not evaluated" in lenient.stdout, lenient.output
    strict = runner.invoke(app, [*args, "--strict"])
    assert strict.exit_code == 1, strict.output
    assert "1 check not evaluated, which fails under --strict" in strict.stdout, strict.stdout
    doc = json.loads(runner.invoke(app, [*args, "--strict", "-f", "json"]).stdout)
    assert doc["summary"]["passed"] is False and doc["summary"]["strict"] is True and doc["summary"]["not_evaluated"] == 1
    result = run_check(path, load_config({"allow_nonfinite": True, "max_condition": 1e4}, pyproject=False), strict=True)
    assert result.exit_code == 1 and not result.violations and len(result.skipped) == 1
