"""Spectrum: norms, leading singular values, energy ranks and optimal low-rank errors."""

from __future__ import annotations

from typing import Any

from weightlens.options import resolve_rank
from weightlens.passes.base import Field, Pass, TensorContext

_NUMBERS = {"type": "array", "items": {"type": "number"}}


def run(ctx: TensorContext) -> dict[str, Any]:
    """σ1, σp, ‖W‖F, top-k σ, energy ranks (τ = 0.9, 0.99), svd_rel_error(k) = sqrt(Σ_{i>k}σi²/Σσi²)."""
    sp = ctx.spectrum
    opts = ctx.options
    ranks = sorted({resolve_rank(spec, sp.p) for spec in opts.svd_ranks})
    out: dict[str, Any] = {
        "sigma_max": sp.sigma_max,
        "sigma_min": sp.sigma_min,
        "fro_norm": sp.fro_norm,
        "top_sigma": sp.sigma[: opts.top_k].tolist(),
        "energy_rank_90": sp.energy_rank(0.90),
        "energy_rank_99": sp.energy_rank(0.99),
        "svd_rel_error": [{"rank": k, "rel_error": sp.rel_error(k)} for k in ranks],
        "svd_route": sp.route,
        "svd_dtype": sp.compute_dtype,
    }
    if opts.full_spectrum:
        out["sigma"] = sp.sigma.tolist()
    return out


PASS = Pass(
    name="spectrum",
    description="σ1, σp, ‖W‖F, top-k σ, energy ranks, optimal rank-k errors",
    scope="matrix",
    spectrum_only=True,
    fields=(
        Field("sigma_max", "number", "σ1 = ‖W‖2, the spectral norm"),
        Field("sigma_min", "number", "σp, the smallest of the p = min(m, n) singular values"),
        Field("fro_norm", "number", "‖W‖F = sqrt(Σσi²)"),
        Field("top_sigma", "array", "the first top_k singular values, descending", schema=_NUMBERS),
        Field("energy_rank_90", "integer", "smallest k with Σ_{i≤k}σi² ≥ 0.90·‖W‖F²"),
        Field("energy_rank_99", "integer", "smallest k with Σ_{i≤k}σi² ≥ 0.99·‖W‖F²"),
        Field(
            "svd_rel_error",
            "array",
            "optimal rank-k relative error sqrt(Σ_{i>k}σi²/Σσi²) (Eckart–Young) at the requested ranks",
            schema={
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"rank": {"type": "integer"}, "rel_error": {"type": "number"}},
                    "required": ["rank", "rel_error"],
                    "additionalProperties": False,
                },
            },
        ),
        Field("svd_route", "string", "how σ was computed (LAPACK driver)"),
        Field("svd_dtype", "string", "dtype the SVD ran in"),
        Field("sigma", "array", "all p singular values, descending (with full_spectrum)", schema=_NUMBERS),
    ),
    run=run,
)
