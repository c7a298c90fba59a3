"""The NMF solvers of weightlens.linalg.nmf, against references computed another way (numpy SVD,
scipy NNLS, explicit residuals) and matrices with planted structure."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from weightlens.linalg.nmf import (
    WINDOW,
    hals_sweeps,
    nndsvda_init,
    nonneg_nmf,
    residual_sq,
    semi_nmf,
    semi_nmf_init,
    top_singular_triplets,
)
from weightlens.testing import nonneg_low_rank, with_spectrum


def svd_errors(w: np.ndarray) -> np.ndarray:
    """errors[j] = ‖W − W_j‖F / ‖W‖F for the best rank-j W_j (j = 0..p), by numpy's SVD."""
    s = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    tail = np.concatenate([np.cumsum((s**2)[::-1])[::-1], [0.0]])
    return np.sqrt(tail / tail[0])


HISTORY_RESOLUTION = 1e-7
"""The running error comes from the expanded formula, which resolves relative errors down to
about sqrt(eps64) ≈ 1e-8 only: "never increases" holds up to that."""


def true_rel_error(w: np.ndarray, f: np.ndarray, g: np.ndarray) -> float:
    w = w.astype(np.float64)
    return float(np.linalg.norm(w - f.astype(np.float64) @ g.astype(np.float64)) / np.linalg.norm(w))


# -- nonneg NMF ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "n", "k", "seed"), [(120, 80, 6, 0), (80, 120, 6, 1), (200, 100, 8, 2), (64, 48, 4, 3), (50, 50, 1, 4)])
def test_nonneg_recovers_planted_rank_k(m: int, n: int, k: int, seed: int) -> None:
    w = nonneg_low_rank(np.random.default_rng(seed), m, n, k)
    res = nonneg_nmf(w, k)
    assert res.rel_error < 1e-3
    assert res.F.shape == (m, k) and res.G.shape == (k, n)
    assert (res.F >= 0).all() and (res.G >= 0).all()
    assert res.rel_error == pytest.approx(true_rel_error(w, res.F, res.G), rel=1e-6, abs=1e-12)  # float64 residual vs expanded formula in float64: rounding ≈ k·n·eps64, far below 1e-6


def test_nonneg_float32_input_runs_in_float32_and_reports_the_true_error() -> None:
    w = nonneg_low_rank(np.random.default_rng(5), 100, 70, 5).astype(np.float32)
    res = nonneg_nmf(w, 5)
    assert res.F.dtype == np.float32 and res.G.dtype == np.float32
    # Below the float32 resolution of the expanded formula (~3e-4): the residual tells the truth.
    assert res.rel_error < 1e-3
    assert res.rel_error == pytest.approx(true_rel_error(w, res.F, res.G), rel=1e-6)  # as above


def test_nonneg_never_beats_the_svd_and_never_increases_the_error(rng: np.random.Generator) -> None:
    w = rng.random((90, 60)) ** 2
    errs = svd_errors(w)
    for k in (1, 3, 10):
        res = nonneg_nmf(w, k, max_iter=50)
        assert res.rel_error >= errs[k] * (1 - 1e-12)
        assert np.all(np.diff(res.history) <= HISTORY_RESOLUTION)


def test_nonneg_rejects_negative_entries() -> None:
    w = np.ones((5, 4))
    w[2, 3] = -0.5
    with pytest.raises(ValueError, match="non-negative.*-0.5"):
        nonneg_nmf(w, 2)


# -- semi-NMF -----------------------------------------------------------------------------------


SEMI_CASES = [(60, 40, 1), (60, 40, 5), (40, 60, 12), (50, 50, 25), (30, 20, 20), (100, 30, 8)]


