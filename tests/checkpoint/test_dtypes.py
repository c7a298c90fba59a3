"""Decoding is bit-exact against ml_dtypes (an independent implementation) for every bit pattern."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from weightlens.checkpoint.dtypes import DTYPES, decode
from weightlens.testing import to_bf16_bits, to_f8_e4m3_bits, to_f8_e5m2_bits


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """float32 arrays with NaN at the same places and identical bits everywhere else (−0 ≠ +0)."""
    nan = np.isnan(a)
    return bool(np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan].view(np.uint32), b[~nan].view(np.uint32)))


@pytest.mark.parametrize(
    ("name", "reference", "raw"),
    [
        ("BF16", ml_dtypes.bfloat16, np.arange(1 << 16, dtype=np.uint16)),
        ("F8_E4M3", ml_dtypes.float8_e4m3fn, np.arange(256, dtype=np.uint8)),
        ("F8_E5M2", ml_dtypes.float8_e5m2, np.arange(256, dtype=np.uint8)),
        ("F8_E8M0", ml_dtypes.float8_e8m0fnu, np.arange(256, dtype=np.uint8)),
        ("F16", np.float16, np.arange(1 << 16, dtype=np.uint16)),
    ],
)
def test_every_bit_pattern_decodes_exactly(name: str, reference: type, raw: np.ndarray) -> None:
    got = decode(DTYPES[name], raw.view(DTYPES[name].raw))
    assert got.dtype == np.float32
    assert same_bits(got, raw.view(reference).astype(np.float32))


def test_f8_e4m3_specials() -> None:
    d = decode(DTYPES["F8_E4M3"], np.array([0x7E, 0xFE, 0x7F, 0xFF, 0x01], dtype=np.uint8))
    assert d[0] == 448 and d[1] == -448 and np.isnan(d[2]) and np.isnan(d[3]) and d[4] == 2.0**-9


def test_f8_e5m2_specials() -> None:
    d = decode(DTYPES["F8_E5M2"], np.array([0x7C, 0xFC, 0x7D, 0x7B], dtype=np.uint8))
    assert d[0] == np.inf and d[1] == -np.inf and np.isnan(d[2]) and d[3] == 57344


def test_bf16_encoder_matches_ml_dtypes(rng: np.random.Generator) -> None:
    x = np.concatenate([rng.standard_normal(50_000) * 10.0 ** rng.integers(-30, 30, 50_000), [0.0, -0.0, np.inf, -np.inf, 1e-40]]).astype(np.float32)
    assert np.array_equal(to_bf16_bits(x), x.astype(ml_dtypes.bfloat16).view(np.uint16))


@pytest.mark.parametrize(("encoder", "reference", "limit"), [(to_f8_e4m3_bits, ml_dtypes.float8_e4m3fn, 448.0), (to_f8_e5m2_bits, ml_dtypes.float8_e5m2, 57344.0)])
def test_f8_encoders_match_ml_dtypes_in_range(rng: np.random.Generator, encoder, reference, limit: float) -> None:  # type: ignore[no-untyped-def]
    x = np.clip(rng.standard_normal(50_000) * 10.0 ** rng.integers(-8, 4, 50_000), -limit, limit)
    assert np.array_equal(encoder(x), x.astype(reference).view(np.uint8))


def test_unit_roundoffs_follow_the_mantissa_width() -> None:
    for name, mantissa_bits in {"F64": 52, "F32": 23, "F16": 10, "BF16": 7, "F8_E4M3": 3, "F8_E5M2": 2}.items():
        assert DTYPES[name].unit_roundoff == 2.0 ** -(mantissa_bits + 1)
