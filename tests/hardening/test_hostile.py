"""Hostile and nasty inputs: no allocation for huge declared tensors; numerically nasty matrices."""

from __future__ import annotations

import json
import struct
import tracemalloc

import numpy as np
import pytest

from tests.passes.helpers import analyze_array
from weightlens import analyze
from weightlens.errors import HeaderError


def test_terabyte_tensor_declared_in_a_tiny_file_fails_fast_without_allocating(tmp_path) -> None:  # type: ignore[no-untyped-def]
    header = json.dumps({"huge": {"dtype": "F32", "shape": [1 << 18, 1 << 20], "data_offsets": [0, 1 << 40]}}).encode()
    path = tmp_path / "tb.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 64)
    tracemalloc.start()
    try:
        with pytest.raises(HeaderError, match="run past the data buffer"):
            analyze(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_huge_header_length_is_not_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", (1 << 63) + 5) + b"{}")
    tracemalloc.start()
    try:
        with pytest.raises(HeaderError, match="100 MB"):
            analyze(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_too_many_dimensions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    header = json.dumps({"t": {"dtype": "F32", "shape": [1] * 40, "data_offsets": [0, 4]}}).encode()
    path = tmp_path / "d.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    with pytest.raises(HeaderError, match="40 dimensions"):
        analyze(path)


def test_deeply_nested_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    header = b"[" * 100_000 + b"]" * 100_000
    path = tmp_path / "n.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(HeaderError, match="nested too deeply|not a JSON object|must be a JSON object"):
        analyze(path)


@pytest.mark.parametrize("shape", [(1, 5000), (5000, 1), (2, 3000), (3000, 3)])
def test_extreme_aspect_ratios(tmp_path, rng, shape) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal(shape)
    rec = analyze_array(tmp_path, w)
    np.testing.assert_allclose(rec["top_sigma"], np.linalg.svd(w, compute_uv=False)[:8], rtol=1e-10)  # float64 gesdd: ≤ max(m,n)·eps64·σ1 ≪ 1e-10·σ1
    assert rec["numerical_rank"] == min(shape)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0), (0,), (3, 0, 2)])
def test_zero_size_dims(tmp_path, shape) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, np.zeros(shape, np.float32))
    assert rec.skipped and rec.error is None and rec.get("nan_count") == 0


def test_mixed_magnitudes_without_overflow(tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = np.array([[3e38, 1e-38], [1e-45, -3e38]], np.float32)
    rec = analyze_array(tmp_path, w)
    assert rec["sigma_max"] == pytest.approx(3e38, rel=1e-6) and rec["fro_norm"] == pytest.approx(3e38 * 2**0.5, rel=1e-6)  # 3e38 in F32: u32 relative rounding of the stored values
    assert rec["condition_number"] == pytest.approx(1.0, rel=1e-6)  # as above


def test_f64_values_whose_spectrum_overflows_are_skipped_with_the_reason(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, np.full((4, 4), 1.7e308))
    assert rec.skipped.startswith("overflow: σ1 exceeds the float64 range")
    assert rec["max_abs"] == 1.7e308 and "sigma_max" not in rec.metrics
    assert rec.to_dict()["rms"] == 1.7e308
