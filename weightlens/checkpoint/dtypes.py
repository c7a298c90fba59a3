"""Safetensors dtypes: sizes, unit roundoff and exact decoding to numpy.

numpy has no bfloat16 or float8, so those are decoded by bit manipulation:
BF16 is the upper half of an IEEE float32 (shift the uint16 bits left by 16), and the two
8-bit float formats go through a 256-entry lookup table built from their definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Kind = Literal["float", "int", "bool", "unsupported"]


@dataclass(frozen=True)
class DType:
    """One safetensors dtype.

    Attributes
    ----------
    name : the safetensors spelling ("BF16", "F8_E4M3", ...).
    bits : bits per element (stored little-endian, densely packed).
    kind : "float", "int", "bool", or "unsupported" (known to the format but not decoded here).
    raw : numpy dtype that the stored bytes are read as before decoding.
    unit_roundoff : u_store, half the spacing of representable numbers relative to the value
        (2^-(mantissa bits + 1)); ``None`` for non-float dtypes.
    """

    name: str
    bits: int
    kind: Kind
    raw: np.dtype | None
    unit_roundoff: float | None = None

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    def nbytes(self, count: int) -> int | None:
        """Stored byte length of ``count`` elements, or None when it is not a whole number of bytes."""
        total_bits = count * self.bits
        return total_bits // 8 if total_bits % 8 == 0 else None


def _f8_table(exp_bits: int, man_bits: int, bias: int, ieee_specials: bool) -> np.ndarray:
    """Value of every 8-bit pattern of a sign/exponent/mantissa float format, as float32.

    Normal numbers are (1 + m/2^M)·2^(e−bias), subnormals (e = 0) are (m/2^M)·2^(1−bias).
    With ``ieee_specials`` (E5M2) the all-ones exponent holds ±inf (m = 0) and NaN; without it
    (E4M3 "FN" variant) only the all-ones pattern S.1111.111 is NaN and there is no infinity.
    """
    codes = np.arange(256, dtype=np.int64)
    sign = np.where(codes >> 7, -1.0, 1.0)
    exp = (codes >> man_bits) & ((1 << exp_bits) - 1)
    man = codes & ((1 << man_bits) - 1)
    frac = man / float(1 << man_bits)
    value = np.where(exp == 0, np.ldexp(frac, 1 - bias), np.ldexp(1.0 + frac, exp - bias))
    top = (1 << exp_bits) - 1
    if ieee_specials:
        value = np.where((exp == top) & (man == 0), np.inf, value)
        value = np.where((exp == top) & (man != 0), np.nan, value)
    else:
        value = np.where((exp == top) & (man == (1 << man_bits) - 1), np.nan, value)
    return (sign * value).astype(np.float32)


def _e8m0_table() -> np.ndarray:
    """F8_E8M0 (the MX block-scale format): 2^(e−127), no sign, 0xFF is NaN."""
    codes = np.arange(256, dtype=np.int64)
    value = np.ldexp(1.0, codes - 127)
    value[255] = np.nan  # 2^128 is not a float32; the code is NaN anyway
    return value.astype(np.float32)


F8_E4M3_TABLE = _f8_table(4, 3, 7, ieee_specials=False)
F8_E5M2_TABLE = _f8_table(5, 2, 15, ieee_specials=True)
F8_E8M0_TABLE = _e8m0_table()

_TABLES = {"F8_E4M3": F8_E4M3_TABLE, "F8_E5M2": F8_E5M2_TABLE, "F8_E8M0": F8_E8M0_TABLE}

DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("F64", 64, "float", np.dtype("<f8"), 2.0**-53),
        DType("F32", 32, "float", np.dtype("<f4"), 2.0**-24),
        DType("F16", 16, "float", np.dtype("<f2"), 2.0**-11),
        DType("BF16", 16, "float", np.dtype("<u2"), 2.0**-8),
        DType("F8_E4M3", 8, "float", np.dtype("u1"), 2.0**-4),
        DType("F8_E5M2", 8, "float", np.dtype("u1"), 2.0**-3),
        # E8M0 has no mantissa: every value is a power of two, the spacing is the value itself.
        DType("F8_E8M0", 8, "float", np.dtype("u1"), 0.5),
        DType("I64", 64, "int", np.dtype("<i8")),
        DType("I32", 32, "int", np.dtype("<i4")),
        DType("I16", 16, "int", np.dtype("<i2")),
        DType("I8", 8, "int", np.dtype("i1")),
        DType("U64", 64, "int", np.dtype("<u8")),
        DType("U32", 32, "int", np.dtype("<u4")),
        DType("U16", 16, "int", np.dtype("<u2")),
        DType("U8", 8, "int", np.dtype("u1")),
        DType("BOOL", 8, "bool", np.dtype("u1")),
        # Known to the format, not decoded by weightlens: listed, never analyzed.
        DType("C64", 64, "unsupported", None),
        DType("F6_E2M3", 6, "unsupported", None),
        DType("F6_E3M2", 6, "unsupported", None),
        DType("F4", 4, "unsupported", None),
    )
}


def decode(dtype: DType, raw: np.ndarray) -> np.ndarray:
    """Decode stored elements (read as ``dtype.raw``) to a numpy array, exactly.

    Floats of ≤ 32 bits become float32 (every BF16, F16 and F8 value is exactly representable
    in float32), F64 stays float64, integers keep their own dtype and BOOL becomes bool.
    The result never aliases ``raw``.
    """
    name = dtype.name
    if name == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    if name in _TABLES:
        values: np.ndarray = _TABLES[name][raw]
        return values
    if name == "BOOL":
        nonzero: np.ndarray = raw != 0
        return nonzero
    if dtype.kind == "unsupported":
        raise ValueError(f"dtype {name} cannot be decoded")
    with np.errstate(invalid="ignore"):  # a signalling NaN decodes to a quiet NaN, as in IEEE conversion
        if name == "F16":
            return raw.astype(np.float32)
        return raw.astype(raw.dtype.newbyteorder("="), copy=True)
