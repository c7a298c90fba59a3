"""Rank-k non-negative factorizations W ≈ F·G, in numpy/scipy, without ever forming F·G.

Two problems, one solver (:mod:`weightlens.linalg.nmf_newton`: projected Gauss–Newton with
Levenberg–Marquardt damping, steps solved by preconditioned conjugate gradients, exact block passes
where the model finds no step):

* :func:`semi_nmf` — F signed, G ≥ 0 (Ding, Li & Jordan 2010), for signed weights. It starts from
  the truncated SVD of rank k−1 written as an exact rank-k semi-NMF (:func:`semi_nmf_init`), so its
  error is never above the SVD's rank-(k−1) error.
* :func:`nonneg_nmf` — classic NMF, F ≥ 0 and G ≥ 0, started from NNDSVDa (Boutsidis &
  Gallopoulos 2008, zeros filled with mean(W)).

Why not alternating updates
---------------------------
HALS, ANLS and multiplicative updates move one factor with the other fixed. On exact low-rank
non-negative inputs the error then falls sublinearly: the factors must also move along directions
that change F and G together while leaving F·G nearly unchanged, which no one-factor step sees.
(Rank-8 300×200 with dense factors: accelerated HALS 0.009 after 200 iterations, scikit-learn's cd
0.011, ANLS 0.007 after 100, accelerated HALS with extrapolation (Ang & Gillis 2019) 0.004.) A
Gauss–Newton step moves both factors at once and reaches 1e-14 there (bench/nmf_bench.py; README,
"NMF compression error").

Cost
----
Each iteration multiplies W by a k-row block twice (G Wᵀ and Fᵀ W: O(mnk), BLAS-3); the
conjugate-gradient iterations cost O((m+n)k²) each. The factors are kept as Fᵀ (k×m) and G (k×n),
C-contiguous.

Accuracy of the reported error
------------------------------
The expansion ‖W − FG‖F² = ‖W‖F² − 2⟨Fᵀ W, G⟩ + ⟨FᵀF, G Gᵀ⟩ cancels: it cannot resolve a relative
error below about sqrt(eps) of the dtype the products ran in (1e-8 in float64, 3e-4 in float32). The
solver never uses it (it tracks the change of each step, see :mod:`weightlens.linalg.nmf_newton`); the
error returned is evaluated once at the end from the residual itself, R = W − F G in float64, one
block of rows (≈ 8 MB) at a time — O(mnk) once, accurate to rounding, and still no m×n product in
memory.

Stopping rule
-------------
Converged: the relative KKT residual κ (:func:`weightlens.linalg.nmf_newton.kkt_residual`) is at its
rounding level, or the error is 0, or neither the Gauss–Newton model nor 10 exact block passes lower
the error by ``tol`` (relative); otherwise the solver stops after ``max_iter`` iterations (not
converged). Details in :mod:`weightlens.linalg.nmf_newton`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import scipy.linalg

from weightlens.linalg import blas
from weightlens.linalg.elementwise import pow2_scale
from weightlens.linalg.nmf_newton import Solution, dot64, residual_sq, solve

Seed = int | Sequence[int] | np.random.Generator
"""Anything :func:`numpy.random.default_rng` accepts."""

OVERSAMPLE = 10
"""Extra columns of the randomized range finder (Halko, Martinsson & Tropp 2011)."""

MAX_POWER_ITERS = 30
"""Upper bound on subspace iterations when a target error is given."""

NNDSVD_POWER_ITERS = 1
"""Subspace iterations behind the NNDSVD start: it only shapes the start, and one iteration is as
good as more on the benchmarks (bench/nmf_bench.py)."""

SINGLE_THREAD_BELOW = 1 << 24
"""Solves whose products W·(k-block) have fewer multiply-adds (m·n·k) than this run BLAS on one
thread. They make thousands of small BLAS calls, each too small to gain from a second thread; with
several, every call waits for the other threads to be scheduled, which on a busy machine made
the shipped sample 15× slower (45 s instead of 3 s on 2 shared cores)."""


@dataclass(frozen=True)
class NMFResult:
    """A rank-k factorization W ≈ F·G and how it was reached.

    Attributes
    ----------
    F : (m, k) left factor (signed for semi-NMF, ≥ 0 for NMF).
    G : (k, n) right factor, ≥ 0.
    rel_error : ‖W − FG‖F / ‖W‖F (0 for W = 0), from the residual in float64.
    iterations : iterations run (steps tried; a rejected step leaves the factors unchanged).
    converged : the stopping rule was met before ``max_iter``.
    history : relative error of the start (index 0) and after each iteration, as the solver
        tracked it (non-increasing).
    kkt : relative KKT residual κ at the returned factors (:func:`weightlens.linalg.nmf_newton.kkt_residual`).
    """

    F: np.ndarray
    G: np.ndarray
    rel_error: float
    iterations: int
    converged: bool
    history: np.ndarray
    kkt: float


_Solver = TypeVar("_Solver", bound=Callable[..., NMFResult])


def _one_blas_thread_when_small(solver: _Solver) -> _Solver:
    """Run ``solver(w, k, ...)`` with BLAS on one thread when m·n·k < SINGLE_THREAD_BELOW."""

    @functools.wraps(solver)
    def run(w: np.ndarray, k: int, *args: Any, **kwargs: Any) -> NMFResult:
        shape = np.shape(w)
        if len(shape) == 2 and isinstance(k, (int, np.integer)) and shape[0] * shape[1] * int(k) < SINGLE_THREAD_BELOW:
            with blas.controller().limit(limits=1, user_api="blas"):
                return solver(w, k, *args, **kwargs)
        return solver(w, k, *args, **kwargs)

    # A Concatenate[ndarray, int, P] signature cannot be returned by a wrapper whose w and k may also
    # be given by keyword (P could name them too); the wrapper keeps the solver's signature instead.
    return cast("_Solver", run)


def _prepare(w: np.ndarray, k: int, tol: float, max_iter: int) -> tuple[np.ndarray, float]:
    """Check the arguments; return W in its compute dtype (float64 stays, anything else runs in
    float32), divided by a power of two s only when its magnitude could overflow or underflow the
    products, and s."""
    w = np.asarray(w)
    if w.ndim != 2 or w.dtype.kind != "f":
        raise ValueError(f"W: expected a 2-D floating-point array, got shape {w.shape} dtype {w.dtype}")
    p = min(w.shape)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= p:
        raise ValueError(f"k: expected an integer in [1, min(m, n) = {p}], got {k!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise ValueError(f"max_iter: expected an integer >= 0, got {max_iter!r}")
    if not 0.0 <= tol < 1.0:
        raise ValueError(f"tol: expected 0 <= tol < 1, got {tol!r}")
    dtype = np.dtype(np.float64 if w.dtype == np.float64 else np.float32)
    max_abs = max(float(w.max()), -float(w.min())) if w.size else 0.0  # |W| without a copy of W
    if not math.isfinite(max_abs):
        raise ValueError("W: expected finite values, got NaN or Inf")
    s = pow2_scale(max_abs)
    if 2.0**-32 <= s <= 2.0**32:
        return np.asarray(w, dtype=dtype), 1.0
    out = np.array(w, dtype=dtype)
    out *= dtype.type(1.0 / s)
    return out, s


def top_singular_triplets(
    w: np.ndarray,
    r: int,
    rng: np.random.Generator,
    *,
    power_iters: int = NNDSVD_POWER_ITERS,
    target_error_sq: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Approximate leading r singular triplets of W by randomized subspace iteration.

    Parameters
    ----------
    w : (m, n) matrix.
    r : number of triplets, 0 ≤ r ≤ min(m, n).
    rng : random generator of the starting block.
    power_iters : subspace iterations when ``target_error_sq`` is None.
    target_error_sq : iterate until the squared error of the rank-r approximation is at most
        this, or ``MAX_POWER_ITERS`` iterations.

    Returns
    -------
    U (m, r), s (r,), Vt (r, n), and ‖W − U diag(s) Vt‖F² (float64).

    Notes
    -----
    Halko, Martinsson & Tropp (2011), Algorithm 4.4: Q = orth(W Ω) with ℓ = r + 10 Gaussian
    columns, then Q ← orth(W orth(Wᵀ Q)) per iteration; B = QᵀW (ℓ×n, a by-product of the
    iteration) is decomposed exactly and truncated to r: U = Q U_B. Each iteration costs two
    O(mnℓ) products. U has orthonormal columns and U diag(s) Vt = U Uᵀ W, so the error is
    ‖W‖F² − Σ_{i≤r} s_i², known at every iteration.
    """
    m, n = w.shape
    dtype = w.dtype
    w_sq = dot64(w, w)
    if r == 0:
        return np.zeros((m, 0), dtype), np.zeros(0, dtype), np.zeros((0, n), dtype), w_sq
    ell = min(r + OVERSAMPLE, m, n)
    q = np.linalg.qr(w @ rng.standard_normal((n, ell)).astype(dtype, copy=False))[0]
    max_iters = power_iters if target_error_sq is None else MAX_POWER_ITERS
    for it in range(max_iters + 1):
        b = q.T @ w
        ub, s, vt = scipy.linalg.svd(b, full_matrices=False, check_finite=False)
        err_sq = max(w_sq - float(np.sum(s[:r].astype(np.float64) ** 2)), 0.0)
        if it == max_iters or (target_error_sq is not None and err_sq <= target_error_sq):
            break
        q = np.linalg.qr(w @ np.linalg.qr(b.T)[0])[0]
    return q @ ub[:, :r], s[:r], vt[:r], err_sq


