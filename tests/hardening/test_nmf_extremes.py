"""NMF of matrices whose values are near the float32 / BF16 limit (3.4e38): no overflow, and the
same factorization as the same matrix scaled by a power of two into the normal range."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.passes.helpers import analyze_array
from weightlens.linalg.nmf import nonneg_nmf, semi_nmf
from weightlens.testing import encode

N_EXAMPLES = 20


@settings(derandomize=True, max_examples=N_EXAMPLES, deadline=None)
@given(exponent=st.integers(100, 127), signed=st.booleans(), shape=st.sampled_from([(16, 12), (12, 16), (30, 5)]), seed=st.integers(0, 3))
def test_nmf_near_the_float32_limit(exponent: int, signed: bool, shape: tuple[int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.5, 1.0, shape).astype(np.float32)
    if signed:
        base *= rng.choice(np.float32([-1, 1]), shape)
    solve = semi_nmf if signed else nonneg_nmf
    big = solve(np.ldexp(base, exponent), 3)  # entries up to 2^127 · 1 ≈ 1.7e38
    ref = solve(base, 3)
    assert big.rel_error == ref.rel_error and big.iterations == ref.iterations  # power-of-two scaling is exact
    assert np.isfinite(big.F).all() and np.isfinite(big.G).all()
    product = big.F.astype(np.float64) @ big.G.astype(np.float64)
    np.testing.assert_allclose(product, np.ldexp(ref.F.astype(np.float64) @ ref.G.astype(np.float64), exponent), rtol=1e-5)


def test_bf16_values_next_to_the_limit_analyze_without_warnings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 1.0, (16, 12)) * 3.3e38
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # recorded, so that no fallback can hide one raised as an error
        rec = analyze_array(tmp_path, encode(w, "BF16"), passes=("health", "spectrum", "rank", "condition", "alpha", "sparsity", "nmf"))
    assert [str(c.message) for c in caught] == []
    assert rec["nmf"] and 0 < rec["nmf"][0]["nmf_rel_error"] < 0.2
