"""Every rule fires on a planted bad matrix, passes a planted good one, and honours its limit.

Values are compared with an independent reference computed with numpy on the same matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from weightlens.check import RULES, RULES_BY_NAME, CheckConfig, CheckRun, evaluate, load_config, required_passes, run_check
from weightlens.errors import ConfigError, UsageError
from weightlens.passes import PASSES
from weightlens.report.records import TensorRecord
from weightlens.testing import gaussian, geometric_spectrum, low_rank, prune_unstructured, with_spectrum


def erank(w: np.ndarray) -> float:
    s = np.linalg.svd(w, compute_uv=False)
    q = s / s.sum()
    return float(np.exp(-np.sum(q * np.log(q))))


def rms(w: np.ndarray) -> float:
    return float(np.sqrt(np.mean(w**2)))


def near_zero(rng: np.random.Generator) -> np.ndarray:
    w = gaussian(rng)
    w.reshape(-1)[rng.permutation(w.size)[: int(0.4 * w.size)]] *= 1e-6
    return w


def dead(rng: np.random.Generator, axis: int) -> np.ndarray:
    w = gaussian(rng)
    if axis == 0:
        w[rng.permutation(48)[:12]] = 0.0
    else:
        w[:, rng.permutation(32)[:8]] = 0.0
    return w


@dataclass(frozen=True)
class Case:
    """bad fails at ``limit`` and passes at ``loose``; good passes at ``limit``; ``reference`` = bad's value."""

    rule: str
    limit: float
    loose: float
    bad: Callable[[np.random.Generator], np.ndarray]
    good: Callable[[np.random.Generator], np.ndarray]
    reference: Callable[[np.ndarray], float]


