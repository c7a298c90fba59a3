"""Baseline rules: regressions against a saved analyze report; appeared and disappeared tensors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from weightlens import analyze
from weightlens.check import load_baseline, load_config, run_check
from weightlens.check.rules import RULES_BY_NAME
from weightlens.errors import InputError, UsageError
from weightlens.passes.options import AnalysisOptions
from weightlens.render.json import render_json
from weightlens.report.records import TensorRecord
from weightlens.testing import gaussian, geometric_spectrum, low_rank, with_spectrum, write_safetensors

LIMITS = {"max_condition_growth": 10.0, "max_rank_ratio_drop": 0.1, "max_sigma_max_change": 20.0}


@pytest.fixture
def versions(rng, tmp_path: Path) -> dict[str, object]:
    """A checkpoint v1, its analyze report, and a v2 with planted regressions (all F64)."""
    a1 = with_spectrum(rng, 24, 16, geometric_spectrum(16, 10.0))
    a2 = with_spectrum(rng, 24, 16, geometric_spectrum(16, 1e3))  # κ grows 100×
    b1 = gaussian(rng, 24, 16)
    b2 = low_rank(rng, 24, 16, 4, scale=np.linalg.norm(b1, 2))  # rank 16 -> 4 (drop 0.75, singular), same σ1
    c1 = with_spectrum(rng, 24, 16, np.linspace(1.0, 0.5, 16))
    c2 = 1.5 * c1  # σ1 +50 %, κ unchanged
    d = gaussian(rng, 24, 16)
    v1 = write_safetensors(tmp_path / "v1.safetensors", {"a": a1, "b": b1, "c": c1, "d": d, "gone": gaussian(rng, 24, 16)})
    v2 = write_safetensors(tmp_path / "v2.safetensors", {"a": a2, "b": b2, "c": c2, "d": d, "new": gaussian(rng, 24, 16)})
    report = tmp_path / "v1.json"
    report.write_text(render_json(analyze(v1)))
    return {"v1": v1, "v2": v2, "report": report, "a": (a1, a2), "b": (b1, b2), "c": (c1, c2)}


def test_regressions_are_detected(versions) -> None:
    result = run_check(versions["v2"], load_config(LIMITS, pyproject=False), baseline=versions["report"])
    found = {(v.tensor, v.rule): v.value for v in result.violations}
    a1, a2 = versions["a"]
    b1, b2 = versions["b"]
    c1, c2 = versions["c"]
    assert set(found) == {
        ("a", "max_condition_growth"),
        ("b", "max_condition_growth"),
        ("b", "max_rank_ratio_drop"),
        ("c", "max_sigma_max_change"),
        ("new", "allow_appeared"),
        ("gone", "allow_disappeared"),
    }
    assert found["a", "max_condition_growth"] == pytest.approx(np.linalg.cond(a2) / np.linalg.cond(a1), rel=1e-6)  # κ ratio vs numpy's float64 cond of the F32-stored matrices: both ≤ max(m,n)·eps64·κ relative
    assert found["b", "max_condition_growth"] == math.inf
    drop = (np.linalg.matrix_rank(b1) - np.linalg.matrix_rank(b2)) / 16
    assert found["b", "max_rank_ratio_drop"] == pytest.approx(drop)  # a difference of rank ratios (integers / p): one rounding
    sigma = np.linalg.norm(c2, 2), np.linalg.norm(c1, 2)
    assert found["c", "max_sigma_max_change"] == pytest.approx(100 * (sigma[0] - sigma[1]) / sigma[1], rel=1e-9)  # σ1 of F32 data by float64 gesdd: ≤ max(m,n)·eps64·σ1 ≪ 1e-9
    messages = {v.rule: v.message for v in result.violations}
    assert "became singular" in next(v.found for v in result.violations if v.tensor == "b" and v.rule == "max_condition_growth")
    assert messages["allow_disappeared"] == "tensor is in the baseline but missing (allow_disappeared = false)"
    assert result.failed_tensors == 5 and result.tensors == 5


def test_same_checkpoint_passes_its_own_baseline(versions) -> None:
    result = run_check(versions["v1"], load_config(LIMITS, pyproject=False), baseline=versions["report"])
    assert result.passed, result.violations
    growth = [o.value for o in result.outcomes if o.rule == "max_condition_growth"]
    assert growth == pytest.approx([1.0] * 5)  # identical checkpoints: growth = 1 exactly, up to one rounding


def test_appeared_and_disappeared_can_be_allowed(versions) -> None:
    limits = {**LIMITS, "allow_appeared": True, "allow_disappeared": True}
    result = run_check(versions["v2"], load_config(limits, pyproject=False), baseline=versions["report"])
    assert {v.rule for v in result.violations} == {"max_condition_growth", "max_rank_ratio_drop", "max_sigma_max_change"}


def test_filters_apply_to_the_baseline_too(versions) -> None:
    result = run_check(
        versions["v2"], load_config(pyproject=False), baseline=versions["report"], include=["a", "gone", "new"], exclude=["gone"]
    )
    assert [(v.tensor, v.rule) for v in result.violations] == [("new", "allow_appeared")]


def test_a_baseline_rule_needs_its_pass_in_the_baseline(versions, tmp_path: Path) -> None:
    thin = tmp_path / "thin.json"
    thin.write_text(render_json(analyze(versions["v1"], AnalysisOptions(passes=("health", "sparsity")))))
    with pytest.raises(
        UsageError,
        match="max_condition_growth compares condition_number, singular with the baseline, but .*thin.json was written without the condition pass",
    ):
        run_check(versions["v2"], load_config({"max_condition_growth": 2.0}, pyproject=False), baseline=thin)
    # The presence rules need no pass.
    result = run_check(versions["v2"], load_config(pyproject=False), baseline=thin)
    assert {v.rule for v in result.violations} == {"allow_appeared", "allow_disappeared"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "cannot read baseline: invalid JSON"),
        ('{"tensors": []}', "not a weightlens analyze report: top level: 'schema_version' is a required property"),
        ("[1, 2]", "not a weightlens analyze report"),
    ],
)
def test_bad_baseline_files(text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(text)
    with pytest.raises(InputError, match=problem):
        load_baseline(path)


def test_baseline_with_a_wrong_field_type_names_the_field(versions, tmp_path: Path) -> None:
    doc = json.loads(versions["report"].read_text())
    doc["tensors"][1]["condition_number"] = "large"
    path = tmp_path / "base.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"tensors\[1\].condition_number: 'large' is not of type"):
        load_baseline(path)


def test_baseline_naming_a_tensor_twice(versions, tmp_path: Path) -> None:
    doc = json.loads(versions["report"].read_text())
    doc["tensors"].append(doc["tensors"][0])
    path = tmp_path / "base.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="tensor 'a' appears twice"):
        load_baseline(path)


def test_missing_baseline_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read baseline"):
        load_baseline(tmp_path / "nope.json")


def rec(**metrics: object) -> TensorRecord:
    return TensorRecord("t", "f", "F32", (4, 4), 16, "matrix", (4, 4), metrics=dict(metrics))


@pytest.mark.parametrize(
    ("now", "before", "growth"),
    [
        ({"condition_number": 30.0, "singular": False}, {"condition_number": 10.0, "singular": False}, 3.0),
        ({"condition_number": None, "singular": True}, {"condition_number": 10.0, "singular": False}, math.inf),
        ({"condition_number": None, "singular": True}, {"condition_number": None, "singular": True}, 1.0),
        ({"condition_number": 10.0, "singular": False}, {"condition_number": None, "singular": True}, 0.0),
        ({}, {"condition_number": 10.0, "singular": False}, None),
    ],
)
def test_condition_growth_with_singular_matrices(now, before, growth) -> None:
    assert RULES_BY_NAME["max_condition_growth"].measure(rec(**now), rec(**before)) == growth


@pytest.mark.parametrize(("now", "before", "change"), [(1.5, 1.0, 50.0), (0.5, 1.0, 50.0), (0.0, 0.0, 0.0), (1.0, 0.0, math.inf)])
def test_sigma_max_change_is_symmetric_percent(now, before, change) -> None:
    assert RULES_BY_NAME["max_sigma_max_change"].measure(rec(sigma_max=now), rec(sigma_max=before)) == change
