"""Sparsity: exact and near zeros, dead rows/columns, 2:4 structure, Hoyer's measure."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from weightlens.linalg.elementwise import chunks
from weightlens.passes.base import Field, Pass, TensorContext


def nm_2_4_fraction(values: np.ndarray) -> float | None:
    """Fraction of groups of 4 consecutive elements along the last axis with ≥ 2 zeros.

    Only whole groups count (a trailing remainder of < 4 elements is ignored); None when the
    last axis has fewer than 4 elements or the tensor is empty.
    """
    if values.ndim == 0 or values.shape[-1] < 4 or values.size == 0:
        return None
    last = values.shape[-1] - values.shape[-1] % 4
    groups = values[..., :last].reshape(-1, 4)
    return float(np.count_nonzero(np.count_nonzero(groups == 0, axis=1) >= 2) / groups.shape[0])


def hoyer(ctx: TensorContext) -> float | None:
    """(√N − ‖w‖1/‖w‖2) / (√N − 1): 0 for a flat vector, 1 for a single spike; None for N < 2 or w = 0."""
    s = ctx.stats
    if s.count < 2 or not s.finite or s.sumsq_scaled == 0:
        return None
    root_n = math.sqrt(s.count)
    ratio = s.abs_sum_scaled / math.sqrt(s.sumsq_scaled)
    return min(1.0, max(0.0, (root_n - ratio) / (root_n - 1)))


def run(ctx: TensorContext) -> dict[str, Any]:
    s = ctx.stats
    tau = ctx.options.near_zero_tau
    rms = s.rms
    near = None
    if rms is not None and s.count:
        threshold = tau * rms
        near = sum(int(np.count_nonzero(np.abs(c) <= threshold)) for c in chunks(ctx.values)) / s.count
    dead_rows = dead_cols = None
    if ctx.layout.is_matrix:
        alive = ctx.matrix != 0
        dead_rows = float(np.count_nonzero(~alive.any(axis=1)) / alive.shape[0])
        dead_cols = float(np.count_nonzero(~alive.any(axis=0)) / alive.shape[1])
    return {
        "zero_fraction": s.zero_count / s.count if s.count else None,
        "near_zero_fraction": near,
        "near_zero_tau": tau,
        "dead_rows": dead_rows,
        "dead_cols": dead_cols,
        "nm_2_4_fraction": nm_2_4_fraction(ctx.values),
        "hoyer": hoyer(ctx),
    }


PASS = Pass(
    name="sparsity",
    description="zero and near-zero fractions, dead rows/cols, 2:4 fraction, Hoyer sparsity",
    scope="tensor",
    fields=(
        Field("zero_fraction", "number", "fraction of exact zeros (−0 counts as zero)", nullable=True),
        Field("near_zero_fraction", "number", "fraction with |w| ≤ near_zero_tau·rms", nullable=True),
        Field("near_zero_tau", "number", "τ of near_zero_fraction"),
        Field("dead_rows", "number", "fraction of all-zero rows (dead outputs) of the matrix view", nullable=True),
        Field("dead_cols", "number", "fraction of all-zero columns (dead inputs) of the matrix view", nullable=True),
        Field("nm_2_4_fraction", "number", "fraction of 4-element groups along the last axis with ≥ 2 zeros", nullable=True),
        Field("hoyer", "number", "(√N − ‖w‖1/‖w‖2)/(√N − 1); 0 flat, 1 one spike", nullable=True),
    ),
    run=run,
)
