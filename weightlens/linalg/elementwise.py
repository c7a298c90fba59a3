"""Elementwise statistics, computed in one chunked scan and shared by the passes.

Sums of squares are taken of values divided by max|w| (a power of two, so the scaling is
exact) and accumulated in float64: no overflow for values near the dtype's maximum, no
underflow for subnormals, and memory stays at one chunk beyond the tensor itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

CHUNK = 1 << 20
"""Elements per chunk of a scan (8 MB of float64 temporaries)."""


def chunks(values: np.ndarray, size: int = CHUNK) -> Iterator[np.ndarray]:
    """Consecutive 1-D pieces of a tensor's elements (views when contiguous)."""
    flat = values.reshape(-1)
    for start in range(0, flat.size, size):
        yield flat[start : start + size]


def pow2_scale(x: float) -> float:
    """Smallest power of two ≥ x, at most 2^1023 (1.0 for x = 0): dividing by it is exact,
    and x / pow2_scale(x) ≤ 2 for every finite float64 x."""
    if x == 0.0 or not math.isfinite(x):
        return 1.0
    return math.ldexp(1.0, min(math.frexp(x)[1], 1023))


@dataclass(frozen=True)
class ElementStats:
    """Counts and norms of a tensor's elements.

    Attributes
    ----------
    count : number of elements N.
    nan_count, inf_count, zero_count : NaNs, ±infinities, exact zeros (−0 counts as zero).
    max_abs : max |w| over the finite elements (0.0 when there are none).
    scale : the power of two the sums below are taken relative to (≥ max_abs).
    sumsq_scaled : Σ (w/scale)² over finite elements, float64.
    abs_sum_scaled : Σ |w/scale| over finite elements, float64.
    """

    count: int
    nan_count: int
    inf_count: int
    zero_count: int
    max_abs: float
    scale: float
    sumsq_scaled: float
    abs_sum_scaled: float

    @property
    def finite(self) -> bool:
        return self.nan_count == 0 and self.inf_count == 0

    @property
    def l2_norm(self) -> float:
        """‖w‖2 over the finite elements."""
        return self.scale * math.sqrt(self.sumsq_scaled)

    @property
    def rms(self) -> float | None:
        """sqrt(Σ w² / N_finite), or None when no element is finite."""
        n_finite = self.count - self.nan_count - self.inf_count
        return self.scale * math.sqrt(self.sumsq_scaled / n_finite) if n_finite else None


def element_stats(values: np.ndarray) -> ElementStats:
    """Scan a float, integer or bool tensor once for max|w| and counts, once more for the sums."""
    nan = inf = zero = 0
    max_abs = 0.0
    is_float = values.dtype.kind == "f"
    for c in chunks(values):
        if is_float:
            nan += int(np.count_nonzero(np.isnan(c)))
            inf += int(np.count_nonzero(np.isinf(c)))
        zero += int(c.size - np.count_nonzero(c))
        a = np.abs(c.astype(np.float64) if c.dtype.kind != "f" else c)
        if is_float and (nan or inf):
            a = a[np.isfinite(a)]
        if a.size:
            max_abs = max(max_abs, float(a.max()))
    scale = pow2_scale(max_abs)
    sumsq = abs_sum = 0.0
    for c in chunks(values):
        if nan or inf:
            c = c[np.isfinite(c)]
        s = c.astype(np.float64) / scale
        sumsq += float(np.dot(s, s))
        abs_sum += float(np.abs(s).sum())
    return ElementStats(values.size, nan, inf, zero, max_abs, scale, sumsq, abs_sum)
