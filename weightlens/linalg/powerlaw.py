"""Clauset–Shalizi–Newman power-law fit of the tail of a sample (the heavy-tail exponent alpha).

Given positive values x (here the eigenvalues λ = σ² of WᵀW), the continuous power law

    p(x) = (α − 1)/xmin · (x/xmin)^(−α),   x ≥ xmin,

is fitted to the tail x ≥ xmin by maximum likelihood, and xmin is the candidate that makes the
fitted law closest to the data in Kolmogorov–Smirnov distance (Clauset, Shalizi & Newman 2009,
"Power-law distributions in empirical data", SIAM Review 51(4), §3.3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Quality = Literal["good", "few_tail_points", "poor_fit", "no_fit"]

MIN_POINTS = 8
"""Fewer positive values than this: no fit (WeightWatcher's default ``min_evals`` is also 8)."""

MIN_TAIL_GOOD = 50
"""A fit whose tail holds fewer points is flagged ``few_tail_points``."""

KS_CRITICAL = 1.358
"""c(0.05) of the one-sample Kolmogorov–Smirnov test: D > c/√n rejects the fit at the 5 % level."""

_CHUNK_ELEMENTS = 1 << 22
"""Candidate × tail elements evaluated at once (bounds memory at ~32 MB per temporary)."""


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted power-law tail.

    Attributes
    ----------
    alpha : the MLE exponent α̂ = 1 + n / Σ_{x_i ≥ xmin} ln(x_i/xmin).
    xmin : where the tail starts (one of the values).
    ks_distance : D = sup_x |F_n(x) − F(x)| between the tail's empirical CDF and the fitted one.
    n_tail : number of values x_i ≥ xmin.
    n : number of values the fit considered.
    stderr : the asymptotic standard error (α̂ − 1)/√n_tail.
    quality : "good", "few_tail_points" (n_tail < MIN_TAIL_GOOD) or "poor_fit" (D > KS_CRITICAL/√n_tail).
    """

    alpha: float
    xmin: float
    ks_distance: float
    n_tail: int
    n: int
    stderr: float
    quality: Quality

    def density(self, x: np.ndarray) -> np.ndarray:
        """The fitted density of the whole sample: (n_tail/n)·(α−1)/xmin·(x/xmin)^−α for x ≥ xmin, NaN below."""
        x = np.asarray(x, dtype=np.float64)
        out = (self.n_tail / self.n) * (self.alpha - 1) / self.xmin * (x / self.xmin) ** (-self.alpha)
        return np.where(x >= self.xmin, out, np.nan)


def fit_quality(n_tail: int, ks_distance: float) -> Quality:
    """"poor_fit" when D > KS_CRITICAL/√n_tail, else "few_tail_points" when n_tail < MIN_TAIL_GOOD, else "good".

    The KS test ignores that α and xmin were fitted to the same data, which makes D smaller than
    for a fixed law: a fit it still rejects is certainly poor.
    """
    if ks_distance > KS_CRITICAL / math.sqrt(n_tail):
        return "poor_fit"
    if n_tail < MIN_TAIL_GOOD:
        return "few_tail_points"
    return "good"


def _candidate_scan(x: np.ndarray, log_x: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """α̂ and KS distance D for the tails x[j:], j in ``starts`` (x ascending, ties start at their first index).

    α̂_j = 1 + n_j / (Σ_{i≥j} ln x_i − n_j ln x_j) from a reverse cumulative sum (O(N) for all j).
    D_j = max_{i≥j} max(F(x_i) − (i−j)/n_j, (i−j+1)/n_j − F(x_i)) with F(x) = 1 − (x/x_j)^(1−α̂_j):
    the two one-sided gaps just below and at each step of the empirical CDF, which is the exact
    supremum also with ties. Evaluated in blocks of candidates: O(N²) time, bounded memory.
    """
    N = x.size
    suffix = np.cumsum(log_x[::-1])[::-1]
    n_tail = (N - starts).astype(np.float64)
    log_sum = suffix[starts] - n_tail * log_x[starts]
    alphas = 1.0 + n_tail / log_sum
    ks = np.empty(starts.size)
    block = max(1, _CHUNK_ELEMENTS // N)
    for a in range(0, starts.size, block):
        js = starts[a : a + block, None]
        first = int(js[0, 0])
        inv_n = 1.0 / n_tail[a : a + block, None]
        # (1 − α)·ln(x_i/x_j) ≤ 0 inside the tail; clipping keeps the entries outside it finite.
        z = (1.0 - alphas[a : a + block, None]) * (log_x[None, first:] - log_x[js])
        np.minimum(z, 0.0, out=z)
        fitted = np.expm1(z, out=z)  # −F(x_i)
        # max(F − k/n, (k+1)/n − F) = |F − (k + ½)/n| + 1/(2n), k = i − j the position inside the tail
        k = np.arange(first, N)[None, :] - js
        fitted += (k + 0.5) * inv_n
        gap = np.abs(fitted, out=fitted)
        gap[k < 0] = -np.inf
        ks[a : a + block] = gap.max(axis=1) + 0.5 * inv_n[:, 0]
    return alphas, ks


def fit_power_law(values: np.ndarray) -> PowerLawFit | None:
    """Fit a continuous power law to the upper tail of positive values (Clauset–Shalizi–Newman).

    Parameters
    ----------
    values : 1-D array of values; non-positive and non-finite values are ignored.

    Returns
    -------
    PowerLawFit, or None when fewer than MIN_POINTS positive values or fewer than two distinct
    ones remain.

    Notes
    -----
    For every candidate xmin among the distinct values (all but the largest, so that the tail
    holds ≥ 2 points), the MLE of the tail x_i ≥ xmin (n points) is

        α̂ = 1 + n / Σ ln(x_i / xmin),

    and the KS distance D = sup |F_n − F| compares the tail's empirical CDF F_n with the fitted
    F(x) = 1 − (x/xmin)^(1−α̂). The fit with the smallest D is returned, with the standard error
    (α̂ − 1)/√n. The scan is exact over all candidates: O(N²) arithmetic in blocks of bounded
    size (N = 8192: ≈ 3·10⁷ exponentials, well under a second), small beside the O(N³) SVD that
    produced the eigenvalues.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = np.sort(x[np.isfinite(x) & (x > 0)])
    if x.size < MIN_POINTS:
        return None
    distinct = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])  # first index of each distinct value
    starts = distinct[:-1]
    if starts.size == 0:
        return None
    log_x = np.log(x)
    alphas, ks = _candidate_scan(x, log_x, starts)
    best = int(np.argmin(ks))
    j = int(starts[best])
    n_tail = x.size - j
    alpha = float(alphas[best])
    d = float(ks[best])
    return PowerLawFit(
        alpha=alpha,
        xmin=float(x[j]),
        ks_distance=d,
        n_tail=n_tail,
        n=int(x.size),
        stderr=(alpha - 1.0) / math.sqrt(n_tail),
        quality=fit_quality(n_tail, d),
    )
