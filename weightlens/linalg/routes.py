"""The ways singular values are computed; :func:`weightlens.linalg.spectrum.compute_spectrum` picks one.

Every function here works on W/s, s = 2^e ≥ max|w| a power of two (exact), so no square of an
entry overflows or underflows, and returns values in those scaled units.

Routes and their error bounds (absolute, on every σi; ‖·‖F of the scaled matrix, p = min(m, n)):

``gesdd`` (``gesvd`` if it fails to converge)
    LAPACK's bidiagonal SVD in float32 or float64: |σ̂i − σi| ≲ max(m, n)·eps·σ1.
``gram``
    σi = sqrt(λi(G)), G = TᵀT formed in float64 by ``dsyrk`` over row slabs of the tall
    orientation T (W, or Wᵀ when m < n), λ by ``dsyev``. Forming G errs by
    ‖ΔG‖2 ≤ γ_m·‖W‖F² (γ_m ≈ m·u64), the eigensolver adds ≲ n·eps64·‖G‖2 ≤ n·eps64·‖W‖F², so
    |λ̂i − λi| ≤ δ = eps64·(m + n)·‖W‖F², hence |σ̂i − σi| ≤ min(√δ, δ/σ̂i): σ is resolved down to
    √δ (≈ 1e-6…1e-5·σ1 for LLM matrices), far below BF16/F16/F8 storage noise. λ̂ < 0 (σ below √δ)
    is clamped to 0, which stays within the bound. When ``dsyev`` does not converge
    (``LinAlgError``), :func:`weightlens.linalg.spectrum.compute_spectrum` takes float64 ``gesdd`` instead.
``lanczos`` (``--spectrum fast``)
    The same float64 Gram matrix, then only its extreme eigenvalues: the top k by Lanczos on G,
    σmin by Lanczos on G⁻¹ through its Cholesky factor (:func:`gram_extremes`). Each value carries
    an a-posteriori bound: δ plus its Lanczos residual. The tridiagonal reduction of the full
    eigensolver (4p³/3 flops, bandwidth-bound) is skipped, and so is the float64 SVD of F32 data.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dsymv, dsyrk

EPS64 = float(np.finfo(np.float64).eps)

SLAB = 1 << 21
"""Elements per float64 slab (16 MB) in the chunked scans."""

LANCZOS_TOL = 1e-10
"""Relative convergence tolerance of the Lanczos iterations of the ``lanczos`` route."""


def _slab_rows(n_cols: int) -> int:
    return max(1, SLAB // max(1, n_cols))


def scaled_slabs(matrix: np.ndarray, exponent: int) -> Iterator[np.ndarray]:
    """Consecutive row blocks of ``matrix``·2^-exponent as fresh C-ordered float64 arrays."""
    step = _slab_rows(matrix.shape[1])
    for i in range(0, matrix.shape[0], step):
        block = matrix[i : i + step].astype(np.float64)  # always a copy: ldexp may work in place
        yield np.ldexp(block, -exponent, out=block)


def gram_delta(m: int, n: int, fro_sq: float) -> float:
    """δ = eps64·(m + n)·‖W‖F², the bound on |λ̂i − λi| of the Gram route (see the module notes)."""
    return EPS64 * (m + n) * fro_sq


def gram(matrix: np.ndarray, exponent: int) -> np.ndarray:
    """G = TᵀT of the tall orientation T of matrix·2^-exponent (p×p float64, upper triangle only).

    Built by ``dsyrk`` over slabs, so memory is G plus one 16 MB slab beyond the matrix.
    """
    m, n = matrix.shape
    p = min(m, n)
    g = np.zeros((p, p), order="F")
    if m >= n:  # T = W: G = Σ W_kᵀW_k over row slabs; W_kᵀ of a C-ordered slab is F-ordered
        for block in scaled_slabs(matrix, exponent):
            g = dsyrk(1.0, block.T, beta=1.0, c=g, trans=0, lower=0, overwrite_c=1)
    else:  # T = Wᵀ: G = WWᵀ = Σ W_:,k W_:,kᵀ over column slabs
        step = _slab_rows(m)
        for j in range(0, n, step):
            block = np.array(matrix[:, j : j + step], dtype=np.float64, order="F", copy=True)
            np.ldexp(block, -exponent, out=block)
            g = dsyrk(1.0, block, beta=1.0, c=g, trans=0, lower=0, overwrite_c=1)
    return g


def gram_sigma(matrix: np.ndarray, exponent: int) -> np.ndarray:
    """All p singular values of matrix·2^-exponent by the Gram route, descending.

    Raises ``numpy.linalg.LinAlgError`` when the eigensolver does not converge.
    """
    lam = scipy.linalg.eigvalsh(gram(matrix, exponent), lower=False, overwrite_a=True, check_finite=False, driver="ev")
    return np.sqrt(np.clip(lam, 0.0, None))[::-1].copy()


def gesdd_sigma(tall: np.ndarray, dtype: np.dtype, exponent: int) -> tuple[np.ndarray, str]:
    """All singular values of tall·2^-exponent by LAPACK in ``dtype``: (σ descending, route)."""

    def scaled_copy() -> np.ndarray:
        a = np.array(tall, dtype=dtype, order="F", copy=True)
        scaled: np.ndarray = np.ldexp(a, -exponent, out=a)
        return scaled

    try:
        sigma, route = scipy.linalg.svdvals(scaled_copy(), overwrite_a=True, check_finite=False), "gesdd"
    except np.linalg.LinAlgError:  # gesdd's divide and conquer failed to converge: the QR iteration is slower but robust
        sigma = scipy.linalg.svd(scaled_copy(), compute_uv=False, overwrite_a=True, check_finite=False, lapack_driver="gesvd")
        route = "gesvd"
    return np.sort(sigma.astype(np.float64))[::-1].copy(), route


def gram_extremes(matrix: np.ndarray, exponent: int, k: int, delta: float) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    """Top-k σ and σmin of matrix·2^-exponent with error bounds, by Lanczos on its Gram matrix.

    Returns
    -------
    (sigma, sigma_err, sigma_min, sigma_min_err) : the k largest values descending and a bound on
        the error of each, σmin and its error estimate (scaled units); None when a Lanczos
        iteration does not converge.

    Notes
    -----
    G = TᵀT in float64 as in :func:`gram` (the only O(m·n·p) step). Top k: Lanczos (ARPACK) on G
    with x ↦ Gx (``dsymv``); each Ritz pair (λ̂i, xi) has residual ri = ‖Gxi − λ̂i·xi‖, so an
    eigenvalue of G lies within ri of λ̂i and one of WᵀW within δ + ri; the σ bound is
    min(√(δ + ri), (δ + ri)/σ̂i). σmin: G = RᵀR (``dpotrf``); μ̂ = λmax(G⁻¹) by Lanczos with
    x ↦ R⁻¹R⁻ᵀx and residual r: λmin(G) ∈ [1/(μ̂ + r), 1/μ̂], so λmin(WᵀW) ∈ [1/(μ̂ + r) − δ, 1/μ̂ + δ];
    σ̂min = 1/√μ̂, its error the larger distance to the square roots of those ends. A failed
    factorization means G is not numerically positive definite: σmin is below the resolution,
    reported as 0 ± √δ. Cost beyond G: p³/3 flops and O(p²) per Lanczos step.
    """
    import scipy.sparse.linalg  # only --spectrum fast needs it (0.3 s of imports per process)

    try:
        return _gram_extremes(matrix, exponent, k, delta, scipy.sparse.linalg)
    except scipy.sparse.linalg.ArpackNoConvergence:
        return None


def _gram_extremes(matrix: np.ndarray, exponent: int, k: int, delta: float, sla: Any) -> tuple[np.ndarray, np.ndarray, float, float]:
    g = gram(matrix, exponent)
    p = g.shape[0]
    v0 = np.random.default_rng(p).standard_normal(p)  # deterministic: same result in any process

    def times_g(x: np.ndarray) -> np.ndarray:
        return dsymv(1.0, g, x, lower=0)

    op = sla.LinearOperator((p, p), matvec=times_g, dtype=np.float64)
    lam, vecs = sla.eigsh(op, k=k, which="LA", tol=LANCZOS_TOL, v0=v0)
    order = np.argsort(lam)[::-1]
    lam, vecs = lam[order], vecs[:, order]
    resid = np.array([np.linalg.norm(times_g(vecs[:, i]) - lam[i] * vecs[:, i]) for i in range(k)])
    sigma = np.sqrt(np.clip(lam, 0.0, None))
    bound = delta + resid
    with np.errstate(divide="ignore"):
        sigma_err = np.minimum(np.sqrt(bound), np.where(sigma > 0, bound / sigma, np.inf))
    try:
        r = scipy.linalg.cholesky(g, lower=False, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        return sigma, sigma_err, 0.0, math.sqrt(delta)

    def solve(x: np.ndarray) -> np.ndarray:
        return scipy.linalg.cho_solve((r, False), x, check_finite=False)

    inv = sla.LinearOperator((p, p), matvec=solve, dtype=np.float64)
    vals, vec = sla.eigsh(inv, k=1, which="LA", tol=LANCZOS_TOL, v0=v0)
    mu, x = float(vals[0]), vec[:, 0]
    if not (mu > 0 and math.isfinite(mu)):
        return sigma, sigma_err, 0.0, math.sqrt(delta)
    res = float(np.linalg.norm(solve(x) - mu * x))
    s_min = 1.0 / math.sqrt(mu)
    lo = math.sqrt(max(0.0, 1.0 / (mu + res) - delta))
    hi = math.sqrt(1.0 / mu + delta)
    return sigma, sigma_err, s_min, max(s_min - lo, hi - s_min)
