"""Read one tensor's bytes into a buffer of its own and decode them.

The bytes are read with plain reads (no memory map), so a file truncated while a tensor is read
gives a short read — that tensor's error — instead of a SIGBUS that kills the process. The
file's stamp (size, mtime, inode, recorded when its header was parsed) is checked before and
after the read, so a file replaced or rewritten since its header was read is reported instead of
mixing two files. A worker holds at most one tensor in memory whatever the checkpoint size, and
the file is opened read-only: weightlens never writes to a checkpoint.
"""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np

from weightlens.checkpoint.dtypes import decode
from weightlens.checkpoint.header import FileStamp, TensorInfo
from weightlens.errors import InputError

READ_CHUNK = 1 << 26
"""Bytes per read call (64 MiB): below every platform's single-read limit (Linux: 2 GiB − 4 KiB)."""

_STORED_AS_DECODED = frozenset({"F32", "F64", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8"})
"""Dtypes whose decoded array is the stored array (on a little-endian machine): the buffer read
for this call alone is returned as it is, instead of being copied by :func:`decode`."""


def read_tensor(info: TensorInfo) -> np.ndarray:
    """Decoded values of one tensor, in its declared shape.

    Returns
    -------
    numpy.ndarray
        float32 for floats of ≤ 32 bits, float64 for F64, the integer dtype for integers,
        bool for BOOL. A fresh array: it does not reference the file.

    Raises
    ------
    InputError
        When the file cannot be read, is shorter than its header says, or is not the file the
        header was read from (another inode, size or mtime than ``info.stamp``).
    ValueError
        For dtypes weightlens does not decode (``DType.kind == "unsupported"``).
    """
    dtype = info.dtype_info
    if dtype.raw is None:
        raise ValueError(f"dtype {info.dtype} cannot be decoded")
    raw = np.empty(info.parameters, dtype=dtype.raw)
    if info.nbytes:
        try:
            _read_into(info, memoryview(raw.view(np.uint8)))
        except OSError as e:
            raise InputError(info.file, f"cannot read tensor {info.name!r}: {e.strerror or e}") from None
    values = raw if dtype.name in _STORED_AS_DECODED and raw.dtype.isnative else decode(dtype, raw)
    return values.reshape(info.shape)


def _read_into(info: TensorInfo, out: memoryview) -> None:
    """Fill ``out`` with the tensor's bytes, checking the file before and after reading them."""
    with open(info.file, "rb", buffering=0) as f:
        _check_file(info, f, "since its header was read")
        f.seek(info.offset)
        done = 0
        while done < len(out):
            n = f.readinto(out[done : done + READ_CHUNK])
            if not n:
                break
            done += n
        _check_file(info, f, "while it was read")
    if done < len(out):
        raise InputError(info.file, f"cannot read tensor {info.name!r}: short read: {done} of {len(out)} bytes (file truncated?)")


def _check_file(info: TensorInfo, f: BinaryIO, when: str) -> None:
    """Raise when the open file is not the one ``info`` was parsed from, as it was then."""
    now = FileStamp.of(os.fstat(f.fileno()))
    change = info.stamp.change(now) if info.stamp is not None else None
    if change is not None:
        raise InputError(info.file, f"cannot read tensor {info.name!r}: {change} {when}")
