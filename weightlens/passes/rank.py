"""Rank: numerical rank with a storage-aware tolerance, effective and stable rank."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from weightlens.linalg.spectrum import Spectrum
from weightlens.passes.base import Field, Pass, TensorContext


def effective_rank(sp: Spectrum) -> float | None:
    """Roy & Vetterli's effective rank over the numerically nonzero singular values.

    q_i = σi / Σ_{j≤r} σj for i ≤ r = numerical_rank, erank = exp(−Σ q_i ln q_i); 0 when r = 0.
    Restricting to σi > tol keeps storage rounding noise out: over all p values, a rank-256
    2048² matrix stored in BF16 has erank ≈ 276 > its rank. None for a partial spectrum.
    """
    r = sp.rank
    if r is None or not sp.complete:
        return None
    if r == 0:
        return 0.0
    s = sp.sigma[:r] / sp.sigma[0]  # divided by σ1 first: Σσj cannot overflow for σ near the float64 maximum
    q = s / s.sum()
    q = q[q > 0]
    return float(min(math.exp(-float(np.sum(q * np.log(q)))), r))


def run(ctx: TensorContext) -> dict[str, Any]:
    """numerical_rank = #{σi > tol}; rank_ratio = rank/p; effective rank; stable_rank = ‖W‖F²/σ1².

    rank_deficient = σp ≤ tol, which a partial spectrum decides even when it leaves the rank open.
    """
    sp = ctx.spectrum
    r = sp.rank
    return {
        "numerical_rank": r,
        "rank_tol": sp.tol,
        "rank_ratio": None if r is None else r / sp.p,
        "rank_deficient": sp.sigma_min <= sp.tol,
        "effective_rank": effective_rank(sp),
        "stable_rank": (sp.fro_norm / sp.sigma_max) ** 2 if sp.sigma_max > 0 else None,
    }


PASS = Pass(
    name="rank",
    description="numerical rank (storage-aware tolerance), rank ratio, effective and stable rank",
    scope="matrix",
    spectrum_only=True,
    fields=(
        Field("numerical_rank", "integer", "#{σi > rank_tol}; null when --spectrum fast leaves it open (σp ≤ rank_tol < σ_top_k)", nullable=True),
        Field("rank_tol", "number", "max(2·u_store·(max row norm + max col norm)/√3, the route's resolution: max(m,n)·eps_compute·σ1 for gesdd, √(eps64·(m+n))·‖W‖F for gram/lanczos)"),
        Field("rank_ratio", "number", "numerical_rank / min(m, n)", nullable=True),
        Field("rank_deficient", "boolean", "numerical_rank < min(m, n), i.e. σp ≤ rank_tol"),
        Field("effective_rank", "number", "exp(entropy of σi/Σσj over σi > rank_tol) (Roy & Vetterli 2007); null with --spectrum fast", nullable=True),
        Field("stable_rank", "number", "‖W‖F² / σ1²; null for W = 0", nullable=True),
    ),
    run=run,
)
