"""Matrices with planted, known properties: rank, spectrum, sparsity."""

from __future__ import annotations

import numpy as np


def gaussian(rng: np.random.Generator, m: int = 48, n: int = 32) -> np.ndarray:
    """An m×n matrix of i.i.d. N(0, 1/n) entries: full rank, well conditioned for m ≥ n, σ1 ≈ 1 + √(m/n)."""
    w: np.ndarray = rng.standard_normal((m, n)) / np.sqrt(n)
    return w


def orthonormal(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    """An m×k matrix with orthonormal columns (Haar-distributed, via QR with sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((m, k)))
    return q * np.sign(np.diag(r))


def with_spectrum(rng: np.random.Generator, m: int, n: int, sigma: np.ndarray) -> np.ndarray:
    """U·diag(σ)·Vᵀ with random orthonormal U (m×k), V (n×k): singular values exactly σ (float64)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    k = sigma.size
    w: np.ndarray = (orthonormal(rng, m, k) * sigma) @ orthonormal(rng, n, k).T
    return w


def low_rank(rng: np.random.Generator, m: int, n: int, r: int, scale: float = 1.0) -> np.ndarray:
    """A rank-r matrix with singular values spread evenly between scale and scale/2."""
    return with_spectrum(rng, m, n, np.linspace(scale, scale / 2, r))


def nonneg_low_rank(rng: np.random.Generator, m: int, n: int, r: int, zero_fraction: float = 0.5) -> np.ndarray:
    """A·B with A (m×r), B (r×n) ≥ 0: exponential entries, each zeroed with probability
    ``zero_fraction``. Sparse factors make the planted factorization essentially unique (the usual
    identifiability condition of NMF), so an NMF solver can be expected to recover it."""
    a = rng.exponential(size=(m, r)) * (rng.random((m, r)) >= zero_fraction)
    b = rng.exponential(size=(r, n)) * (rng.random((r, n)) >= zero_fraction)
    return a @ b


def geometric_spectrum(p: int, kappa: float, sigma_max: float = 1.0) -> np.ndarray:
    """p singular values decaying geometrically from sigma_max to sigma_max/kappa."""
    return sigma_max * np.geomspace(1.0, 1.0 / kappa, p)


def prune_unstructured(rng: np.random.Generator, w: np.ndarray, fraction: float) -> np.ndarray:
    """Zero exactly round(fraction·N) randomly chosen elements."""
    out = w.copy().reshape(-1)
    out[rng.permutation(out.size)[: round(fraction * out.size)]] = 0
    return out.reshape(w.shape)


def prune_2_4(w: np.ndarray) -> np.ndarray:
    """Zero the 2 smallest-magnitude elements of every group of 4 along the last axis."""
    groups = w.copy().reshape(-1, 4)
    smallest = np.argsort(np.abs(groups), axis=1)[:, :2]
    np.put_along_axis(groups, smallest, 0, axis=1)
    return groups.reshape(w.shape)


def power_law_sample(rng: np.random.Generator, n: int, alpha: float, xmin: float = 1.0, stratified: bool = True) -> np.ndarray:
    """n values from the continuous power law p(x) ∝ x^−α on x ≥ xmin, ascending.

    x = xmin·(1 − u)^(−1/(α−1)) (inverse CDF). ``stratified`` draws one u uniformly in each of the
    n cells [i/n, (i+1)/n): every value still comes from the law, but the sample's CDF stays within
    1/n of the law's, so a fit of n points is as accurate as an i.i.d. sample many times larger.
    """
    u = (np.arange(n) + rng.random(n)) / n if stratified else np.sort(rng.random(n))
    return xmin * (1.0 - u) ** (-1.0 / (alpha - 1.0))
