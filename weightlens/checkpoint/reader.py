"""Read one tensor's bytes into a buffer of its own and decode them.

The bytes are read with plain reads (no memory map), so a file truncated while a tensor is read
gives a short read — that tensor's error — instead of a SIGBUS that kills the process. The
file's stamp (size, mtime, inode, recorded when its header was parsed) is checked before and
after the read, so a file replaced or rewritten since its header was read is reported instead of
mixing two files. A worker holds at most one tensor in memory whatever the checkpoint size, and
the file is opened read-only: weightlens never writes to a checkpoint.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from io import RawIOBase

import numpy as np

from weightlens.checkpoint.dtypes import DType, decode
from weightlens.checkpoint.gguf import QuantType
from weightlens.checkpoint.header import FileStamp, TensorInfo
from weightlens.errors import InputError, quote

READ_CHUNK = 1 << 26
"""Bytes per read call (64 MiB): below every platform's single-read limit (Linux: 2 GiB − 4 KiB)."""

DECODE_CHUNK = 1 << 18
"""Elements read and decoded at a time for dtypes that need decoding (≤ 2 MiB of stored bytes):
the stored chunk is decoded while it is still in the CPU cache, and never held in full."""

_STORED_AS_DECODED = frozenset({"F32", "F64", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8"})
"""Dtypes whose decoded array is the stored array (on a little-endian machine): read straight
into the result."""


def read_tensor(info: TensorInfo) -> np.ndarray:
    """Decoded values of one tensor, in its declared shape.

    Returns
    -------
    numpy.ndarray
        float32 for floats of ≤ 32 bits and for GGUF's quantized types (dequantized by
        ``gguf.quants``), float64 for F64, the integer dtype for integers, bool for BOOL. A
        fresh array: it does not reference the file.

    Raises
    ------
    InputError
        When the file cannot be read, is shorter than its header says, or is not the file the
        header was read from (another inode, size or mtime than ``info.stamp``).
    ValueError
        For dtypes weightlens does not decode (``DType.kind == "unsupported"``).
    """
    dtype = info.dtype_info
    if dtype.raw is None or dtype.kind == "unsupported":
        raise ValueError(f"dtype {info.dtype} cannot be decoded")
    fill: Callable[[RawIOBase], int]
    if isinstance(dtype, QuantType):  # GGUF blocks: dequantized a chunk of whole blocks at a time
        out = np.empty(info.parameters, dtype=np.float32)
        blocks = np.empty(max(1, DECODE_CHUNK // dtype.block_size) * dtype.type_size, dtype=np.uint8)
        fill = functools.partial(_fill_dequantized, dtype=dtype, chunk=blocks, out=out)
    else:
        direct = dtype.name in _STORED_AS_DECODED and dtype.raw.isnative
        stored = np.empty(info.parameters if direct else min(info.parameters, DECODE_CHUNK), dtype=dtype.raw)
        out = stored if direct else np.empty(info.parameters, dtype=decode(dtype, stored[:0]).dtype)
        fill = functools.partial(_fill, buffer=stored) if direct else functools.partial(_fill_decoded, dtype=dtype, chunk=stored, out=out)
    if info.nbytes:
        try:
            with open(info.file, "rb", buffering=0, opener=_open_nonblocking) as f:
                _check_file(info, f, "since its header was read")
                f.seek(info.offset)
                done = fill(f)
                _check_file(info, f, "while it was read")
        except OSError as e:
            raise InputError(info.file, f"cannot read tensor {quote(info.name)}: {e.strerror or e}") from None
        if done < info.nbytes:
            raise InputError(info.file, f"cannot read tensor {quote(info.name)}: short read: {done} of {info.nbytes} bytes (file truncated?)")
    return out.reshape(info.shape)


def _fill(f: RawIOBase, buffer: np.ndarray) -> int:
    """Read into ``buffer`` from the file's position until it is full or the file ends; bytes read."""
    view = buffer.view(np.uint8).data
    done = 0
    while done < len(view):
        n = f.readinto(view[done : done + READ_CHUNK])
        if not n:
            break
        done += n
    return done


def _fill_decoded(f: RawIOBase, dtype: DType, chunk: np.ndarray, out: np.ndarray) -> int:
    """Read ``out``'s elements a chunk at a time into ``chunk`` and decode each into ``out``; bytes read."""
    done = 0
    for start in range(0, len(out), len(chunk)):
        part = chunk[: len(out) - start]
        n = _fill(f, part)
        done += n
        if n < part.nbytes:
            break
        out[start : start + len(part)] = decode(dtype, part)
    return done


def _fill_dequantized(f: RawIOBase, dtype: QuantType, chunk: np.ndarray, out: np.ndarray) -> int:
    """Read ``out``'s blocks a chunk (whole blocks) at a time and dequantize each into ``out``; bytes read."""
    per_chunk = len(chunk) // dtype.type_size * dtype.block_size
    done = 0
    for start in range(0, len(out), per_chunk):
        count = min(per_chunk, len(out) - start)
        part = chunk[: count // dtype.block_size * dtype.type_size]
        n = _fill(f, part)
        done += n
        if n < len(part):
            break
        out[start : start + count] = dtype.dequantize(part)
    return done


def _open_nonblocking(path: str, flags: int) -> int:
    """os.open that cannot wait: a FIFO put in the file's place since its header was read opens at
    once (and then fails the file-stamp check) instead of blocking for a writer."""
    return os.open(path, flags | os.O_NONBLOCK)


def _check_file(info: TensorInfo, f: RawIOBase, when: str) -> None:
    """Raise when the open file is not the one ``info`` was parsed from, as it was then."""
    now = FileStamp.of(os.fstat(f.fileno()))
    change = info.stamp.change(now) if info.stamp is not None else None
    if change is not None:
        raise InputError(info.file, f"cannot read tensor {quote(info.name)}: {change} {when}")