CASES = [
    Case("max_condition", 100.0, 1e4, lambda g: with_spectrum(g, 48, 32, geometric_spectrum(32, 1e3)),
         lambda g: with_spectrum(g, 48, 32, geometric_spectrum(32, 10.0)), np.linalg.cond),
    Case("min_rank_ratio", 0.5, 0.2, lambda g: low_rank(g, 48, 32, 8), gaussian,
         lambda w: np.linalg.matrix_rank(w) / 32),
    Case("min_effective_rank_ratio", 0.5, 0.1, lambda g: with_spectrum(g, 48, 32, geometric_spectrum(32, 1e6)),
         lambda g: with_spectrum(g, 48, 32, np.ones(32)), lambda w: erank(w) / 32),
    Case("max_zero_fraction", 0.3, 0.6, lambda g: prune_unstructured(g, gaussian(g), 0.5), gaussian,
         lambda w: np.mean(w == 0)),
    Case("max_near_zero_fraction", 0.2, 0.5, near_zero, gaussian,
         lambda w: np.mean(np.abs(w) <= 1e-3 * rms(w))),
    Case("max_dead_rows", 0.1, 0.3, lambda g: dead(g, 0), gaussian, lambda w: np.mean(~w.any(axis=1))),
    Case("max_dead_cols", 0.1, 0.3, lambda g: dead(g, 1), gaussian, lambda w: np.mean(~w.any(axis=0))),
    Case("max_sigma_max", 2.0, 6.0, lambda g: with_spectrum(g, 48, 32, np.linspace(5.0, 1.0, 32)),
         lambda g: with_spectrum(g, 48, 32, np.linspace(1.0, 0.5, 32)), lambda w: np.linalg.norm(w, 2)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.rule)
def test_rule_fires_on_bad_and_passes_good(case: Case, rng, make_checkpoint, check) -> None:
    bad = case.bad(rng)
    path = make_checkpoint({"bad": bad, "good": case.good(rng)})
    result = check(path, **{case.rule: case.limit})
    [v] = result.violations
    assert (v.tensor, v.rule, v.limit) == ("bad", case.rule, case.limit)
    assert v.value == pytest.approx(case.reference(bad), rel=1e-6)  # rule values vs float64 references: F32 planted cases, u32-level storage rounding
    assert case.rule in v.message
    good = [o for o in result.outcomes if o.tensor == "good" and o.rule == case.rule]
    assert [o.status for o in good] == ["pass"]
    assert result.exit_code == 1
    assert check(path, **{case.rule: case.loose}).passed


def test_singular_matrix_has_infinite_condition(rng, make_checkpoint, check) -> None:
    path = make_checkpoint({"rank8": low_rank(rng, 48, 32, 8)})
    [v] = check(path, max_condition=1e12).violations
    assert v.value == math.inf
    assert "singular" in v.found and "singular" in v.message
    assert not check(path, max_condition=math.inf).violations


def test_nonfinite_fires_on_any_tensor_and_can_be_allowed(rng, make_checkpoint, check) -> None:
    w = gaussian(rng)
    w[1, 2] = np.nan
    w[3, 4] = np.inf
    bias = np.zeros(32)
    bias[0] = -np.inf
    path = make_checkpoint({"w": w, "bias": bias, "ok": gaussian(rng)})
    result = check(path)
    assert {(v.tensor, v.value) for v in result.violations} == {("w", 2), ("bias", 1)}
    assert "1 NaN, 1 Inf" in next(v.message for v in result.violations if v.tensor == "w")
    assert check(path, allow_nonfinite=True).passed


def test_nonfinite_matrix_is_not_evaluated_by_spectral_rules(rng, make_checkpoint, check) -> None:
    w = gaussian(rng)
    w[0, 0] = np.nan
    path = make_checkpoint({"w": w})
    result = check(path, allow_nonfinite=True, max_condition=10.0)
    assert result.passed
    [skip] = result.skipped
    assert (skip.rule, skip.message) == ("max_condition", "not evaluated: non-finite")


def test_all_zero_fires_on_matrices_only(rng, make_checkpoint, check) -> None:
    path = make_checkpoint({"zeros": np.zeros((8, 6)), "bias": np.zeros(6), "ok": gaussian(rng)})
    result = check(path)
    assert [(v.tensor, v.rule, v.value) for v in result.violations] == [("zeros", "allow_all_zero", True)]
    assert check(path, allow_all_zero=True).passed


def test_unreadable_tensor_is_a_violation(rng, make_checkpoint) -> None:
    path = make_checkpoint({"a": gaussian(rng), "z": gaussian(rng)})
    run = CheckRun([path], load_config({"max_condition": 1e6}, pyproject=False))
    with open(path, "r+b") as f:  # cut the file after the header was read: no longer the file it describes
        f.truncate(path.stat().st_size - 100)
    result = run.execute()
    assert [(v.tensor, v.rule) for v in result.violations] == [("a", "allow_unreadable"), ("z", "allow_unreadable")]
    assert all("could not be read" in v.message for v in result.violations)
    assert {(o.rule, o.message) for o in result.skipped} == {
        ("allow_nonfinite", "not evaluated: the tensor could not be read"),
        ("allow_all_zero", "not evaluated: the tensor could not be read"),
        ("max_condition", "not evaluated: the tensor could not be read"),
    }


def test_override_loosens_a_limit_by_glob(rng, make_checkpoint, tmp_path) -> None:
    spectrum = with_spectrum(rng, 48, 32, geometric_spectrum(32, 1e3))
    path = make_checkpoint({"model.embed_tokens.weight": spectrum, "layers.0.q.weight": spectrum.copy()})
    toml = tmp_path / "rules.toml"
    toml.write_text('max_condition = 100\n[[overrides]]\nmatch = "*embed*"\nmax_condition = 1e4\n')
    result = run_check(path, load_config(config_file=toml, pyproject=False))
    assert [v.tensor for v in result.violations] == ["layers.0.q.weight"]


def record(name: str = "t", shape: tuple[int, int] = (8, 8), **metrics: Any) -> TensorRecord:
    return TensorRecord(name, "f.safetensors", "F32", shape, shape[0] * shape[1], "matrix", shape, metrics=metrics)


def test_max_nmf_ratio_takes_the_worst_rank() -> None:
    # The nmf pass is developed separately; its records carry a list nmf of {rank, nmf_svd_ratio, ...}.
    bad = record("bad", nmf=[{"rank": 2, "nmf_svd_ratio": 1.05}, {"rank": 4, "nmf_svd_ratio": 1.6}])
    good = record("good", nmf=[{"rank": 2, "nmf_svd_ratio": 1.01}, {"rank": 4, "nmf_svd_ratio": 1.2}])
    none = record("none", nmf=[{"rank": 2, "nmf_svd_ratio": None}])
    config = load_config({"max_nmf_ratio": 1.5, "allow_nonfinite": True, "allow_all_zero": True, "allow_unreadable": True}, pyproject=False)
    outcomes = evaluate([bad, good, none], config)
    assert [(o.tensor, o.status, o.value) for o in outcomes] == [("bad", "fail", 1.6), ("good", "pass", 1.2), ("none", "skip", None)]


def test_max_nmf_ratio_end_to_end(rng, make_checkpoint) -> None:
    """The rule runs the nmf pass and compares the worst nmf/svd ratio that analyze reports."""
    from weightlens import AnalysisOptions, analyze

    path = make_checkpoint({"w": gaussian(rng), "v": gaussian(rng)})
    assert "nmf" in required_passes([RULES_BY_NAME["max_nmf_ratio"]])
    worst = {
        r.name: max(e["nmf_svd_ratio"] for e in r["nmf"])
        for r in analyze(path, AnalysisOptions(passes=("health", "spectrum", "rank", "nmf")))
    }
    limit = (worst["w"] + worst["v"]) / 2
    result = run_check(path, load_config({"max_nmf_ratio": limit}, pyproject=False))
    failing = {v.tensor: v.value for v in result.violations}
    assert set(failing) == {max(worst, key=worst.get)}
    assert failing[max(worst, key=worst.get)] == pytest.approx(max(worst.values()))  # the same record value: exact


@pytest.mark.parametrize(
    ("limits", "passes"),
    [
        ({}, ("health",)),
        ({"max_zero_fraction": 0.5}, ("health", "sparsity")),
        ({"max_condition": 10.0}, ("health", "condition")),
        ({"min_rank_ratio": 0.5, "max_sigma_max": 3.0}, ("health", "spectrum", "rank")),
    ],
)
def test_only_the_passes_the_rules_need_run(limits, passes, rng, make_checkpoint) -> None:
    path = make_checkpoint({"w": gaussian(rng)})
    run = CheckRun([path], load_config(limits, pyproject=False))
    assert run.options.passes == passes
    fields = {f.name for p in passes for f in PASSES[p].fields}
    result_fields: set[str] = set()
    run.execute(lambda r: result_fields.update(r.metrics))
    assert result_fields == fields - {"sigma"}


def test_every_rule_is_named_like_its_flag_and_validates_its_range() -> None:
    for rule in RULES:
        assert rule.flag == "--" + rule.name.replace("_", "-")
        assert rule.name.startswith(("max_", "min_", "allow_"))
        assert (rule.kind == "forbid") == rule.name.startswith("allow_")
        if rule.kind != "forbid":
            with pytest.raises(ConfigError, match=rule.name):
                rule.validate(rule.low - 1.0, "test")
            with pytest.raises(ConfigError, match=rule.name):
                rule.validate(float("nan"), "test")
            assert rule.validate(rule.low, "test") == rule.low


def test_no_rule_on_is_a_usage_error(rng, make_checkpoint) -> None:
    path = make_checkpoint({"w": gaussian(rng)})
    off = CheckConfig({r.name: (True if r.kind == "forbid" else None) for r in RULES})
    with pytest.raises(UsageError, match="every rule is off"):
        CheckRun([path], off)
