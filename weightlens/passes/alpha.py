"""Alpha: the heavy-tail exponent of the eigenvalue density λ = σ² (Clauset–Shalizi–Newman fit).

Reads the shared spectrum; no second SVD. Only the numerically nonzero eigenvalues enter the
fit (σ > rank_tol): values at or below the tolerance are storage rounding noise or exact zeros,
whose logarithms would drag α and whose count depends on the dtype, not on the weights.
"""

from __future__ import annotations

from typing import Any

from weightlens.linalg.powerlaw import KS_CRITICAL, MIN_POINTS, MIN_TAIL_GOOD, fit_power_law
from weightlens.passes.base import Field, Pass, TensorContext

_NO_FIT: dict[str, Any] = {
    "alpha": None,
    "alpha_stderr": None,
    "alpha_xmin": None,
    "alpha_ks_distance": None,
    "alpha_n_tail": None,
    "alpha_quality": "no_fit",
}


def run(ctx: TensorContext) -> dict[str, Any]:
    """α̂ = 1 + n/Σ ln(λ_i/xmin) over λ_i ≥ xmin, xmin minimising the KS distance; λ = σ² for σ > rank_tol."""
    sp = ctx.spectrum
    if not sp.complete:  # --spectrum fast: the top k alone are not the tail's distribution
        return {**_NO_FIT, "alpha_quality": "partial_spectrum"}
    # α is scale-free: fit λ/σ1² (σ² of F64 weights can overflow) and scale xmin back.
    s1 = sp.sigma_max
    fit = fit_power_law((sp.sigma[: sp.rank] / s1) ** 2) if s1 > 0 else None
    if fit is None:
        return _NO_FIT
    return {
        "alpha": fit.alpha,
        "alpha_stderr": fit.stderr,
        "alpha_xmin": fit.xmin * s1 * s1,
        "alpha_ks_distance": fit.ks_distance,
        "alpha_n_tail": fit.n_tail,
        "alpha_quality": fit.quality,
    }


PASS = Pass(
    name="alpha",
    description="heavy-tail exponent α of the eigenvalue density λ = σ² (power-law MLE, xmin by KS distance)",
    scope="matrix",
    spectrum_only=True,
    fields=(
        Field("alpha", "number", "power-law exponent of the tail λ ≥ alpha_xmin: 1 + n/Σ ln(λi/xmin); null with no_fit", nullable=True),
        Field("alpha_stderr", "number", "standard error (α − 1)/√alpha_n_tail", nullable=True),
        Field("alpha_xmin", "number", "start of the fitted tail, in λ = σ² units (minimises the KS distance)", nullable=True),
        Field("alpha_ks_distance", "number", "Kolmogorov–Smirnov distance between the tail and the fitted law", nullable=True),
        Field("alpha_n_tail", "integer", "eigenvalues in the fitted tail (λ ≥ alpha_xmin)", nullable=True),
        Field(
            "alpha_quality",
            "string",
            f"good; few_tail_points (n_tail < {MIN_TAIL_GOOD}); poor_fit (KS distance > {KS_CRITICAL}/√n_tail); "
            f"no_fit (< {MIN_POINTS} nonzero eigenvalues); partial_spectrum (--spectrum fast computed only the top k σ)",
            schema={"enum": ["good", "few_tail_points", "poor_fit", "no_fit", "partial_spectrum"]},
        ),
    ),
    run=run,
)
