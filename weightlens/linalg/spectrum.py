"""The one SVD per matrix, and what follows from its singular values alone.

Every spectral pass (spectrum, rank, condition, NMF's error floor, alpha) reads the
:class:`Spectrum` computed here; none recomputes it.

Routes
------
:func:`compute_spectrum` picks, per matrix, the fastest route whose error stays far below what
the storage dtype can resolve (the routes and their bounds: :mod:`weightlens.linalg.routes`):

- ``gram`` — float64 Gram matrix + symmetric eigensolver, for data stored in ≤ 16 bits when its
  resolution √δ, δ = eps64·(m + n)·‖W‖F², is at most storage_noise/10. Measured 1.2–3.5× faster
  than float32 ``gesdd`` from 32² to 4096² on one core, and its bound is tighter than float32's.
- ``gesdd`` in float32 — other ≤ 16-bit data (error ≲ max(m,n)·eps32·σ1, below their storage
  noise); in float64 — F32/F64 data, so F32 weights keep their full 2^-24 resolution, and a matrix
  whose Gram eigensolver did not converge (the record says ``gesdd``/``float64``).
- ``lanczos`` — ``mode="fast"``: the same Gram matrix, but only its top-k and smallest
  eigenvalues, by Lanczos, each with an a-posteriori error bound (``complete`` is False).
``precision="float32"|"float64"`` forces ``gesdd`` in that dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from weightlens.linalg import blas, routes
from weightlens.linalg.elementwise import pow2_scale

Precision = Literal["auto", "float32", "float64"]
SpectrumMode = Literal["exact", "fast"]


class SpectrumOverflow(ArithmeticError):
    """σ1 of a finite matrix is beyond float64 (entries near 1.8e308 in F64 storage)."""


RANK_TOL_FACTOR = 2.0
"""c in the storage term of the rank tolerance."""

GRAM_MARGIN = 10.0
"""The Gram route is taken only when storage_noise ≥ GRAM_MARGIN × its resolution √δ."""

FAST_MIN_P = 512
"""``mode="fast"`` is partial only for matrices with p ≥ max(FAST_MIN_P, 4·top_k); smaller ones are computed exactly."""


@dataclass(frozen=True)
class Spectrum:
    """Singular values of one matrix and the rank tolerance they are read with.

    Attributes
    ----------
    sigma : float64, descending: all p = min(m, n) singular values, or only the leading
        ``top_k`` when ``complete`` is False (``mode="fast"``).
    shape : (m, n) as stored.
    route : how σ was computed: "gesdd", "gesvd" (gesdd did not converge), "gram", "lanczos".
    compute_dtype : "float32" or "float64", the dtype σ was computed in.
    eps_compute : machine epsilon of ``compute_dtype``.
    u_store : unit roundoff of the storage dtype.
    storage_noise : c·u_store·(max_i ‖w_i,:‖ + max_j ‖w_:,j‖)/√3, the spectral norm that
        rounding W to its storage dtype adds (see Notes); for matrices not stored as such
        (a difference of two checkpoints, a LoRA product) the noise their inputs carry.
    svd_error : the route's resolution: a bound on |σ̂i − σi| that holds for every σi down to 0
        (gesdd: max(m, n)·eps_compute·σ1; gram and lanczos: √δ).
    tol : max(storage_noise, svd_error); σi ≤ tol is numerically zero.
    complete : all p values were computed.
    sigma_error : a-priori (exact routes) or a-posteriori (lanczos) bound of |σ̂i − σi| for
        the values in ``sigma``; defaults to ``svd_error``.
    sigma_min_error : the same for σmin (the Gram route's δ/σ̂p is tighter than √δ for σp ≫ √δ).
    sigma_p : the estimate of σmin when ``complete`` is False.
    fro : ‖W‖F computed from the entries when ``complete`` is False.

    Notes
    -----
    Storing w in a dtype of unit roundoff u adds an error e with |e| ≤ u|w|, close to uniform,
    so Var(e_ij) ≤ u²w_ij²/3. The spectral norm of a matrix of independent errors is, up to a
    small factor, the largest row norm plus the largest column norm of their standard deviations
    (Latała 2005; Bandeira & van Handel 2016). For W with rows and columns of equal norm this is
    u·‖W‖F·(√m+√n)/√(3mn), the formula of METRICS.md; when a few rows or columns dominate
    (embeddings, outlier features) the Frobenius form underestimates the noise by up to √p/2 and
    counts rounding noise as rank, while this form stays a bound. It is never smaller.
    """

    sigma: np.ndarray
    shape: tuple[int, int]
    route: str
    compute_dtype: str
    eps_compute: float
    u_store: float
    storage_noise: float
    svd_error: float
    tol: float
    complete: bool = True
    sigma_error: float | None = None
    sigma_min_error: float | None = None
    sigma_p: float | None = None
    fro: float | None = None

    def __post_init__(self) -> None:
        if self.sigma_error is None:
            object.__setattr__(self, "sigma_error", self.svd_error)
        if self.sigma_min_error is None:
            object.__setattr__(self, "sigma_min_error", self.svd_error)

    @property
    def p(self) -> int:
        return min(self.shape)

    @property
    def sigma_max(self) -> float:
        return float(self.sigma[0])

    @property
    def sigma_min(self) -> float:
        return float(self.sigma[-1]) if self.sigma_p is None else self.sigma_p

    @property
    def rank(self) -> int | None:
        """numerical_rank = #{σi > tol}; None when a partial spectrum does not decide it.

        A partial spectrum decides it when σmin > tol (rank p) or when one of its leading values
        is ≤ tol (the count among them).
        """
        if self.complete:
            return int(np.count_nonzero(self.sigma > self.tol))
        if self.sigma_min > self.tol:
            return self.p
        count = int(np.count_nonzero(self.sigma > self.tol))
        return count if count < self.sigma.size else None

    @property
    def fro_norm(self) -> float:
        """‖W‖F = sqrt(Σσi²), scaled by σ1 so that squaring cannot overflow."""
        if self.fro is not None:
            return self.fro
        s1 = self.sigma_max
        return s1 * math.sqrt(float(np.sum((self.sigma / s1) ** 2))) if s1 > 0 else 0.0

    def energy(self) -> np.ndarray:
        """Cumulative energy fractions Σ_{i≤k} σi² / ‖W‖F² for the computed σ (zeros for W = 0)."""
        s1 = self.sigma_max
        if s1 == 0:
            return np.zeros(self.sigma.size)
        sq = (self.sigma / s1) ** 2
        total = sq.sum() if self.complete else (self.fro_norm / s1) ** 2
        return np.cumsum(sq) / total

    def energy_rank(self, tau: float) -> int | None:
        """Smallest k with Σ_{i≤k} σi² ≥ τ·‖W‖F² (0 for W = 0); None when beyond a partial spectrum."""
        if self.sigma_max == 0:
            return 0
        # Relative slack of a few ulps so that τ = 1 or an exact-rank matrix is not missed by rounding.
        k = int(np.searchsorted(self.energy(), tau * (1 - 8 * np.finfo(float).eps))) + 1
        return k if k <= self.sigma.size else None

    def rel_error(self, k: int) -> float | None:
        """svd_rel_error(k) = sqrt(Σ_{i>k} σi² / Σσi²), the Eckart–Young rank-k floor.

        The tail is summed from the smallest value up, so tiny errors keep full relative precision.
        From a partial spectrum: sqrt(1 − Σ_{i≤k} σ̂i²/‖W‖F²) (never below the true value, as
        σ̂i ≤ σi), or None for k beyond the computed values.
        """
        s1 = self.sigma_max
        if s1 == 0:
            return 0.0
        sq = (self.sigma / s1) ** 2
        if self.complete:
            return math.sqrt(float(np.sum(sq[k:][::-1])) / float(np.sum(sq)))
        if k > self.sigma.size:
            return None
        return math.sqrt(max(0.0, 1.0 - float(np.sum(sq[:k])) / (self.fro_norm / s1) ** 2))


def noise_from_norms(max_row_norm: float, max_col_norm: float, u_store: float = 1.0) -> float:
    """c·u_store·(max_i ‖w_i,:‖ + max_j ‖w_:,j‖)/√3: the spectral norm of rounding W to u_store.

    Pass ``u_store = 1`` with norms already weighted by each element's unit roundoff (as ``diff``
    does for the rounding of two matrices of different dtypes). See :class:`Spectrum`, Notes.
    """
    return RANK_TOL_FACTOR * u_store * (max_row_norm + max_col_norm) / math.sqrt(3.0)


def row_col_sq(matrix: np.ndarray, scale: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Squared row and column norms of W/s, float64, and s: the power of two ≥ max|w| (unless given).

    Dividing by s is exact and keeps the squares in range; the norms of W are s·sqrt(...),
    which stays finite even where the squares themselves would not.
    """
    if scale is None:
        scale = pow2_scale(float(np.abs(matrix).max()) if matrix.size else 0.0)
    rows = np.empty(matrix.shape[0])
    cols = np.zeros(matrix.shape[1])
    step = max(1, (1 << 20) // max(1, matrix.shape[1]))
    for start in range(0, matrix.shape[0], step):
        block = matrix[start : start + step].astype(np.float64) / scale
        block *= block
        rows[start : start + step] = block.sum(axis=1)
        cols += block.sum(axis=0)
    return rows, cols, scale


def compute_dtype_for(u_store: float, precision: Precision) -> np.dtype:
    """float32 for ≤ 16-bit storage (u_store ≥ 2^-11), float64 otherwise, unless forced."""
    if precision == "float32":
        return np.dtype(np.float32)
    if precision == "float64":
        return np.dtype(np.float64)
    return np.dtype(np.float32 if u_store >= 2.0**-11 else np.float64)


def compute_spectrum(
    matrix: np.ndarray,
    u_store: float,
    precision: Precision = "auto",
    max_abs: float | None = None,
    storage_noise: float | None = None,
    *,
    mode: SpectrumMode = "exact",
    top_k: int = 8,
) -> Spectrum:
    """Singular values of a finite matrix and its storage-aware rank tolerance.

    Parameters
    ----------
    matrix : (m, n) finite float array, as stored.
    u_store : unit roundoff of the dtype ``matrix`` was stored in.
    precision : "auto" chooses the route (module notes); "float32"/"float64" force gesdd in it.
    max_abs : max |w| if already known (saves a scan).
    storage_noise : the rounding noise of ``matrix`` when it is not that of rounding ``matrix``
        itself to ``u_store`` — e.g. for a difference of two stored matrices, whose noise comes
        from the rounding of both and is not proportional to the difference's own norms.
        Default: computed from ``matrix``'s row and column norms.
    mode : "exact" (all p values) or "fast" (top_k values and a σmin estimate, for
        p ≥ max(FAST_MIN_P, 4·top_k); exact below that).
    top_k : how many leading values ``mode="fast"`` computes.

    Returns
    -------
    Spectrum

    Raises
    ------
    SpectrumOverflow
        When σ1 is beyond float64 (entries near the F64 maximum).

    Notes
    -----
    Every route works on W/s, s the power of two ≥ max|w| (exact, keeps σ² far from overflow and
    underflow), on the tall orientation (Wᵀ when m < n: same σ); σ is scaled back by s.
    tol = max(storage_noise, svd_error), svd_error the route's resolution. BLAS runs on one thread
    for m·n·min(m, n) < :data:`weightlens.linalg.blas.MULTI_THREAD_WORK` (where more cannot pay).
    """
    m, n = matrix.shape
    with blas.threads_for(float(m) * n * min(m, n)):
        return _compute_spectrum(matrix, u_store, precision, max_abs, storage_noise, mode, top_k)


def _compute_spectrum(
    matrix: np.ndarray, u_store: float, precision: Precision, max_abs: float | None, storage_noise: float | None, mode: SpectrumMode, top_k: int
) -> Spectrum:
    m, n = matrix.shape
    p = min(m, n)
    dtype = compute_dtype_for(u_store, precision)
    if max_abs is None:
        max_abs = float(np.abs(matrix).max())
    scale = pow2_scale(max_abs)
    exponent = math.frexp(scale)[1] - 1  # scale = 2**exponent
    tall = matrix if m >= n else matrix.T
    rows, cols, _ = row_col_sq(matrix, scale)
    fro_sq = float(rows.sum())
    noise = scale * noise_from_norms(math.sqrt(rows.max()), math.sqrt(cols.max()), u_store) if storage_noise is None else storage_noise
    del rows, cols
    delta = routes.gram_delta(m, n, fro_sq)
    with np.errstate(over="ignore"):
        gram_resolution = scale * math.sqrt(delta)
    fast = None
    if mode == "fast" and p >= max(FAST_MIN_P, 4 * top_k):
        fast = routes.gram_extremes(matrix, exponent, top_k, delta)  # None: not converged, computed exactly below
    if fast is not None:
        top, top_err, s_min, s_min_err = fast
        return Spectrum(
            sigma=_scaled_back(top, scale, max_abs),
            route="lanczos",
            compute_dtype="float64",
            eps_compute=routes.EPS64,
            svd_error=gram_resolution,
            tol=max(noise, gram_resolution),
            complete=False,
            sigma_error=float(top_err.max()) * scale,
            sigma_min_error=s_min_err * scale,
            sigma_p=s_min * scale,
            fro=scale * math.sqrt(fro_sq),
            shape=(m, n),
            u_store=u_store,
            storage_noise=noise,
        )

    if precision == "auto" and u_store >= 2.0**-11 and GRAM_MARGIN * gram_resolution <= noise:
        try:
            sigma = _scaled_back(routes.gram_sigma(matrix, exponent), scale, max_abs)
        except np.linalg.LinAlgError:  # dsyev did not converge: the SVD of W itself, in float64 like the Gram route
            dtype = np.dtype(np.float64)
        else:
            return _gram_spectrum(sigma, gram_resolution, delta * scale**2, noise, (m, n), u_store)

    sigma, route = routes.gesdd_sigma(tall, dtype, exponent)
    sigma = _scaled_back(sigma, scale, max_abs)
    eps = float(np.finfo(dtype).eps)
    svd_error = max(m, n) * eps * float(sigma[0])
    return Spectrum(
        sigma=sigma,
        route=route,
        compute_dtype=dtype.name,
        eps_compute=eps,
        svd_error=svd_error,
        tol=max(noise, svd_error),
        shape=(m, n),
        u_store=u_store,
        storage_noise=noise,
    )


def _gram_spectrum(sigma: np.ndarray, resolution: float, delta: float, noise: float, shape: tuple[int, int], u_store: float) -> Spectrum:
    """The Spectrum of the ``gram`` route: σ within √δ = ``resolution``, σp within min(√δ, δ/σ̂p)."""
    return Spectrum(
        sigma=sigma,
        route="gram",
        compute_dtype="float64",
        eps_compute=routes.EPS64,
        svd_error=resolution,
        tol=max(noise, resolution),
        sigma_min_error=min(resolution, delta / sigma[-1]) if sigma[-1] > 0 else resolution,
        shape=shape,
        u_store=u_store,
        storage_noise=noise,
    )


def _scaled_back(sigma: np.ndarray, scale: float, max_abs: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        sigma = sigma * scale
    if not np.isfinite(sigma[0]):
        raise SpectrumOverflow(f"σ1 exceeds the float64 range (max|w| = {max_abs:.3g})")
    return sigma
