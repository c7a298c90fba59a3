"""Spectrum: norms, leading singular values, energy ranks and optimal low-rank errors."""

from __future__ import annotations

from typing import Any

from weightlens.passes.base import Field, Pass, TensorContext
from weightlens.passes.options import resolve_rank

_NUMBERS = {"type": "array", "items": {"type": "number"}}


def run(ctx: TensorContext) -> dict[str, Any]:
    """σ1, σp, ‖W‖F, top-k σ, energy ranks (τ = 0.9, 0.99), svd_rel_error(k) = sqrt(Σ_{i>k}σi²/Σσi²).

    From a partial spectrum (``--spectrum fast``) values that need σ beyond the top k are null.
    """
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
        "spectrum_exact": sp.complete,
        "sigma_error": sp.sigma_error,
        "sigma_min_error": sp.sigma_min_error,
    }
    if opts.full_spectrum and sp.complete:
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
        Field("energy_rank_90", "integer", "smallest k with Σ_{i≤k}σi² ≥ 0.90·‖W‖F²; null when beyond the top_k of --spectrum fast", nullable=True),
        Field("energy_rank_99", "integer", "smallest k with Σ_{i≤k}σi² ≥ 0.99·‖W‖F²; null when beyond the top_k of --spectrum fast", nullable=True),
        Field(
            "svd_rel_error",
            "array",
            "optimal rank-k relative error sqrt(Σ_{i>k}σi²/Σσi²) (Eckart–Young) at the requested ranks; null for k beyond the top_k of --spectrum fast",
            schema={
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"rank": {"type": "integer"}, "rel_error": {"type": ["number", "null"]}},
                    "required": ["rank", "rel_error"],
                    "additionalProperties": False,
                },
            },
        ),
        Field("svd_route", "string", "how σ was computed: gesdd, gesvd (gesdd did not converge), gram (float64 Gram eigenvalues) or lanczos (--spectrum fast)"),
        Field("svd_dtype", "string", "dtype σ was computed in"),
        Field("spectrum_exact", "boolean", "all p singular values were computed; false for the lanczos route of --spectrum fast (top_k values and σmin only)"),
        Field("sigma_error", "number", "bound on |σ̂i − σi| of the reported leading values (a priori for exact routes, a posteriori for lanczos)"),
        Field("sigma_min_error", "number", "bound (lanczos: estimate) on |σ̂p − σp|"),
        Field("sigma", "array", "all p singular values, descending (with full_spectrum)", schema=_NUMBERS),
    ),
    run=run,
)
