"""The building blocks of weightlens.linalg.nmf_newton and weightlens.linalg.nmf_hals against dense references:
the Gauss–Newton operator and model from an explicit Jacobian, CG against numpy's solve, the
tracked change of a step against explicit residuals (and its rounding bound), HALS against scipy's
NNLS, the exact power-of-two rebalancing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize

from weightlens.linalg import nmf_newton
from weightlens.linalg.nmf_hals import hals_sweeps
from weightlens.linalg.nmf_newton import _apply, _balance, _model_decrease, _pcg, _State, dot64, residual_sq, step_change


def state(w: np.ndarray, x1: np.ndarray, x2: np.ndarray) -> _State:
    return _State(x1, x2, x2 @ w.T, x1 @ w, x2 @ x2.T, x1 @ x1.T)


def jacobian(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """J of vec(X1ᵀ X2) (row-major, m·n) with respect to (vec X1, vec X2), built entry by entry:
    ∂(X1ᵀX2)_ij/∂X1_ri = X2_rj and ∂(X1ᵀX2)_ij/∂X2_rj = X1_ri."""
    k, m = x1.shape
    n = x2.shape[1]
    jac = np.zeros((m * n, k * (m + n)))
    for i in range(m):
        for j in range(n):
            for r in range(k):
                jac[i * n + j, r * m + i] = x2[r, j]
                jac[i * n + j, k * m + r * n + j] = x1[r, i]
    return jac


@pytest.fixture
def small(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k, m, n = 3, 7, 5
    return rng.random((m, n)), rng.random((k, m)), rng.random((k, n))


FLOAT64_ALGEBRA = 1e-12
"""The same float64 products summed in another order (explicit Jacobian vs k×k blocks): rounding
≈ k·(m+n)·eps64 relative to the operands' scale (≈ 1), bound 1e-12."""


def test_operator_is_jtj_plus_damped_block_diagonal(small: tuple[np.ndarray, np.ndarray, np.ndarray], rng: np.random.Generator) -> None:
    w, x1, x2 = small
    st = state(w, x1, x2)
    jac = jacobian(x1, x2)
    k, m = x1.shape
    n = x2.shape[1]
    block = np.zeros((k * (m + n),) * 2)
    block[: k * m, : k * m] = np.kron(x2 @ x2.T, np.eye(m))
    block[k * m :, k * m :] = np.kron(x1 @ x1.T, np.eye(n))
    d1, d2 = rng.standard_normal((k, m)), rng.standard_normal((k, n))
    lam = 0.3
    h1, h2 = _apply(st, lam, d1, d2)
    ref = (jac.T @ jac + lam * block) @ np.concatenate([d1.ravel(), d2.ravel()])
    np.testing.assert_allclose(np.concatenate([h1.ravel(), h2.ravel()]), ref, atol=FLOAT64_ALGEBRA)


def test_model_decrease_is_the_gauss_newton_model(small: tuple[np.ndarray, np.ndarray, np.ndarray], rng: np.random.Generator) -> None:
    w, x1, x2 = small
    st = state(w, x1, x2)
    g1, g2 = st.q1 @ x1 - st.a1, st.q2 @ x2 - st.a2
    jac = jacobian(x1, x2)
    grad = -jac.T @ (w - x1.T @ x2).ravel()
    np.testing.assert_allclose(np.concatenate([g1.ravel(), g2.ravel()]), grad, atol=FLOAT64_ALGEBRA)  # the gradient is Jᵀ(−R)
    d1, d2 = rng.standard_normal(x1.shape), rng.standard_normal(x2.shape)
    d = np.concatenate([d1.ravel(), d2.ravel()])
    assert _model_decrease(st, g1, g2, d1, d2) == pytest.approx(-(grad @ d + 0.5 * np.sum((jac @ d) ** 2)), abs=FLOAT64_ALGEBRA)


