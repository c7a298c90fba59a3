"""The one SVD per matrix, and what follows from its singular values alone.

Every spectral pass (spectrum, rank, condition, NMF's error floor, alpha) reads the
:class:`Spectrum` computed here; none recomputes it.

Accuracy
--------
LAPACK's bidiagonal SVD (gesdd) computes every σi with absolute error ≲ max(m,n)·eps·σ1 in
the dtype it runs in. ``precision="auto"`` runs float32 for data stored in ≤ 16 bits — its
error (≈ 1e-7·max(m,n)·σ1) lies far below the storage noise of BF16/F16/F8 — and float64 for
F32/F64 storage, so F32 weights keep their full 2^-24 resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg

from weightlens.elementwise import pow2_scale

Precision = Literal["auto", "float32", "float64"]

class SpectrumOverflow(ArithmeticError):
    """σ1 of a finite matrix is beyond float64 (entries near 1.8e308 in F64 storage)."""


RANK_TOL_FACTOR = 2.0
"""c in the storage term of the rank tolerance."""


@dataclass(frozen=True)
class Spectrum:
    """Singular values of one matrix and the rank tolerance they are read with.

    Attributes
    ----------
    sigma : all p = min(m, n) singular values, float64, descending.
    shape : (m, n) as stored.
    route : how σ was computed ("gesdd"; "gesvd" when gesdd did not converge).
    compute_dtype : "float32" or "float64", the dtype the SVD ran in.
    eps_compute : machine epsilon of ``compute_dtype``.
    u_store : unit roundoff of the storage dtype.
    storage_noise : c·u_store·(max_i ‖w_i,:‖ + max_j ‖w_:,j‖)/√3, the spectral norm that
        rounding W to its storage dtype adds (see Notes); for matrices not stored as such
        (a difference of two checkpoints, a LoRA product) the noise their inputs carry.
    svd_error : max(m, n)·eps_compute·σ1, the SVD's own error bound.
    tol : max(storage_noise, svd_error); σi ≤ tol is numerically zero.

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

    @property
    def p(self) -> int:
        return int(self.sigma.size)

    @property
    def sigma_max(self) -> float:
        return float(self.sigma[0])

    @property
    def sigma_min(self) -> float:
        return float(self.sigma[-1])

    @property
    def rank(self) -> int:
        """numerical_rank = #{σi > tol}."""
        return int(np.count_nonzero(self.sigma > self.tol))

    @property
    def fro_norm(self) -> float:
        """‖W‖F = sqrt(Σσi²), scaled by σ1 so that squaring cannot overflow."""
        s1 = self.sigma_max
        return s1 * math.sqrt(float(np.sum((self.sigma / s1) ** 2))) if s1 > 0 else 0.0

    def energy(self) -> np.ndarray:
        """Cumulative energy fractions Σ_{i≤k} σi² / Σσi² for k = 1..p (zeros for W = 0)."""
        s1 = self.sigma_max
        if s1 == 0:
            return np.zeros(self.p)
        sq = (self.sigma / s1) ** 2
        return np.cumsum(sq) / sq.sum()

    def energy_rank(self, tau: float) -> int:
        """Smallest k with Σ_{i≤k} σi² ≥ τ·‖W‖F² (0 for W = 0)."""
        if self.sigma_max == 0:
            return 0
        # Relative slack of a few ulps so that τ = 1 or an exact-rank matrix is not missed by rounding.
        return int(np.searchsorted(self.energy(), tau * (1 - 8 * np.finfo(float).eps))) + 1

    def rel_error(self, k: int) -> float:
        """svd_rel_error(k) = sqrt(Σ_{i>k} σi² / Σσi²), the Eckart–Young rank-k floor.

        The tail is summed from the smallest value up, so tiny errors keep full relative precision.
        """
        s1 = self.sigma_max
        if s1 == 0:
            return 0.0
        sq = (self.sigma / s1) ** 2
        return math.sqrt(float(np.sum(sq[k:][::-1])) / float(np.sum(sq)))