def semi_nmf_init(u: np.ndarray, s: np.ndarray, vt: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A rank-k semi-NMF (F signed, G ≥ 0) with F·G = U diag(s) Vt exactly, from k−1 triplets.

    With c_i = max(0, −min_j Vt_ij), the smallest shift that makes row i of Vt non-negative:
    G = [Vt + c·1ᵀ; 1ᵀ] ≥ 0 and F = [U S, −U S c], so F G = U S Vt + U S c 1ᵀ − U S c 1ᵀ = U S Vt.
    For k = 1: F = 0, G = 1ᵀ. Returned as (Fᵀ, G), both (k, ·), C-contiguous.
    """
    m, n = u.shape[0], vt.shape[1]
    ft = np.empty((k, m), u.dtype)
    g = np.empty((k, n), u.dtype)
    c = np.maximum(-vt.min(axis=1, initial=0), 0)
    ft[:-1] = s[:, None] * u.T
    ft[-1] = -(c @ ft[:-1])
    g[:-1] = vt + c[:, None]
    g[-1] = 1
    return ft, g


def nndsvda_init(u: np.ndarray, s: np.ndarray, vt: np.ndarray, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """NNDSVD (Boutsidis & Gallopoulos 2008) from k leading triplets of W ≥ 0, with zeros replaced
    by ``fill`` (NNDSVDa uses mean(W)). Returned as (Fᵀ, G), both (k, ·), C-contiguous.

    Each triplet (σ, x, y) keeps the sign pattern of larger mass: with x± = max(±x, 0), y± alike
    and m± = ‖x±‖‖y±‖, its component is sqrt(σ m±)·(x±/‖x±‖)(y±/‖y±‖)ᵀ. (For the first triplet
    of a non-negative W, x and y have one sign each, by Perron–Frobenius.)
    """
    xp, xn = np.maximum(u.T, 0), np.maximum(-u.T, 0)
    yp, yn = np.maximum(vt, 0), np.maximum(-vt, 0)
    nxp, nxn = np.linalg.norm(xp, axis=1), np.linalg.norm(xn, axis=1)
    nyp, nyn = np.linalg.norm(yp, axis=1), np.linalg.norm(yn, axis=1)
    pos = nxp * nyp >= nxn * nyn
    x, nx = np.where(pos[:, None], xp, xn), np.where(pos, nxp, nxn)
    y, ny = np.where(pos[:, None], yp, yn), np.where(pos, nyp, nyn)
    weight = np.sqrt(s * nx * ny)
    tiny = np.finfo(u.dtype).tiny
    ft = x * (weight / np.maximum(nx, tiny))[:, None]
    g = y * (weight / np.maximum(ny, tiny))[:, None]
    ft[ft == 0] = fill
    g[g == 0] = fill
    return np.ascontiguousarray(ft), np.ascontiguousarray(g)


def unscale(f: np.ndarray, g: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Factors of s·F·G, with the power of two s = 2^e split between them per component.

    Component j gets F_j·2^a_j and G_j·2^(e−a_j), with a_j chosen so that both have about the
    same largest entry, √(max|F_j|·max|G_j|·s). Exact (a power of two is a shift of the exponent,
    never a rounding); and neither factor overflows where s·F would: near the float32 limit s
    itself (2^128) is not a float32.
    """
    e = math.frexp(s)[1] - 1
    f_max = np.abs(f).max(axis=0).astype(np.float64)
    g_max = np.abs(g).max(axis=1).astype(np.float64)
    log_ratio = np.log2(np.where(g_max > 0, g_max, 1.0)) - np.log2(np.where(f_max > 0, f_max, 1.0))
    a = np.rint((e + log_ratio) / 2).astype(np.int64)
    return np.ldexp(f, a[None, :]), np.ldexp(g, (e - a)[:, None])


def _result(w: np.ndarray, sol: Solution, s: float) -> NMFResult:
    res_sq, w_sq = residual_sq(w, sol.x1, sol.x2)
    f, g = sol.x1.T.copy(), sol.x2
    if s != 1.0:
        f, g = unscale(f, g, s)
    rel_error = math.sqrt(res_sq / w_sq) if w_sq > 0 else 0.0
    return NMFResult(f, g, rel_error, len(sol.history) - 1, sol.converged, np.array(sol.history), sol.kkt)


def _solve(w: np.ndarray, ft: np.ndarray, g: np.ndarray, scale: float, *, nonneg_f: bool, tol: float, max_iter: int) -> NMFResult:
    """Run the solver from (Fᵀ, G); W = 0 needs no iterations."""
    res_sq, w_sq = residual_sq(w, ft, g)
    if w_sq == 0.0:
        return _result(w, Solution(ft, g, [0.0], 0.0, True), scale)
    return _result(w, solve(w, ft, g, 0.5 * res_sq, nonneg1=nonneg_f, tol=tol, max_iter=max_iter), scale)


@_one_blas_thread_when_small
def semi_nmf(
    w: np.ndarray,
    k: int,
    *,
    tol: float = 1e-4,
    max_iter: int = 200,
    seed: Seed = 0,
    sigma: np.ndarray | None = None,
) -> NMFResult:
    """Semi-NMF: min ‖W − F G‖F over F (m×k, signed) and G (k×n) ≥ 0.

    Parameters
    ----------
    w : (m, n) finite float matrix; float64 runs in float64, other dtypes in float32.
    k : rank, 1 ≤ k ≤ min(m, n).
    tol : stopping tolerance: the relative decrease of the error still to be found (module notes).
    max_iter : maximum iterations.
    seed : seed of the randomized start; same seed and input, same result.
    sigma : all singular values of W, if known (e.g. ``Spectrum.sigma``). They give the optimal
        rank-(k−1) error, and the start's subspace iteration then runs until its error is within
        a factor (1 + tol) of it (at most ``MAX_POWER_ITERS`` iterations). Without them it runs
        ``NNDSVD_POWER_ITERS`` iterations.

    Returns
    -------
    NMFResult

    Raises
    ------
    ValueError : W not a finite 2-D float array; k, tol or max_iter out of range.

    Notes
    -----
    Start: the rank-(k−1) truncated SVD U S Vᵀ (randomized, :func:`top_singular_triplets`) as an
    exact rank-k semi-NMF (:func:`semi_nmf_init`), error e_0 = ‖W − U S Vᵀ‖F. The solver
    (:func:`weightlens.linalg.nmf_newton.solve`, F free) keeps a step only when it lowers the error, so at
    every iteration

        ‖W − F G‖F ≤ e_0 ≤ (1 + tol)·svd_rel_error(k−1)·‖W‖F   (the second with ``sigma``).

    The error cannot go below svd_rel_error(k) (Eckart–Young).
    """
    w, scale = _prepare(w, k, tol, max_iter)
    rng = np.random.default_rng(seed)
    target = None
    if sigma is not None:
        sq = (np.sort(np.asarray(sigma, dtype=np.float64)) / scale) ** 2
        tail_sq = float(np.sum(sq[: sq.size - (k - 1)]))
        target = tail_sq * (1 + tol) ** 2 + 64 * float(np.finfo(w.dtype).eps) * float(np.sum(sq))
    u, s, vt, _ = top_singular_triplets(w, k - 1, rng, power_iters=NNDSVD_POWER_ITERS, target_error_sq=target)
    ft, g = semi_nmf_init(u, s, vt, k)
    return _solve(w, ft, g, scale, nonneg_f=False, tol=tol, max_iter=max_iter)


@_one_blas_thread_when_small
def nonneg_nmf(
    w: np.ndarray,
    k: int,
    *,
    tol: float = 1e-4,
    max_iter: int = 200,
    seed: Seed = 0,
) -> NMFResult:
    """NMF: min ‖W − F G‖F over F (m×k) ≥ 0 and G (k×n) ≥ 0, for W ≥ 0.

    Parameters
    ----------
    w : (m, n) finite non-negative float matrix; float64 runs in float64, other dtypes in float32.
    k : rank, 1 ≤ k ≤ min(m, n).
    tol : stopping tolerance: the relative decrease of the error still to be found (module notes).
    max_iter : maximum iterations.
    seed : seed of the randomized SVD behind the start; same seed and input, same result.

    Returns
    -------
    NMFResult

    Raises
    ------
    ValueError : W not a finite non-negative 2-D float array; k, tol or max_iter out of range.

    Notes
    -----
    Start: NNDSVDa from k approximate leading singular triplets (:func:`nndsvda_init`), scaled by
    the optimal factor α = ⟨W, F G⟩ / ‖F G‖F² (split evenly between F and G). Then
    :func:`weightlens.linalg.nmf_newton.solve` with both factors constrained; no step increases the error.
    """
    w, scale = _prepare(w, k, tol, max_iter)
    rng = np.random.default_rng(seed)
    if float(w.min()) < 0:
        raise ValueError(f"W: expected non-negative entries for NMF, got min {float(w.min()) * scale:.6g}")
    m, n = w.shape
    if not np.any(w):
        return _result(w, Solution(np.zeros((k, m), w.dtype), np.zeros((k, n), w.dtype), [0.0], 0.0, True), scale)
    u, s, vt, _ = top_singular_triplets(w, k, rng, power_iters=NNDSVD_POWER_ITERS)
    ft, g = nndsvda_init(u, s, vt, float(w.mean(dtype=np.float64)))
    cross, quad = dot64(ft @ w, g), dot64(ft @ ft.T, g @ g.T)
    alpha = cross / quad if quad > 0 else 1.0
    if alpha > 0:
        ft *= w.dtype.type(math.sqrt(alpha))
        g *= w.dtype.type(math.sqrt(alpha))
    return _solve(w, ft, g, scale, nonneg_f=True, tol=tol, max_iter=max_iter)
