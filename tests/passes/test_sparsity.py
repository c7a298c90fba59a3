"""Sparsity fields against direct numpy computations on planted patterns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.passes.helpers import analyze_array, stored
from weightlens.testing import prune_2_4, prune_unstructured


def test_exact_zero_fraction_counts_negative_zero(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((40, 25)).astype(np.float32)
    w.reshape(-1)[:100] = 0.0
    w.reshape(-1)[100:150] = -0.0
    rec = analyze_array(tmp_path, w)
    assert rec["zero_fraction"] == pytest.approx(150 / 1000)  # a ratio of counts: one division's rounding


@pytest.mark.parametrize("dtype", ["BF16", "F8_E4M3", "F16"])
def test_zero_fraction_on_stored_bits(tmp_path, rng, dtype: str) -> None:  # type: ignore[no-untyped-def]
    w = prune_unstructured(rng, rng.standard_normal((32, 64)), 0.5)
    expected = np.mean(stored(w, dtype) == 0)  # F8 also flushes |w| < 2^-10 to zero
    assert 0.5 <= expected < 0.51
    assert analyze_array(tmp_path, w, dtype)["zero_fraction"] == pytest.approx(expected)  # as above


def test_near_zero_fraction(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((64, 64))
    w[:4] *= 1e-5
    rec = analyze_array(tmp_path, w, near_zero_tau=1e-3)
    rms = math.sqrt(np.mean(w**2))
    assert rec["near_zero_fraction"] == pytest.approx(np.mean(np.abs(w) <= 1e-3 * rms))  # as above
    assert rec["near_zero_fraction"] >= 4 / 64
    assert rec["near_zero_tau"] == 1e-3


def test_dead_rows_and_columns(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((20, 30))
    w[[1, 5, 7]] = 0
    w[:, [0, 29]] = 0
    rec = analyze_array(tmp_path, w)
    assert rec["dead_rows"] == pytest.approx(3 / 20) and rec["dead_cols"] == pytest.approx(2 / 30)  # as above


def test_dead_outputs_of_a_conv_kernel(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((8, 3, 3, 3))
    w[2] = 0
    rec = analyze_array(tmp_path, w)
    assert rec.kind == "reshaped" and rec.matrix_shape == (8, 27) and rec["dead_rows"] == pytest.approx(1 / 8)  # as above


def test_2_4_fraction(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((16, 32))
    assert analyze_array(tmp_path, prune_2_4(w))["nm_2_4_fraction"] == 1.0
    assert analyze_array(tmp_path, w)["nm_2_4_fraction"] == 0.0
    half = prune_2_4(w)
    half[:8] = w[:8]  # half the rows dense again
    assert analyze_array(tmp_path, half)["nm_2_4_fraction"] == pytest.approx(0.5)  # as above
    unstructured = prune_unstructured(rng, w, 0.5)
    groups = unstructured.reshape(-1, 4)
    expected = np.mean(np.sum(groups == 0, axis=1) >= 2)
    assert analyze_array(tmp_path, unstructured)["nm_2_4_fraction"] == pytest.approx(expected)  # as above
    assert 0 < expected < 1


def test_2_4_ignores_a_trailing_partial_group(tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = np.ones((2, 6))
    w[:, :2] = 0  # each row: [0 0 1 1 | 1 1] -> the whole group complies
    assert analyze_array(tmp_path, w)["nm_2_4_fraction"] == 1.0
    assert analyze_array(tmp_path, np.zeros((4, 3)))["nm_2_4_fraction"] is None


def test_hoyer_extremes_and_formula(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    assert analyze_array(tmp_path, np.ones((8, 8)))["hoyer"] == pytest.approx(0.0, abs=1e-12)  # float64 norms of N equal terms: ≤ N·eps64 ≪ 1e-12
    spike = np.zeros((8, 8))
    spike[3, 4] = -2.5
    assert analyze_array(tmp_path, spike)["hoyer"] == pytest.approx(1.0)  # a single spike: ‖w‖1 = ‖w‖2 exactly, one rounding of √N
    w = rng.standard_normal((30, 40))
    n = w.size
    expected = (math.sqrt(n) - np.abs(w).sum() / np.linalg.norm(w)) / (math.sqrt(n) - 1)
    assert analyze_array(tmp_path, w)["hoyer"] == pytest.approx(expected, rel=1e-12)  # float64 sums of N terms: ≤ N·eps64 ≪ 1e-12


def test_elementwise_passes_on_vectors_and_integers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, np.array([0, 0, 3, 4], np.int64))
    assert rec.kind == "non-float" and rec["zero_fraction"] == 0.5 and rec["max_abs"] == 4 and rec["dead_rows"] is None
    assert "numerical_rank" not in rec.metrics
    rec = analyze_array(tmp_path, np.array([0.0, 1.0, 0.0, 0.0], np.float32))
    assert rec.kind == "vector" and rec["zero_fraction"] == 0.75 and rec["nm_2_4_fraction"] == 1.0
