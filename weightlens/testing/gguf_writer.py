"""GGUF files for tests and benchmarks, written by gguf's own ``GGUFWriter``.

Values are quantized by ``gguf.quants.quantize`` for the types it can quantize (F32, F16, BF16,
Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, TQ1_0, TQ2_0, MXFP4); the others (k-quants, IQ*) get random
blocks (:func:`random_blocks`), whose values are whatever ``gguf.quants.dequantize`` makes of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np


@dataclass(frozen=True)
class Blocks:
    """Stored blocks of a quantized tensor: uint8 of shape (out, in/block_size·type_size)."""

    data: np.ndarray
    type: str


def quantize(values: np.ndarray, type_name: str) -> Blocks:
    """``values`` (out, in) quantized by gguf to ggml type ``type_name`` (F32, F16 stored as such)."""
    qtype = gguf.GGMLQuantizationType[type_name]
    data = gguf.quants.quantize(np.asarray(values, dtype=np.float32), qtype)
    return Blocks(data if data.dtype == np.uint8 else data.view(np.uint8), type_name)


def random_blocks(rng: np.random.Generator, shape: tuple[int, int], type_name: str) -> Blocks:
    """Random blocks of ggml type ``type_name`` for an (out, in) tensor.

    Every byte is below 0x3C, so that every f16/E8M0/E4M3 scale in a block is finite and below 1
    (the high byte of a little-endian f16 then has an exponent < 15): the dequantized values are
    finite for every type.
    """
    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[type_name]]
    out, n = shape
    if n % block:
        raise ValueError(f"{type_name}: {n} columns are not a multiple of its block size {block}")
    return Blocks(rng.integers(0, 0x3C, (out, n // block * size), dtype=np.uint8), type_name)


def dequantized(blocks: Blocks) -> np.ndarray:
    """The (out, in) float32 values gguf makes of ``blocks``: the reference for the reader."""
    values: np.ndarray = gguf.quants.dequantize(blocks.data, gguf.GGMLQuantizationType[blocks.type])
    return values


def write_gguf(
    path: str | os.PathLike[str],
    tensors: Mapping[str, np.ndarray | Blocks],
    arch: str = "llama",
    metadata: Mapping[str, Any] | None = None,
    block_count: int | None = None,
    alignment: int | None = None,
) -> Path:
    """Write a GGUF file with gguf.GGUFWriter; returns its path.

    Parameters
    ----------
    tensors : name → a numpy array (float32/float16/float64/int stored as such, (out, in) order)
        or :class:`Blocks`.
    arch : general.architecture.
    metadata : extra keys, typed by GGUFWriter.add_key_value's rules (int → INT32 unless given as
        ``(value, GGUFValueType)``; str, float, bool, lists).
    block_count : ``{arch}.block_count`` (default: 1 + the largest ``blk.N`` index, if any).
    alignment : general.alignment (default: gguf's 32).
    """
    path = Path(path)
    w = gguf.GGUFWriter(path, arch)
    blocks = [int(n.split(".")[1]) for n in tensors if n.startswith("blk.") and n.split(".")[1].isdigit()]
    if block_count is not None or blocks:
        w.add_block_count(block_count if block_count is not None else max(blocks) + 1)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    for key, value in (metadata or {}).items():
        if isinstance(value, tuple):
            w.add_key_value(key, value[0], value[1])
        elif isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, int):
            w.add_int32(key, value)
        elif isinstance(value, float):
            w.add_float32(key, value)
        elif isinstance(value, str):
            w.add_string(key, value)
        else:
            w.add_array(key, value)
    for name, t in tensors.items():
        if isinstance(t, Blocks):
            w.add_tensor(name, t.data, raw_dtype=gguf.GGMLQuantizationType[t.type])
        else:
            w.add_tensor(name, np.ascontiguousarray(t))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