def test_pcg_solves_the_masked_damped_system(small: tuple[np.ndarray, np.ndarray, np.ndarray], rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run to a tight forcing, CG reaches the solution numpy's dense solve gives on the free variables."""
    monkeypatch.setattr(nmf_newton, "CG_FORCING", 1e-12)
    w, x1, x2 = small
    st = state(w, x1, x2)
    k, m = x1.shape
    n = x2.shape[1]
    m1 = rng.random((k, m)) > 0.3
    m2 = rng.random((k, n)) > 0.3
    b1, b2 = rng.standard_normal((k, m)) * m1, rng.standard_normal((k, n)) * m2
    lam = 0.5
    p1, p2 = np.linalg.pinv(st.q1), np.linalg.pinv(st.q2)
    d1, d2 = _pcg(st, b1, b2, m1, m2, p1, p2, lam, max_iter=500)
    jac = jacobian(x1, x2)
    block = np.zeros((k * (m + n),) * 2)
    block[: k * m, : k * m] = np.kron(x2 @ x2.T, np.eye(m))
    block[k * m :, k * m :] = np.kron(x1 @ x1.T, np.eye(n))
    free = np.concatenate([m1.ravel(), m2.ravel()])
    a = (jac.T @ jac + lam * block)[np.ix_(free, free)]
    ref = np.zeros(free.size)
    ref[free] = np.linalg.solve(a, np.concatenate([b1.ravel(), b2.ravel()])[free])
    got = np.concatenate([d1.ravel(), d2.ravel()])
    assert np.all(got[~free] == 0)
    # residual reduced by 1e-12 in the preconditioned norm: error ≤ 1e-12·cond(a) relative
    assert np.linalg.norm(got - ref) <= 1e-12 * np.linalg.cond(a) * np.linalg.norm(ref)
    assert np.linalg.cond(a) < 1e4  # so that the bound above says something


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_step_change_matches_the_residuals(dtype: type, rng: np.random.Generator) -> None:
    """f(Y) − f(X) from the products equals the change of ½‖W − X1ᵀX2‖F² computed from the residuals in
    float64, within the rounding bound the solver assigns it — also near an exact fit, where the
    expanded formula ‖W‖² − 2⟨X1W, X2⟩ + ⟨Q2, Q1⟩ cannot resolve the change in float32."""
    k, m, n = 4, 300, 200
    a, b = rng.random((m, k)), rng.random((k, n))
    w = (a @ b).astype(dtype)
    x1 = (a.T * (1 + 1e-3 * rng.standard_normal((k, m)))).astype(dtype)
    x2 = b.astype(dtype)
    y1 = (x1 * (1 + 1e-4 * rng.standard_normal((k, m)))).astype(dtype)
    y2 = np.maximum(x2 + (1e-4 * rng.standard_normal((k, n))).astype(dtype), 0)
    st = state(w, x1, x2)
    g2 = st.q2 @ x2 - st.a2
    change = step_change(st, g2, y1, y2, y2 @ w.T, y2 @ y2.T)
    truth = 0.5 * (residual_sq(w, y1, y2)[0] - residual_sq(w, x1, x2)[0])
    eps = float(np.finfo(dtype).eps)
    bound = eps * math.sqrt(m) * math.sqrt(dot64(w, w)) * (np.linalg.norm(y2) * np.linalg.norm(y1 - x1) + np.linalg.norm(x1) * np.linalg.norm(y2 - x2))
    assert abs(change - truth) <= bound
    assert bound < 0.1 * abs(truth)  # the bound resolves this change
    if dtype is np.float32:

        def expanded(p: np.ndarray, q: np.ndarray) -> float:
            return 0.5 * (dot64(w, w) - 2 * dot64(p @ w, q) + dot64(p @ p.T, q @ q.T))

        assert abs(expanded(y1, y2) - expanded(x1, x2) - truth) > abs(truth)  # the expansion does not


def test_rebalancing_is_exact(rng: np.random.Generator) -> None:
    w = rng.random((9, 6))
    x1, x2 = rng.random((3, 9)) * np.array([[1e3], [1.0], [1e-3]]), rng.random((3, 6))
    st = state(w, x1.copy(), x2.copy())
    product = st.x1.T @ st.x2
    st.rescale(_balance(st.x1, st.x2))
    np.testing.assert_array_equal(st.x1.T @ st.x2, product)  # powers of two: bit for bit
    ratio = np.linalg.norm(st.x1, axis=1) / np.linalg.norm(st.x2, axis=1)
    assert np.all((ratio > 0.5) & (ratio < 2))  # balanced within the nearest power of two
    fresh = state(w, st.x1, st.x2)
    for name in ("a1", "a2", "q1", "q2"):
        np.testing.assert_array_equal(getattr(st, name), getattr(fresh, name))  # the products followed exactly


def test_hals_sweeps_converge_to_the_nnls_solution(rng: np.random.Generator) -> None:
    """Many sweeps solve min_{X ≥ 0} ‖Z − Yᵀ X‖ column by column, as scipy's NNLS does."""
    y = rng.standard_normal((4, 30))
    z = rng.standard_normal((30, 6))
    x = np.ones((4, 6))
    for _ in range(2000):  # one sweep per call: the early exit on small moves is not tested here
        hals_sweeps(x, y @ z, y @ y.T, sweeps=1)
    for j in range(6):
        ref, _ = scipy.optimize.nnls(y.T, z[:, j])
        np.testing.assert_allclose(x[:, j], ref, atol=1e-8)  # float64 HALS sweep vs closed form: ≈ k·eps64·scale
