"""Rank-k non-negative factorizations W ≈ F·G, in numpy/scipy, without ever forming F·G.

Two problems, one set of building blocks:

* :func:`semi_nmf` — F signed, G ≥ 0 (Ding, Li & Jordan 2010), for signed weights. F is the exact
  least-squares solution given G; G is updated by HALS. It starts from the truncated SVD of rank
  k−1 written as an exact rank-k semi-NMF (:func:`semi_nmf_init`), so its error is never above
  the SVD's rank-(k−1) error.
* :func:`nonneg_nmf` — classic NMF, F ≥ 0 and G ≥ 0, both updated by HALS (Cichocki & Phan 2009)
  with repeated inner sweeps (Gillis & Glineur 2012), started from NNDSVDa (Boutsidis &
  Gallopoulos 2008, zeros filled with mean(W)).

Cost
----
Each iteration multiplies W by a k-row block twice (G Wᵀ or its least-squares use, and Fᵀ W:
O(mnk), BLAS-3); everything else is O((m+n)k²). The error is read from those products,

    ‖W − FG‖F² = ‖W‖F² − 2⟨Fᵀ W, G⟩ + ⟨FᵀF, G Gᵀ⟩,

accumulated in float64 and clamped at 0; F·G (m×n) is never formed. The factors are kept as
Fᵀ (k×m) and G (k×n), C-contiguous, so every HALS update touches a contiguous row.

Accuracy of the reported error
------------------------------
The expanded formula cancels: it cannot resolve a relative error below about sqrt(eps) of the
dtype the products ran in (1e-8 in float64, 3e-4 in float32). It steers the iterations; the error
returned is evaluated once at the end from the residual itself, R = W − F G in float64, one block
of rows (≈ 8 MB) at a time — O(mnk) once, accurate to rounding, and still no m×n product in memory.

Stopping rule
-------------
After iteration t ≥ 10, stop ("converged") when the relative error e_t decreased by less than
``tol`` relative over the last 10 iterations, e_{t−10} − e_t < tol·e_{t−10}, or when e_t = 0;
otherwise stop after ``max_iter`` iterations (not converged).
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
from weightlens.linalg.elementwise import CHUNK, pow2_scale

Seed = int | Sequence[int] | np.random.Generator
"""Anything :func:`numpy.random.default_rng` accepts."""

WINDOW = 10
"""Iterations over which the relative decrease of the error is measured."""

OVERSAMPLE = 10
"""Extra columns of the randomized range finder (Halko, Martinsson & Tropp 2011)."""

MAX_POWER_ITERS = 30
"""Upper bound on subspace iterations when a target error is given."""

NNDSVD_POWER_ITERS = 1
"""Subspace iterations behind the NNDSVD start: it only shapes the start, and one iteration is as
good as more on the benchmarks (bench/nmf_bench.py)."""

INNER_ALPHA = 0.5
INNER_DELTA = 0.01
ROW_OVERHEAD = 20_000
"""Accelerated HALS (Gillis & Glineur 2012): sweeps over one factor repeat while their total cost
stays below INNER_ALPHA times that of the product feeding them and each sweep still moves the
factor by more than INNER_DELTA times the first (squared Frobenius norms). A row update is costed
at N·(k+1) flops plus ROW_OVERHEAD, the interpreter's fixed cost of one update in flops, so small
matrices do not spend their time in Python loops."""


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
    iterations : iterations run.
    converged : the stopping rule was met before ``max_iter``.
    history : relative error of the start (index 0) and after each iteration, from the expanded
        formula in the compute dtype.
    """

    F: np.ndarray
    G: np.ndarray
    rel_error: float
    iterations: int
    converged: bool
    history: np.ndarray


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


def _dot64(a: np.ndarray, b: np.ndarray) -> float:
    """⟨a, b⟩ = Σ a_ij b_ij accumulated in float64."""
    return float(np.einsum("ij,ij->", a, b, dtype=np.float64))


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
    max_abs = float(np.abs(w).max())
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
    w_sq = _dot64(w, w)
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


