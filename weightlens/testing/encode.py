"""Encoders from float to the stored bits of BF16 and FP8 (round to nearest, ties to even).

Used to build test and sample checkpoints. They are written from the formats' definitions
independently of the decoders, and the test suite checks both against ml_dtypes.
"""

from __future__ import annotations

import numpy as np


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 values -> uint16 BF16 bits: keep the upper half of the float32 after rounding
    the lower 16 bits to nearest, ties to even; NaN stays a quiet NaN."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float32))
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    out = rounded.astype(np.uint16)
    nan = np.isnan(x)
    out[nan] = (bits[nan] >> 16).astype(np.uint16) | 0x0040
    return out


def _grid(exp_bits: int, man_bits: int, bias: int, max_code: int) -> np.ndarray:
    """Nonnegative representable values of an 8-bit float format, indexed by code 0..max_code."""
    codes = np.arange(max_code + 1)
    e = codes >> man_bits
    m = codes & ((1 << man_bits) - 1)
    return np.where(e == 0, m * 2.0 ** (1 - bias - man_bits), (1 + m / 2.0**man_bits) * 2.0 ** (e - bias))


# E4M3FN: codes 0x00..0x7E are finite (0x7F is NaN); E5M2: 0x00..0x7B finite, 0x7C inf.
_E4M3 = _grid(4, 3, 7, 0x7E)
_E5M2 = _grid(5, 2, 15, 0x7B)


def _to_f8(x: np.ndarray, grid: np.ndarray, nan_code: int, overflow_code: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    hi = np.clip(np.searchsorted(grid, a), 1, grid.size - 1)
    lo = hi - 1
    d_lo, d_hi = a - grid[lo], grid[hi] - a
    pick_hi = (d_hi < d_lo) | ((d_hi == d_lo) & (hi % 2 == 0))
    code = np.where(pick_hi, hi, lo)
    code = np.where(a > grid[-1], grid.size - 1, code)  # saturate finite overflow
    code = np.where(np.isinf(a), overflow_code, code)
    code = code | np.where(np.signbit(x), 0x80, 0)
    code = np.where(np.isnan(x), nan_code, code)
    return code.astype(np.uint8)


def to_f8_e4m3_bits(x: np.ndarray) -> np.ndarray:
    """Values -> F8_E4M3 (FN: no inf, max 448) codes; out-of-range values saturate to ±448."""
    return _to_f8(x, _E4M3, 0x7F, 0x7E)


def to_f8_e5m2_bits(x: np.ndarray) -> np.ndarray:
    """Values -> F8_E5M2 codes; ±inf map to ±inf, finite out-of-range values saturate to ±57344."""
    return _to_f8(x, _E5M2, 0x7F, 0x7C)