@pytest.mark.parametrize(("m", "n", "k"), SEMI_CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_semi_between_svd_rank_k_and_k_minus_1(m: int, n: int, k: int, seed: int) -> None:
    """svd_rel_error(k) ≤ semi-NMF error ≤ (1 + tol)·svd_rel_error(k−1) on random signed matrices."""
    w = np.random.default_rng(seed).standard_normal((m, n))
    errs = svd_errors(w)
    tol = 1e-4
    res = semi_nmf(w, k, tol=tol, sigma=np.linalg.svd(w, compute_uv=False))
    assert res.rel_error <= errs[k - 1] * (1 + tol) + 1e-12
    assert res.rel_error >= errs[k] * (1 - tol) - 1e-12  # nmf/svd ratio ≥ 1 − tol
    assert (res.G >= 0).all()
    assert res.rel_error == pytest.approx(true_rel_error(w, res.F, res.G), rel=1e-9, abs=1e-12)  # float64 end to end: rounding ≈ n·eps64 ≪ 1e-9
    assert np.all(np.diff(res.history) <= HISTORY_RESOLUTION)


def test_semi_guarantee_holds_from_the_start() -> None:
    """Already after one iteration (and at iteration 0) the error is ≤ the SVD's rank-(k−1) error."""
    w = with_spectrum(np.random.default_rng(7), 80, 60, np.geomspace(1, 1e-3, 60))
    sigma = np.linalg.svd(w, compute_uv=False)
    errs = svd_errors(w)
    for k in (2, 10, 30):
        for max_iter in (0, 1):
            res = semi_nmf(w, k, max_iter=max_iter, sigma=sigma)
            assert res.rel_error <= errs[k - 1] * (1 + 1e-4) + 1e-12


def test_semi_exact_when_rank_at_most_k_minus_1() -> None:
    w = with_spectrum(np.random.default_rng(8), 40, 30, np.linspace(2, 1, 4))
    res = semi_nmf(w, 5, sigma=np.linalg.svd(w, compute_uv=False))
    assert res.rel_error < 1e-10
    assert res.converged


def test_semi_float32_input() -> None:
    w = np.random.default_rng(9).standard_normal((70, 50)).astype(np.float32)
    errs = svd_errors(w)
    res = semi_nmf(w, 6, sigma=np.linalg.svd(w.astype(np.float64), compute_uv=False))
    assert res.F.dtype == np.float32
    assert errs[6] * (1 - 1e-4) <= res.rel_error <= errs[5] * (1 + 1e-4)
    assert res.rel_error == pytest.approx(true_rel_error(w, res.F, res.G), rel=1e-6)  # as above (float32 factors, float64 residual)


# -- shared behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", [semi_nmf, nonneg_nmf])
def test_same_seed_same_result(solver) -> None:
    w = np.random.default_rng(10).random((60, 45))
    a = solver(w, 5, seed=3, max_iter=30)
    b = solver(w, 5, seed=3, max_iter=30)
    assert a.rel_error == b.rel_error
    np.testing.assert_array_equal(a.F, b.F)
    np.testing.assert_array_equal(a.G, b.G)
    np.testing.assert_array_equal(a.history, b.history)


@pytest.mark.parametrize("solver", [semi_nmf, nonneg_nmf])
def test_stopping_rule(solver) -> None:
    w = np.random.default_rng(11).random((50, 40))
    tol = 1e-3
    res = solver(w, 4, tol=tol, max_iter=500)
    assert res.converged and res.iterations < 500
    h = res.history
    assert len(h) == res.iterations + 1
    assert h[-1 - WINDOW] - h[-1] < tol * h[-1 - WINDOW]
    # ... and it did not stop earlier.
    for t in range(WINDOW, res.iterations):
        assert h[t - WINDOW] - h[t] >= tol * h[t - WINDOW]
    capped = solver(w, 4, tol=0.0, max_iter=7)
    assert capped.iterations == 7 and not capped.converged


@pytest.mark.parametrize("solver", [semi_nmf, nonneg_nmf])
def test_zero_matrix(solver) -> None:
    res = solver(np.zeros((6, 5)), 2)
    assert res.rel_error == 0.0 and res.converged and res.iterations == 0


@pytest.mark.parametrize("solver", [semi_nmf, nonneg_nmf])
def test_extreme_magnitudes_are_scaled(solver) -> None:
    w = np.random.default_rng(12).random((30, 20))
    base = solver(w, 3, max_iter=20)
    for scale in (2.0**200, 2.0**-200):
        res = solver(w * scale, 3, max_iter=20)
        assert res.rel_error == pytest.approx(base.rel_error, rel=1e-9)  # power-of-two scale: exact, same iterations; 1e-9 covers BLAS summation order (≈ n·eps64)
        np.testing.assert_allclose(res.F @ res.G, (base.F @ base.G) * scale, rtol=1e-8, atol=0)  # as above, on the product (≈ k·eps64)


@pytest.mark.parametrize("solver", [semi_nmf, nonneg_nmf])
@pytest.mark.parametrize(
    ("w", "kwargs", "match"),
    [
        (np.ones(5), {}, "2-D floating-point"),
        (np.ones((4, 4), dtype=np.int32), {}, "2-D floating-point"),
        (np.full((4, 4), np.nan), {}, "finite"),
        (np.ones((4, 3)), {"k": 4}, r"k: expected an integer in \[1, min\(m, n\) = 3\], got 4"),
        (np.ones((4, 3)), {"k": 0}, "k: expected"),
        (np.ones((4, 3)), {"tol": 1.0}, "tol: expected 0 <= tol < 1"),
        (np.ones((4, 3)), {"max_iter": -1}, "max_iter: expected an integer >= 0"),
    ],
)
def test_bad_arguments(solver, w: np.ndarray, kwargs: dict, match: str) -> None:
    kwargs = {"k": 2, **kwargs}
    k = kwargs.pop("k")
    with pytest.raises(ValueError, match=match):
        solver(w, k, **kwargs)


# -- building blocks ----------------------------------------------------------------------------


def test_semi_init_reproduces_the_truncated_svd_exactly(rng: np.random.Generator) -> None:
    w = rng.standard_normal((30, 20))
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    for k in (1, 2, 7, 20):
        ft, g = semi_nmf_init(u[:, : k - 1], s[: k - 1], vt[: k - 1], k)
        assert ft.shape == (k, 30) and g.shape == (k, 20)
        assert (g >= 0).all()
        np.testing.assert_allclose(ft.T @ g, (u[:, : k - 1] * s[: k - 1]) @ vt[: k - 1], atol=1e-12)  # semi-NMF start = SVD truncation in float64: ≈ max(m,n)·eps64·σ1 ≪ 1e-12·... of unit-scale data


def test_nndsvda_is_nonnegative_and_close_for_rank_one(rng: np.random.Generator) -> None:
    w = np.outer(rng.random(20) + 0.1, rng.random(15) + 0.1)
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    ft, g = nndsvda_init(u[:, :3], s[:3], vt[:3], float(w.mean()))
    assert (ft > 0).all() and (g > 0).all()
    np.testing.assert_allclose(np.outer(ft[0], g[0]), w, rtol=1e-10)  # the leading component is W itself


@pytest.mark.parametrize(("m", "n", "r"), [(60, 40, 5), (40, 60, 0), (30, 30, 30)])
def test_top_singular_triplets_reaches_the_target(m: int, n: int, r: int, rng: np.random.Generator) -> None:
    w = rng.standard_normal((m, n))
    errs = svd_errors(w)
    wsq = float(np.sum(w * w))
    target = (errs[r] ** 2) * wsq * (1 + 1e-6) + 1e-12 * wsq
    u, s, vt, err_sq = top_singular_triplets(w, r, np.random.default_rng(0), target_error_sq=target)
    assert u.shape == (m, r) and s.shape == (r,) and vt.shape == (r, n)
    assert err_sq <= target
    assert err_sq == pytest.approx(np.linalg.norm(w - (u * s) @ vt) ** 2, rel=1e-9, abs=1e-9)  # float64 identity vs direct residual: ≈ m·n·eps64
    np.testing.assert_allclose(s, np.linalg.svd(w, compute_uv=False)[:r], rtol=1e-5)  # randomized range finder with power iterations vs exact SVD: its documented accuracy, not rounding


def test_hals_sweeps_converge_to_the_nnls_solution(rng: np.random.Generator) -> None:
    """Many sweeps solve min_{X ≥ 0} ‖Z − Yᵀ X‖ column by column, as scipy's NNLS does."""
    y = rng.standard_normal((4, 30))
    z = rng.standard_normal((30, 6))
    x = np.ones((4, 6))
    for _ in range(2000):  # one sweep per call: the early exit on small moves is not tested here
        hals_sweeps(x, y @ z, y @ y.T, max_sweeps=1)
    for j in range(6):
        ref, _ = scipy.optimize.nnls(y.T, z[:, j])
        np.testing.assert_allclose(x[:, j], ref, atol=1e-8)  # float64 HALS sweep vs closed form: ≈ k·eps64·scale


def test_residual_sq_matches_numpy(rng: np.random.Generator) -> None:
    w = rng.standard_normal((70, 50)).astype(np.float32)
    ft = rng.standard_normal((3, 70)).astype(np.float32)
    g = rng.random((3, 50)).astype(np.float32)
    res_sq, w_sq = residual_sq(w, ft, g)
    w64 = w.astype(np.float64)
    assert res_sq == pytest.approx(np.linalg.norm(w64 - ft.T.astype(np.float64) @ g.astype(np.float64)) ** 2, rel=1e-12)  # float64 accumulation of a float32 product: γ_N relative, N ≈ 1e3
    assert w_sq == pytest.approx(np.sum(w64**2), rel=1e-12)  # float64 sum of N squares: ≤ N·eps64 ≪ 1e-12


def test_small_solves_run_blas_on_one_thread() -> None:
    from weightlens.linalg.blas import controller as _blas_controller
    from weightlens.linalg.nmf import SINGLE_THREAD_BELOW, _one_blas_thread_when_small

    seen: list[set[int]] = []

    @_one_blas_thread_when_small
    def probe(w: np.ndarray, k: int) -> None:
        seen.append({lib["num_threads"] for lib in _blas_controller().info()})

    before = {lib["num_threads"] for lib in _blas_controller().info()}
    probe(np.zeros((10, 10)), 2)
    big = SINGLE_THREAD_BELOW // 64 + 1
    probe(np.lib.stride_tricks.as_strided(np.zeros(1), shape=(big, 64), strides=(0, 0)), 1)  # shape only, no memory
    assert seen == [{1}, before]
    assert {lib["num_threads"] for lib in _blas_controller().info()} == before  # restored
