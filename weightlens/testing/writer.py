"""Write safetensors files in any dtype weightlens reads (for tests, samples and benchmarks)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from weightlens.testing.encode import to_bf16_bits, to_f8_e4m3_bits, to_f8_e5m2_bits

_NATIVE: dict[np.dtype, str] = {
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int16"): "I16",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}


@dataclass(frozen=True)
class Encoded:
    """A tensor already in its stored form: dtype name, shape and little-endian bytes."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes


def encode(values: np.ndarray, dtype: str) -> Encoded:
    """Round ``values`` to ``dtype`` ("F32", "BF16", "F8_E4M3", ...) and return the stored form."""
    values = np.asarray(values)
    if dtype == "BF16":
        raw: np.ndarray = to_bf16_bits(values.astype(np.float32)).astype("<u2").reshape(values.shape)
    elif dtype == "F8_E4M3":
        raw = to_f8_e4m3_bits(values)
    elif dtype == "F8_E5M2":
        raw = to_f8_e5m2_bits(values)
    else:
        np_dtype = {v: k for k, v in _NATIVE.items()}[dtype]
        raw = values.astype(np_dtype.newbyteorder("<"))
    return Encoded(dtype, tuple(values.shape), np.ascontiguousarray(raw).tobytes())


def write_safetensors(
    path: str | os.PathLike[str],
    tensors: Mapping[str, np.ndarray | Encoded],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write a safetensors file: numpy arrays keep their dtype, :class:`Encoded` tensors their bytes.

    Data is laid out in name order; the header is padded with spaces to a multiple of 8 bytes,
    as the reference implementation does.
    """
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        enc = t if isinstance(t, Encoded) else encode(t, _NATIVE[np.asarray(t).dtype])
        header[name] = {"dtype": enc.dtype, "shape": list(enc.shape), "data_offsets": [offset, offset + len(enc.data)]}
        blobs.append(enc.data)
        offset += len(enc.data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path = Path(path)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)
    return path


def write_sharded(
    directory: str | os.PathLike[str],
    shards: list[Mapping[str, np.ndarray | Encoded]],
    prefix: str = "model",
) -> Path:
    """Write an HF-style sharded checkpoint: ``{prefix}-0000i-of-0000n.safetensors`` + index."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weight_map: dict[str, str] = {}
    for i, shard in enumerate(shards, 1):
        name = f"{prefix}-{i:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(directory / name, shard)
        weight_map.update({t: name for t in shard})
    index = {"metadata": {"total_size": sum((directory / f).stat().st_size for f in set(weight_map.values()))}, "weight_map": dict(sorted(weight_map.items()))}
    (directory / f"{prefix}.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return directory
