"""The low-rank spectrum of s·B·A equals a float64 SVD of the explicitly formed product."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bounds import effective_rank_bound
from weightlens.checkpoint.dtypes import DTYPES, decode
from weightlens.linalg.spectrum import compute_spectrum
from weightlens.passes.rank import effective_rank
from weightlens.pipeline.lora import ROUTE, lowrank_spectrum
from weightlens.testing import encode


def explicit_sigma(b: np.ndarray, a: np.ndarray, scale: float) -> np.ndarray:
    return np.linalg.svd(scale * (b.astype(np.float64) @ a.astype(np.float64)), compute_uv=False)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 40),
    n=st.integers(1, 40),
    r=st.integers(1, 12),
    scale=st.sampled_from([2.0, 0.5, -1.0, 1 / math.sqrt(8), 1e-3]),
    transpose=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_sigma_equals_float64_svd_of_explicit_product(m, n, r, scale, transpose, seed) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((m, r))
    a = rng.standard_normal((r, n)) * 10.0 ** rng.uniform(-3, 3)
    sp = lowrank_spectrum(b, a, scale, 2.0**-53, 2.0**-53, transpose)
    ref = explicit_sigma(b, a, scale)
    assert sp.sigma.shape == (min(m, n),)
    assert np.all(np.diff(sp.sigma) <= 0)
    bound = 1e-12 * abs(scale) * np.linalg.norm(b, 2) * np.linalg.norm(a, 2)
    np.testing.assert_allclose(sp.sigma, ref, rtol=0, atol=bound)
    assert sp.shape == ((n, m) if transpose else (m, n))
    assert sp.route == ROUTE and sp.compute_dtype == "float64"


def test_rank_deficient_core_is_counted_within_r(rng) -> None:  # type: ignore[no-untyped-def]
    # B has 8 columns spanning only 3 directions: rank(B·A) = 3 < r = 8, also after F32 storage.
    b = rng.standard_normal((96, 3)) @ rng.standard_normal((3, 8))
    a = rng.standard_normal((8, 80))
    b32, a32 = b.astype(np.float32), a.astype(np.float32)
    sp = lowrank_spectrum(b32, a32, 2.0, 2.0**-24, 2.0**-24)
    assert sp.rank == 3
    assert effective_rank(sp) <= 3
    assert sp.rel_error(3) < 1e-6
    # ... and in BF16 storage, where the factors' rounding blurs σ4..σ8 up to the noise level.
    bb, ab = (decode(DTYPES["BF16"], np.frombuffer(encode(x, "BF16").data, "<u2")).reshape(x.shape) for x in (b, a))
    sp16 = lowrank_spectrum(bb, ab, 2.0, 2.0**-8, 2.0**-8)
    assert sp16.rank == 3
    assert sp16.sigma[3] > 0  # not exactly rank 3 any more: the tolerance is what makes it so


def test_tolerance_is_the_first_order_effect_of_factor_rounding(rng) -> None:  # type: ignore[no-untyped-def]
    b, a = rng.standard_normal((50, 6)), rng.standard_normal((6, 70))
    u_b, u_a, s = 2.0**-8, 2.0**-11, 3.0
    sp = lowrank_spectrum(b, a, s, u_b, u_a)

    def nu(x: np.ndarray, u: float) -> float:  # the Spectrum storage-noise formula, written out
        return 2 * u * (np.linalg.norm(x, axis=1).max() + np.linalg.norm(x, axis=0).max()) / math.sqrt(3)

    expected = s * (nu(b, u_b) * np.linalg.norm(a, 2) + np.linalg.norm(b, 2) * nu(a, u_a))
    assert sp.storage_noise == pytest.approx(expected, rel=1e-10)  # the same float64 formula evaluated two ways: rounding only
    assert sp.tol == max(sp.storage_noise, sp.svd_error)
    assert sp.u_store == u_b
    # Rounding the factors really moves s·B·A by less than the tolerance (spectral norm).
    rounded = [decode(DTYPES[d], np.frombuffer(encode(x, d).data, DTYPES[d].raw)).reshape(x.shape) for x, d in ((b, "BF16"), (a, "F16"))]
    moved = np.linalg.norm(s * (rounded[0].astype(float) @ rounded[1].astype(float) - b @ a), 2)
    assert moved < sp.tol


def test_zero_factor_gives_a_zero_spectrum(rng) -> None:  # type: ignore[no-untyped-def]
    sp = lowrank_spectrum(np.zeros((20, 4)), rng.standard_normal((4, 30)), 2.0, 2.0**-24, 2.0**-24)
    assert sp.sigma_max == 0.0 and sp.rank == 0 and sp.fro_norm == 0.0 and effective_rank(sp) == 0.0


def test_rank_larger_than_the_matrix(rng) -> None:  # type: ignore[no-untyped-def]
    b, a = rng.standard_normal((5, 9)), rng.standard_normal((9, 7))
    sp = lowrank_spectrum(b, a, 1.0, 2.0**-53, 2.0**-53)
    np.testing.assert_allclose(sp.sigma, explicit_sigma(b, a, 1.0), rtol=1e-12)  # QR route vs float64 SVD of the formed product: ≤ max(m,n)·eps64·σ1 ≈ 1e-14·σ1 for these shapes
    assert sp.rank == 5


def test_large_and_tiny_factors_do_not_overflow(rng) -> None:  # type: ignore[no-untyped-def]
    b, a = rng.standard_normal((30, 4)) * 1e150, rng.standard_normal((4, 20)) * 1e150
    sp = lowrank_spectrum(b, a, 1.0, 2.0**-53, 2.0**-53)
    ref = explicit_sigma(b / 1e150, a / 1e150, 1.0) * 1e300
    np.testing.assert_allclose(sp.sigma[:4], ref[:4], rtol=1e-12)  # as above, scaled by 1e300 (exact powers are not, but rounding stays ≈ eps64)
    assert math.isfinite(sp.fro_norm)


def test_same_derived_quantities_as_the_dense_spectrum(rng) -> None:  # type: ignore[no-untyped-def]
    b, a = rng.standard_normal((60, 8)), rng.standard_normal((8, 45))
    sp = lowrank_spectrum(b, a, 0.5, 2.0**-53, 2.0**-53)
    dense = compute_spectrum(0.5 * b @ a, 2.0**-53, "float64")
    assert sp.rank == dense.rank == 8
    err = math.sqrt(sp.p) * (sp.sigma_error + dense.sigma_error)  # ‖σ̂ − σ‖2 ≤ √p·e for each route
    assert abs(sp.fro_norm - dense.fro_norm) <= err
    for k in (1, 3, 8):  # a tail norm and ‖W‖F, each within err
        assert abs(sp.rel_error(k) - dense.rel_error(k)) <= err * (1 + sp.rel_error(k)) / (sp.fro_norm - err)
    for tau in (0.9, 0.99):
        assert sp.energy_rank(tau) == dense.energy_rank(tau)
    bound = effective_rank_bound(effective_rank(sp), 8, sp.sigma_error + dense.sigma_error, sp.fro_norm, sp.tol)
    assert abs(effective_rank(sp) - effective_rank(dense)) <= bound


def test_overflow_raises_spectrum_overflow(rng) -> None:  # type: ignore[no-untyped-def]
    from weightlens.linalg.spectrum import SpectrumOverflow

    with pytest.raises(SpectrumOverflow):
        lowrank_spectrum(rng.standard_normal((6, 2)) * 1e200, rng.standard_normal((2, 5)) * 1e200, 1.0, 2.0**-53, 2.0**-53)
