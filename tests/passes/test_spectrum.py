"""Spectrum fields against numpy's float64 SVD of the same decoded matrix."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.passes.helpers import analyze_array, stored
from weightlens.linalg.spectrum import compute_spectrum


@pytest.mark.parametrize(("dtype", "shape", "rtol"), [("F32", (70, 40), 1e-12), ("F32", (40, 70), 1e-12), ("F64", (50, 50), 1e-12), ("BF16", (90, 60), 1e-5), ("F16", (60, 90), 1e-5)])
def test_sigma_matches_float64_svd(tmp_path, rng, dtype: str, shape: tuple[int, int], rtol: float) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal(shape)
    rec = analyze_array(tmp_path, w, dtype, full_spectrum=True)
    ref = np.linalg.svd(stored(w, dtype), compute_uv=False)
    # ≤16-bit storage takes the float64 Gram route: |σ̂i − σi| ≤ sigma_error = √(eps64·(m+n))·‖W‖F
    atol = 0.0 if rtol < 1e-9 else rec["sigma_error"]
    np.testing.assert_allclose(rec["sigma"], ref, rtol=rtol, atol=atol)  # rtol: F32/F64 take float64 gesdd, ≤ max(m,n)·eps64·σ1 ≈ 1.6e-14·σ1; ≤16-bit: atol = the record's sigma_error
    assert rec["sigma_max"] == pytest.approx(ref[0], rel=rtol)  # as above
    assert rec["sigma_min"] == pytest.approx(ref[-1], rel=rtol, abs=atol)  # as above
    assert rec["fro_norm"] == pytest.approx(np.linalg.norm(stored(w, dtype)), rel=rtol, abs=math.sqrt(min(shape)) * atol)  # ‖W‖F = √Σσi²: ‖σ̂ − σ‖2 ≤ √p·sigma_error
    assert rec["top_sigma"] == pytest.approx(list(ref[:8]), rel=rtol, abs=atol)  # as above
    assert (rec["svd_route"], rec["svd_dtype"]) == (("gesdd", "float64") if dtype in ("F32", "F64") else ("gram", "float64"))
    assert rec["spectrum_exact"] and rec["sigma_min_error"] <= rec["sigma_error"]


def test_energy_ranks_and_rel_error_against_brute_force(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    sigma = np.geomspace(10, 0.01, 48)
    from weightlens.testing import with_spectrum

    w = with_spectrum(rng, 64, 48, sigma)
    rec = analyze_array(tmp_path, w, svd_ranks=(5, 0.5, 100))
    energy = np.cumsum(sigma**2) / np.sum(sigma**2)
    assert rec["energy_rank_90"] == min(k for k in range(1, 49) if energy[k - 1] >= 0.90)
    assert rec["energy_rank_99"] == min(k for k in range(1, 49) if energy[k - 1] >= 0.99)
    errors = {e["rank"]: e["rel_error"] for e in rec["svd_rel_error"]}
    assert set(errors) == {5, 24, 48}  # 0.5·48 = 24; 100 is capped at p
    for k in (5, 24):
        # Eckart–Young: the error of the explicit truncated SVD of the same matrix
        u, s, vt = np.linalg.svd(w, full_matrices=False)
        direct = np.linalg.norm(w - (u[:, :k] * s[:k]) @ vt[:k]) / np.linalg.norm(w)
        assert errors[k] == pytest.approx(direct, rel=1e-6)  # gesdd of F32 data vs truncated float64 SVD of the unrounded w: F32 storage moves the tail by ≲ u32·‖W‖F ≈ 6e-8
    assert errors[48] == 0.0


def test_exact_low_rank_energy_rank(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    from weightlens.testing import with_spectrum

    rec = analyze_array(tmp_path, with_spectrum(rng, 40, 30, np.ones(3)))
    assert rec["energy_rank_99"] == 3 and rec["energy_rank_90"] == 3


def test_near_overflow_and_subnormal_values_are_scaled(rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((30, 20))
    for scale in (1e37, 1e-40):
        big = (w / np.abs(w).max() * scale).astype(np.float32)
        sp = compute_spectrum(big, 2.0**-24, "float32")
        ref = np.linalg.svd(big.astype(np.float64), compute_uv=False)
        assert np.all(np.isfinite(sp.sigma)) and math.isfinite(sp.fro_norm)
        np.testing.assert_allclose(sp.sigma, ref, rtol=1e-4, atol=30 * 1.2e-7 * ref[0])  # float32 gesdd: ≤ max(m,n)·eps32·σ1 = 30·1.2e-7·σ1 (atol); rtol covers the relative slack of σ near it


def test_all_zero_matrix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, np.zeros((5, 7), np.float32))
    assert rec["sigma_max"] == 0 and rec["numerical_rank"] == 0 and rec["energy_rank_90"] == 0
    assert rec["singular"] and rec["condition_number"] is None and rec["stable_rank"] is None
    assert rec["effective_rank"] == 0 and rec["all_zero"]


@pytest.mark.parametrize("shape", [(1, 50), (50, 1), (1, 1), (3, 400)])
def test_vectors_shaped_as_matrices(tmp_path, rng, shape) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal(shape)
    rec = analyze_array(tmp_path, w)
    assert rec["sigma_max"] == pytest.approx(np.linalg.norm(w, 2), rel=1e-12)  # F64 data, float64 gesdd: ≤ max(m,n)·eps64·σ1 ≈ 1e-13·σ1
    assert rec["numerical_rank"] == min(shape)
