"""Condition: κ = σ1/σp, singularity against the rank tolerance, κ on the numerical rank."""

from __future__ import annotations

from typing import Any

from weightlens.linalg.spectrum import Spectrum
from weightlens.passes.base import Field, Pass, TensorContext


def _on_rank(sp: Spectrum, r: int | None) -> float | None:
    """σ1/σr, when σr is known (always for a full spectrum)."""
    if not r:
        return None
    if r == sp.p:
        return sp.sigma_max / sp.sigma_min
    return sp.sigma_max / float(sp.sigma[r - 1]) if r <= sp.sigma.size else None


def condition_number(sp: Spectrum) -> float | None:
    """κ = σ1/σp, or None when σp ≤ tol (numerically singular: κ is infinite)."""
    return None if sp.sigma_min <= sp.tol else sp.sigma_max / sp.sigma_min


def run(ctx: TensorContext) -> dict[str, Any]:
    """κ = σ1/σp (null when σp ≤ tol: singular); κ_r = σ1/σr; ill_conditioned = κ > 1/u_store."""
    sp = ctx.spectrum
    r = sp.rank
    kappa = condition_number(sp)
    singular = kappa is None
    return {
        "condition_number": kappa,
        "singular": singular,
        "condition_number_on_rank": _on_rank(sp, r),
        "ill_conditioned": kappa is None or kappa > 1.0 / sp.u_store,
    }


PASS = Pass(
    name="condition",
    description="condition number, singular flag, κ on the numerical rank, ill-conditioned flag",
    scope="matrix",
    spectrum_only=True,
    fields=(
        Field("condition_number", "number", "κ = σ1/σp; null when singular (κ infinite)", nullable=True),
        Field("singular", "boolean", "σp ≤ rank_tol: numerically singular"),
        Field("condition_number_on_rank", "number", "σ1/σr over the numerical rank r; null when r = 0 or unknown (--spectrum fast)", nullable=True),
        Field("ill_conditioned", "boolean", "κ > 1/u_store: the storage dtype cannot resolve the smallest direction"),
    ),
    run=run,
)
