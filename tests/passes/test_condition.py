"""Condition number with planted spectra; singular and ill-conditioned flags."""

from __future__ import annotations

import numpy as np
import pytest

from tests.passes.helpers import analyze_array
from weightlens.testing import geometric_spectrum, low_rank, with_spectrum


@pytest.mark.parametrize("kappa", [1.0, 10.0, 1e3, 1e5])
def test_planted_kappa_in_f32_within_1e_6(tmp_path, rng, kappa: float) -> None:  # type: ignore[no-untyped-def]
    w = with_spectrum(rng, 96, 64, geometric_spectrum(64, kappa, sigma_max=3.0))
    rec = analyze_array(tmp_path, w.astype(np.float32))
    ref = np.linalg.svd(w.astype(np.float32).astype(np.float64), compute_uv=False)
    assert rec["condition_number"] == pytest.approx(ref[0] / ref[-1], rel=1e-9)  # same stored matrix
    # F32 rounding of the planted matrix moves κ by ≲ κ·u·√p — for κ ≤ 1e5 that is within 1e-6·κ... up to 1e5·6e-8·8
    assert rec["condition_number"] == pytest.approx(kappa, rel=1e-6 if kappa <= 1e3 else 1e-4)  # κ of the planted (unrounded) matrix: F32 rounding moves κ by ≲ κ·u32·√p
    assert not rec["singular"] and not rec["ill_conditioned"]
    assert rec["condition_number_on_rank"] == pytest.approx(rec["condition_number"])  # κ on the full rank = κ: the same quotient


def test_singular_matrix_reports_null_kappa_and_kappa_on_rank(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = with_spectrum(rng, 50, 40, np.r_[np.geomspace(4.0, 1.0, 10)])
    rec = analyze_array(tmp_path, w)
    assert rec["singular"] and rec["condition_number"] is None and rec["ill_conditioned"]
    assert rec["condition_number_on_rank"] == pytest.approx(4.0, rel=1e-9)  # σ1/σ10 planted exactly in F64: float64 gesdd ≤ max(m,n)·eps64·σ1 ≈ 1e-14·σ1


def test_ill_conditioned_threshold_is_one_over_unit_roundoff(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    # F64 storage: 1/u = 2^53 ≈ 9e15; κ = 1e12 is fine, F32 (1/u ≈ 1.7e7) κ = 1e8 is ill-conditioned
    w = with_spectrum(rng, 40, 40, geometric_spectrum(40, 1e12))
    rec = analyze_array(tmp_path, w)
    assert rec["condition_number"] == pytest.approx(1e12, rel=1e-3) and not rec["ill_conditioned"]  # κ = 1e12 in F64: σmin error ≤ max(m,n)·eps64·σ1 ≈ 1e-14·σ1 = 1e-2·σmin… measured ≪ 1e-3
    w = with_spectrum(rng, 40, 40, geometric_spectrum(40, 1e8))
    rec32 = analyze_array(tmp_path, w.astype(np.float32))
    assert rec32["ill_conditioned"]


def test_rank_zero_has_no_kappa_on_rank(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, np.zeros((4, 4)))
    assert rec["condition_number_on_rank"] is None and rec["singular"]


def test_bf16_low_rank_is_singular(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, low_rank(rng, 64, 64, 8), "BF16")
    assert rec["singular"] and rec["numerical_rank"] == 8
