"""Health: non-finite values, all-zero tensors, magnitude (every decoded tensor)."""

from __future__ import annotations

from typing import Any

from weightlens.passes.base import Field, Pass, TensorContext


def run(ctx: TensorContext) -> dict[str, Any]:
    """nan_count, inf_count; all_zero; max_abs = max|w| and rms = sqrt(Σw²/N) over finite w."""
    s = ctx.stats
    return {
        "nan_count": s.nan_count,
        "inf_count": s.inf_count,
        "all_zero": s.zero_count == s.count,
        "max_abs": s.max_abs if s.count > s.nan_count + s.inf_count else None,
        "rms": s.rms,
    }


PASS = Pass(
    name="health",
    description="NaN/Inf counts, all-zero, max|w|, rms",
    scope="tensor",
    fields=(
        Field("nan_count", "integer", "number of NaN elements"),
        Field("inf_count", "integer", "number of ±Inf elements"),
        Field("all_zero", "boolean", "every element is zero (−0 counts as zero)"),
        Field("max_abs", "number", "max |w| over the finite elements", nullable=True),
        Field("rms", "number", "sqrt(Σ w² / N) over the finite elements", nullable=True),
    ),
    run=run,
)
