"""read_tensor returns exactly what an independent writer stored, for every layout."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from weightlens.checkpoint import open_checkpoint, read_tensor
from weightlens.testing import encode


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64, np.int8, np.uint8, np.bool_])
def test_round_trip_against_safetensors_writer(tmp_path, rng, dtype) -> None:  # type: ignore[no-untyped-def]
    # Odd sizes put later tensors at offsets that are not page- or element-aligned.
    tensors = {f"t{i}": np.asarray(rng.standard_normal(shape) * 50).astype(dtype) for i, shape in enumerate([(3,), (17, 5), (2, 3, 7), ()])}
    path = tmp_path / "x.safetensors"
    save_file(tensors, str(path))
    ckpt = open_checkpoint(path)
    for info in ckpt.tensors:
        got = read_tensor(info)
        assert got.shape == tensors[info.name].shape
        np.testing.assert_array_equal(got, tensors[info.name].astype(got.dtype))


def test_bf16_and_f8_tensors_decode_to_the_rounded_values(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    import ml_dtypes

    x = rng.standard_normal((33, 9))
    path = make_checkpoint({"a": encode(x, "BF16"), "b": encode(x, "F8_E4M3"), "c": encode(x, "F8_E5M2")})
    got = {t.name: read_tensor(t) for t in open_checkpoint(path).tensors}
    np.testing.assert_array_equal(got["a"], x.astype(np.float32).astype(ml_dtypes.bfloat16).astype(np.float32))
    np.testing.assert_array_equal(got["b"], x.astype(ml_dtypes.float8_e4m3fn).astype(np.float32))
    np.testing.assert_array_equal(got["c"], x.astype(ml_dtypes.float8_e5m2).astype(np.float32))


def test_large_offset_beyond_one_page(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    big = rng.standard_normal((300, 301)).astype(np.float32)
    small = rng.standard_normal((5, 3)).astype(np.float32)
    path = make_checkpoint({"a_big": big, "b_small": small})
    got = {t.name: read_tensor(t) for t in open_checkpoint(path).tensors}
    np.testing.assert_array_equal(got["b_small"], small)
    np.testing.assert_array_equal(got["a_big"], big)


def test_reading_does_not_modify_the_file(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    path = make_checkpoint({"w": rng.standard_normal((64, 64)).astype(np.float32)})
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    for t in open_checkpoint(path).tensors:
        read_tensor(t)[...] = 0  # the decoded array is a private copy
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
