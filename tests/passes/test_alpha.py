"""The alpha pass: planted power-law eigenvalue tails through the real pipeline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import validate_record
from tests.passes.helpers import analyze_array, stored
from weightlens.linalg.powerlaw import fit_power_law
from weightlens.testing import low_rank, power_law_sample, with_spectrum


def planted(rng: np.random.Generator, alpha: float, m: int = 460, n: int = 400, tail: int = 300) -> np.ndarray:
    """An m×n matrix whose eigenvalues λ = σ² are a power-law tail of `tail` values from λ = 1
    above n − tail values log-uniform in [0.01, 1) (a bulk with a different density)."""
    lam = np.concatenate([np.exp(rng.uniform(math.log(0.01), 0.0, n - tail)), power_law_sample(rng, tail, alpha)])
    return with_spectrum(rng, m, n, np.sort(np.sqrt(lam))[::-1])


@pytest.mark.parametrize(("alpha", "dtype"), [(2.0, "F64"), (3.0, "F64"), (4.5, "F64"), (2.5, "F32"), (3.5, "F32")])
def test_planted_tail_exponent_is_recovered(tmp_path, rng, alpha: float, dtype: str) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, planted(rng, alpha), dtype, passes=("alpha",))
    assert abs(rec["alpha"] - alpha) < 0.1
    assert 0.9 <= rec["alpha_xmin"] <= 1.2
    assert rec["alpha_quality"] == "good" and rec["alpha_n_tail"] >= 250
    assert rec["alpha_stderr"] == pytest.approx((rec["alpha"] - 1) / math.sqrt(rec["alpha_n_tail"]))  # the documented formula: rounding only
    validate_record(rec.to_dict())


def test_fit_agrees_with_an_independent_float64_svd(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = planted(rng, 3.0, 300, 200, 150)
    rec = analyze_array(tmp_path, w, "F32", passes=("alpha", "rank"))
    sigma = np.linalg.svd(stored(w, "F32"), compute_uv=False)
    ref = fit_power_law(sigma[sigma > rec["rank_tol"]] ** 2)
    assert ref is not None
    assert rec["alpha"] == pytest.approx(ref.alpha, rel=1e-5)  # F32 data: both σ sets within max(m,n)·eps64·σ1; α of the same tail moves ≪ 1e-5
    assert rec["alpha_xmin"] == pytest.approx(ref.xmin, rel=1e-5)  # as above
    assert rec["alpha_n_tail"] == ref.n_tail


def test_only_numerically_nonzero_eigenvalues_enter(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    """A rank-r matrix stored in BF16: its p − r noise singular values (≤ rank_tol) must not be fitted."""
    lam = power_law_sample(rng, 120, 2.5)
    w = with_spectrum(rng, 256, 200, np.sort(np.sqrt(lam))[::-1])
    rec = analyze_array(tmp_path, w, "BF16", passes=("alpha", "rank"))
    assert rec["numerical_rank"] == 120
    ref = fit_power_law(lam)
    assert ref is not None
    assert rec["alpha"] == pytest.approx(ref.alpha, abs=0.05)  # planted α recovered from a finite BF16 sample: the MLE's own sampling spread, not rounding
    assert rec["alpha_n_tail"] <= 120


def test_no_fit_with_too_few_nonzero_eigenvalues(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, low_rank(rng, 64, 64, 5), "F32", passes=("alpha",))
    assert rec["alpha"] is None and rec["alpha_quality"] == "no_fit"
    assert rec["alpha_n_tail"] is None and rec["alpha_ks_distance"] is None
    validate_record(rec.to_dict())
    zero = analyze_array(tmp_path, np.zeros((16, 16)), "F32", passes=("alpha",))
    assert zero["alpha_quality"] == "no_fit"


def test_alpha_is_in_the_default_passes(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, rng.standard_normal((40, 30)), "F32")
    assert "alpha" in rec.metrics and rec["alpha_quality"] in ("good", "few_tail_points", "poor_fit")


def test_huge_f64_values_do_not_overflow(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    """σ ≈ 1e200: σ² overflows float64, the fit (on λ/σ1²) does not; xmin past the float range is null."""
    lam = power_law_sample(rng, 60, 3.0)
    w = with_spectrum(rng, 80, 60, np.sort(np.sqrt(lam))[::-1])
    small = analyze_array(tmp_path, w, "F64", passes=("alpha",))
    huge = analyze_array(tmp_path, 1e200 * w, "F64", passes=("alpha",))
    assert huge["alpha"] == pytest.approx(small["alpha"], rel=1e-9)  # 1e200·w rounds each entry by ≤ u64: σ and the fit move by ≈ max(m,n)·eps64 ≪ 1e-9
    assert huge["alpha_n_tail"] == small["alpha_n_tail"]
    assert huge.to_dict()["alpha_xmin"] is None
    tiny = analyze_array(tmp_path, 1e-150 * w, "F64", passes=("alpha",))
    assert tiny["alpha_xmin"] == pytest.approx(1e-300 * small["alpha_xmin"], rel=1e-9)  # as above