def hals_sweeps(x: np.ndarray, a: np.ndarray, q: np.ndarray, max_sweeps: int) -> None:
    """HALS for min_{X ≥ 0} ‖Z − Yᵀ X‖F, given A = Y Z (k×N) and Q = Y Yᵀ (k×k); X (k×N) in place.

    A sweep sets row j ← max(0, X_j + (A_j − Q_j X) / Q_jj) for j = 1..k in turn, each the exact
    minimizer over that row with the others fixed, so the objective never increases. Sweeps repeat
    up to ``max_sweeps`` while one moves X by more than INNER_DELTA times the first did (squared
    Frobenius norms). Rows whose Q_jj is below eps·max Q_ii (a numerically zero row of Y) are left
alone: they do not affect Yᵀ X.
    """
    diag = np.diagonal(q).copy()
    live = np.flatnonzero(diag > np.finfo(q.dtype).eps * diag.max())
    d = diag[live][:, None]
    rows = [(x[j], an, qn) for j, an, qn in zip(live, a[live] / d, q[live] / d, strict=True)]
    buf = np.empty(x.shape[1], x.dtype)
    first = 0.0
    for sweep in range(max_sweeps):
        before = x.copy()
        for row, an, qn in rows:
            np.subtract(an, qn @ x, out=buf)
            row += buf
            np.maximum(row, 0, out=row)
        before -= x
        moved = _dot64(before, before)
        if sweep == 0:
            first = moved
        elif moved <= INNER_DELTA * first:
            break


def _max_sweeps(rows: int, other: int, k: int) -> int:
    """Sweeps over a k×rows factor whose cost, k·(rows·(k+1) + ROW_OVERHEAD), stays within
    INNER_ALPHA times that of the k·rows·other product feeding them; at least 1."""
    rho = 1 + rows * other / (rows * (k + 1) + ROW_OVERHEAD)
    return 1 + int(INNER_ALPHA * rho)


def _least_squares_ft(ggt: np.ndarray, gwt: np.ndarray) -> np.ndarray:
    """Fᵀ = (G Gᵀ)⁻¹ G Wᵀ, the minimizer of ‖W − F G‖F over F: by Cholesky, or by the
    pseudo-inverse (minimum-norm minimizer) when G Gᵀ is singular."""
    try:
        return scipy.linalg.cho_solve((np.linalg.cholesky(ggt), True), gwt, check_finite=False)
    except np.linalg.LinAlgError:
        ft: np.ndarray = scipy.linalg.pinvh(ggt) @ gwt
        return ft


