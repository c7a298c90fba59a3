"""Health fields: non-finite counts, all-zero, magnitudes without overflow or underflow."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.passes.helpers import analyze_array


def test_counts_and_magnitudes(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((30, 20))
    rec = analyze_array(tmp_path, w)
    assert rec["nan_count"] == 0 and rec["inf_count"] == 0 and not rec["all_zero"]
    assert rec["max_abs"] == np.abs(w).max()
    assert rec["rms"] == pytest.approx(math.sqrt(np.mean(w**2)), rel=1e-12)  # float64 sum of N squares: ≤ N·eps64 ≪ 1e-12


def test_non_finite_matrix_skips_spectral_passes(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((10, 10)).astype(np.float32)
    w[1, 2] = np.nan
    w[3, 4] = np.inf
    w[5, 6] = -np.inf
    rec = analyze_array(tmp_path, w)
    assert rec["nan_count"] == 1 and rec["inf_count"] == 2
    assert rec.skipped == "non-finite" and not rec.analyzed
    assert "sigma_max" not in rec.metrics and "numerical_rank" not in rec.metrics
    finite = w[np.isfinite(w)].astype(np.float64)
    assert rec["max_abs"] == np.abs(finite).max()
    assert rec["rms"] == pytest.approx(math.sqrt(np.mean(finite**2)), rel=1e-6)  # as above; the reference sums float32 squares (≈ N·eps32 ≈ 1e-6)


def test_all_zero_tensor(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, -np.zeros((3, 3), np.float32))
    assert rec["all_zero"] and rec["max_abs"] == 0 and rec["rms"] == 0 and rec["zero_fraction"] == 1.0


def test_near_overflow_values_do_not_overflow(tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = np.full((100, 100), 3.0e38, np.float32)
    rec = analyze_array(tmp_path, w)
    assert rec["rms"] == pytest.approx(3.0e38, rel=1e-6)  # 3e38 rounded to F32: relative u32 ≈ 6e-8
    assert rec["fro_norm"] == pytest.approx(3.0e40, rel=1e-6)  # as above; σ from float64 gesdd of the scaled matrix
    assert rec["sigma_max"] == pytest.approx(3.0e40, rel=1e-6)  # as above
    assert rec["numerical_rank"] == 1


def test_subnormal_values_do_not_underflow(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = (rng.standard_normal((20, 20)) * 1e-41).astype(np.float32)
    rec = analyze_array(tmp_path, w)
    w64 = w.astype(np.float64)
    assert rec["rms"] == pytest.approx(math.sqrt(np.mean(w64**2)), rel=1e-12)  # float64 sum of N squares: ≤ N·eps64
    assert rec["sigma_max"] == pytest.approx(np.linalg.norm(w64, 2), rel=1e-9)  # float64 gesdd: ≤ max(m,n)·eps64·σ1


def test_f16_max_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = np.full((8, 8), 65504.0, np.float16)
    rec = analyze_array(tmp_path, w)
    assert rec["max_abs"] == 65504.0 and rec["sigma_max"] == pytest.approx(8 * 65504.0, rel=1e-6)  # F16 data, gram route: σ1 within √δ ≈ √(eps64·(m+n))·‖W‖F ≈ 1e-7·σ1
