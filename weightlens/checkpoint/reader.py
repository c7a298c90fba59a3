"""Read one tensor's bytes through a memory map and decode them.

Only the tensor's own byte range is mapped, and the map is closed as soon as the tensor is
decoded, so a worker holds at most one tensor in memory whatever the checkpoint size, and
the file is opened read-only: weightlens never writes to a checkpoint.
"""

from __future__ import annotations

import mmap

import numpy as np

from weightlens.checkpoint.dtypes import decode
from weightlens.checkpoint.header import TensorInfo
from weightlens.errors import InputError, quote


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
        When the file cannot be read or is shorter than its header says.
    ValueError
        For dtypes weightlens does not decode (``DType.kind == "unsupported"``).
    """
    dtype = info.dtype_info
    if dtype.raw is None:
        raise ValueError(f"dtype {info.dtype} cannot be decoded")
    count = info.parameters
    if count == 0:
        return decode(dtype, np.empty(info.shape, dtype=dtype.raw))
    start = info.offset - info.offset % mmap.ALLOCATIONGRANULARITY
    lead = info.offset - start
    try:
        with open(info.file, "rb") as f:
            mm = mmap.mmap(f.fileno(), lead + info.nbytes, offset=start, access=mmap.ACCESS_READ)
        values = decode(dtype, np.frombuffer(mm, dtype=dtype.raw, count=count, offset=lead))
    except (OSError, ValueError) as e:
        raise InputError(info.file, f"cannot read tensor {quote(info.name)}: {e}") from None
    # Not mm.close(): that raises BufferError while anything still holds a view of the map (a
    # sampling profiler such as Dask's can keep a finished frame, and its locals, alive for a
    # moment). Dropping the last reference unmaps it, normally right here.
    del mm
    return values.reshape(info.shape)
