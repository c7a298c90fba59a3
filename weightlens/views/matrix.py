"""Which tensors are matrices, and how they are viewed as one.

2-D tensors are matrices as stored ([out, in] in PyTorch convention). Tensors with more dims
(conv kernels, fused experts) are viewed as (shape[0], prod(shape[1:])). 0-D/1-D, integer,
bool and empty tensors get only the elementwise passes; the layout says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from weightlens.checkpoint.header import TensorInfo

LayoutKind = Literal["matrix", "reshaped", "vector", "scalar", "empty", "non-float", "unsupported"]


@dataclass(frozen=True)
class Layout:
    """How a tensor is analyzed.

    Attributes
    ----------
    kind : "matrix" (2-D as stored), "reshaped" (>2-D viewed as 2-D), or why it is no matrix:
        "vector" (1-D), "scalar" (0-D), "empty" (a zero dimension), "non-float" (integer/bool),
        "unsupported" (a dtype weightlens does not decode).
    matrix_shape : (m, n) of the matrix view, or None.
    reason : why spectral passes do not apply, or None for matrices.
    """

    kind: LayoutKind
    matrix_shape: tuple[int, int] | None
    reason: str | None

    @property
    def is_matrix(self) -> bool:
        return self.matrix_shape is not None


def layout_of(info: TensorInfo) -> Layout:
    """Classify a tensor from its header entry alone."""
    dtype = info.dtype_info
    shape = info.shape
    if dtype.kind == "unsupported":
        return Layout("unsupported", None, f"dtype {info.dtype} is not decoded by weightlens")
    if dtype.kind != "float":
        return Layout("non-float", None, f"{info.dtype} tensor (not floating point)")
    if len(shape) == 0:
        return Layout("scalar", None, "0-D tensor (scalar)")
    if len(shape) == 1:
        return Layout("vector", None, "1-D tensor (bias/norm vector)")
    if math.prod(shape) == 0:
        return Layout("empty", None, f"empty tensor (shape {list(shape)})")
    if len(shape) == 2:
        return Layout("matrix", (shape[0], shape[1]), None)
    return Layout("reshaped", (shape[0], math.prod(shape[1:])), None)


def as_matrix(values: np.ndarray, layout: Layout) -> np.ndarray:
    """The (m, n) view of a tensor's values (no copy for contiguous data)."""
    if layout.matrix_shape is None:
        raise ValueError(f"not a matrix: {layout.reason}")
    return values.reshape(layout.matrix_shape)