def noise_from_norms(max_row_norm: float, max_col_norm: float, u_store: float = 1.0) -> float:
    """c·u_store·(max_i ‖w_i,:‖ + max_j ‖w_:,j‖)/√3: the spectral norm of rounding W to u_store.

    Pass ``u_store = 1`` with norms already weighted by each element's unit roundoff (as ``diff``
    does for the rounding of two matrices of different dtypes). See :class:`Spectrum`, Notes.
    """
    return RANK_TOL_FACTOR * u_store * (max_row_norm + max_col_norm) / math.sqrt(3.0)


def row_col_sq(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Squared row and column norms of W/s, float64, and s: the power of two ≥ max|w|.

    Dividing by s is exact and keeps the squares in range; the norms of W are s·sqrt(...),
    which stays finite even where the squares themselves would not.
    """
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
) -> Spectrum:
    """Singular values of a finite matrix and its storage-aware rank tolerance.

    Parameters
    ----------
    matrix : (m, n) finite float array, as stored.
    u_store : unit roundoff of the dtype ``matrix`` was stored in.
    precision : dtype of the SVD ("auto": float32 for ≤ 16-bit storage, float64 otherwise).
    max_abs : max |w| if already known (saves a scan).
    storage_noise : the rounding noise of ``matrix`` when it is not that of rounding ``matrix``
        itself to ``u_store`` — e.g. for a difference of two stored matrices, whose noise comes
        from the rounding of both and is not proportional to the difference's own norms.
        Default: computed from ``matrix``'s row and column norms.

    Returns
    -------
    Spectrum

    Notes
    -----
    The SVD runs on the tall orientation (Wᵀ when m < n: same σ) of W/s, s the power of two
    ≥ max|w| (exact, keeps σ² far from overflow and underflow), and σ is scaled back by s.
    tol = max(storage_noise, max(m, n)·eps_compute·σ1).
    """
    m, n = matrix.shape
    dtype = compute_dtype_for(u_store, precision)
    eps = float(np.finfo(dtype).eps)
    if max_abs is None:
        max_abs = float(np.abs(matrix).max())
    scale = pow2_scale(max_abs)
    exponent = math.frexp(scale)[1] - 1  # scale = 2**exponent
    tall = matrix if m >= n else matrix.T

    def scaled_copy() -> np.ndarray:
        a = np.array(tall, dtype=dtype, order="F", copy=True)
        return np.ldexp(a, -exponent, out=a)

    a = scaled_copy()
    if storage_noise is None:
        row_sq = np.einsum("ij,ij->i", a, a, dtype=np.float64)
        col_sq = np.einsum("ij,ij->j", a, a, dtype=np.float64)
        noise = scale * noise_from_norms(math.sqrt(row_sq.max()), math.sqrt(col_sq.max()), u_store)
        del row_sq, col_sq
    else:
        noise = storage_noise
    route = "gesdd"
    try:
        sigma = scipy.linalg.svdvals(a, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:  # gesdd's divide and conquer failed to converge: the QR iteration is slower but robust
        route = "gesvd"
        sigma = scipy.linalg.svd(scaled_copy(), compute_uv=False, overwrite_a=True, check_finite=False, lapack_driver="gesvd")
    del a
    with np.errstate(over="ignore"):
        sigma = np.sort(sigma.astype(np.float64) * scale)[::-1].copy()
    if not np.isfinite(sigma[0]):
        raise SpectrumOverflow(f"σ1 exceeds the float64 range (max|w| = {max_abs:.3g})")
    svd_error = max(m, n) * eps * float(sigma[0])
    return Spectrum(
        sigma=sigma,
        shape=(m, n),
        route=route,
        compute_dtype=dtype.name,
        eps_compute=eps,
        u_store=u_store,
        storage_noise=noise,
        svd_error=svd_error,
        tol=max(noise, svd_error),
    )