def residual_sq(w: np.ndarray, ft: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    """(‖W − F G‖F², ‖W‖F²) in float64 from the residual, one block of about 8 MB of rows at a time.

    Costs one O(mnk) product; never holds more than a block of F G.
    """
    ft = ft.astype(np.float64)
    g = g.astype(np.float64)
    rows = max(1, CHUNK // w.shape[1])
    res_sq = w_sq = 0.0
    for start in range(0, w.shape[0], rows):
        block = w[start : start + rows].astype(np.float64)
        w_sq += _dot64(block, block)
        block -= ft[:, start : start + rows].T @ g
        res_sq += _dot64(block, block)
    return res_sq, w_sq


def _converged(history: list[float], tol: float) -> bool:
    e = history[-1]
    if e == 0.0:
        return True
    if len(history) <= WINDOW:
        return False
    old = history[-1 - WINDOW]
    return old - e < tol * old


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


def _result(w: np.ndarray, ft: np.ndarray, g: np.ndarray, s: float, history: list[float], converged: bool) -> NMFResult:
    res_sq, w_sq = residual_sq(w, ft, g)
    f = ft.T.copy()
    if s != 1.0:
        f, g = unscale(f, g, s)
    rel_error = math.sqrt(res_sq / w_sq) if w_sq > 0 else 0.0
    return NMFResult(f, g, rel_error, len(history) - 1, converged, np.array(history))


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
    tol : stopping tolerance: relative decrease of the error over 10 iterations.
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
    exact rank-k semi-NMF (:func:`semi_nmf_init`), error e_0 = ‖W − U S Vᵀ‖F. Each iteration then
    sets F = W Gᵀ (G Gᵀ)⁻¹, the exact least-squares minimizer over F, and runs HALS sweeps over the
    rows of G with F fixed, each an exact minimization over one row on G ≥ 0. No step increases the
    error, so at every iteration

        ‖W − F G‖F ≤ e_0 ≤ (1 + tol)·svd_rel_error(k−1)·‖W‖F   (the second with ``sigma``),

    and the first F-step already improves on e_0, as the row space of G holds Vᵀ and 1ᵀ. The error
    cannot go below svd_rel_error(k) (Eckart–Young).
    """
    w, scale = _prepare(w, k, tol, max_iter)
    rng = np.random.default_rng(seed)
    target = None
    if sigma is not None:
        sq = (np.sort(np.asarray(sigma, dtype=np.float64)) / scale) ** 2
        tail_sq = float(np.sum(sq[: sq.size - (k - 1)]))
        target = tail_sq * (1 + tol) ** 2 + 64 * float(np.finfo(w.dtype).eps) * float(np.sum(sq))
    u, s, vt, err_sq = top_singular_triplets(w, k - 1, rng, power_iters=NNDSVD_POWER_ITERS, target_error_sq=target)
    ft, g = semi_nmf_init(u, s, vt, k)
    w_sq = _dot64(w, w)
    if w_sq == 0.0:
        return _result(w, ft, g, scale, [0.0], True)
    history = [math.sqrt(err_sq / w_sq)]
    sweeps = _max_sweeps(w.shape[1], w.shape[0], k)
    ggt = g @ g.T
    converged = False
    while len(history) <= max_iter:
        ft = _least_squares_ft(ggt, g @ w.T)
        ftf = ft @ ft.T
        ftw = ft @ w
        hals_sweeps(g, ftw, ftf, sweeps)
        ggt = g @ g.T
        err_sq = w_sq - 2 * _dot64(ftw, g) + _dot64(ftf, ggt)
        history.append(math.sqrt(max(err_sq, 0.0) / w_sq))
        if _converged(history, tol):
            converged = True
            break
    return _result(w, ft, g, scale, history, converged)


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
    tol : stopping tolerance: relative decrease of the error over 10 iterations.
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
    the optimal factor α = ⟨W, F G⟩ / ‖F G‖F² (split evenly between F and G). Each iteration runs
    HALS sweeps over the columns of F with G fixed, fed by G Wᵀ and G Gᵀ, then over the rows of G
    with F fixed, fed by Fᵀ W and FᵀF, repeating sweeps while they still move the factor
    (accelerated HALS). No step increases the error.
    """
    w, scale = _prepare(w, k, tol, max_iter)
    rng = np.random.default_rng(seed)
    if float(w.min()) < 0:
        raise ValueError(f"W: expected non-negative entries for NMF, got min {float(w.min()) * scale:.6g}")
    m, n = w.shape
    w_sq = _dot64(w, w)
    if w_sq == 0.0:
        return _result(w, np.zeros((k, m), w.dtype), np.zeros((k, n), w.dtype), scale, [0.0], True)
    u, s, vt, _ = top_singular_triplets(w, k, rng, power_iters=NNDSVD_POWER_ITERS)
    ft, g = nndsvda_init(u, s, vt, float(w.mean(dtype=np.float64)))
    ggt = g @ g.T
    cross, quad = _dot64(ft @ w, g), _dot64(ft @ ft.T, ggt)
    alpha = cross / quad if quad > 0 else 1.0
    if alpha > 0:
        ft *= w.dtype.type(math.sqrt(alpha))
        g *= w.dtype.type(math.sqrt(alpha))
        ggt *= w.dtype.type(alpha)
        cross, quad = alpha * cross, alpha * alpha * quad
    history = [math.sqrt(max(w_sq - 2 * cross + quad, 0.0) / w_sq)]
    sweeps_f = _max_sweeps(m, n, k)
    sweeps_g = _max_sweeps(n, m, k)
    converged = False
    while len(history) <= max_iter:
        hals_sweeps(ft, g @ w.T, ggt, sweeps_f)
        ftw = ft @ w
        ftf = ft @ ft.T
        hals_sweeps(g, ftw, ftf, sweeps_g)
        ggt = g @ g.T
        err_sq = w_sq - 2 * _dot64(ftw, g) + _dot64(ftf, ggt)
        history.append(math.sqrt(max(err_sq, 0.0) / w_sq))
        if _converged(history, tol):
            converged = True
            break
    return _result(w, ft, g, scale, history, converged)
