"""NMF: how well a rank-k non-negative factorization compresses each matrix, against the SVD floor.

For each requested rank k the pass factorizes W ≈ F·G (G ≥ 0; F signed in semi-NMF, F ≥ 0 in
classic NMF) with the solvers of :mod:`weightlens.linalg.nmf`, and sets the error beside the optimal
rank-k error of the shared spectrum (Eckart–Young) — no second SVD.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np

from weightlens.linalg.nmf import NMFResult, nonneg_nmf, semi_nmf
from weightlens.linalg.spectrum import Spectrum, compute_dtype_for
from weightlens.passes.base import Field, Pass, TensorContext
from weightlens.passes.options import default_nmf_rank, resolve_rank

ENTRY_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "rank": {"type": "integer", "minimum": 1, "description": "k"},
            "mode": {"enum": ["semi", "nonneg"], "description": "semi: F signed, G ≥ 0; nonneg: F ≥ 0, G ≥ 0"},
            "input": {"enum": ["W", "|W|"], "description": "the matrix factorized"},
            "nmf_rel_error": {"type": "number", "minimum": 0, "description": "‖X − FG‖F / ‖X‖F, X the input"},
            "svd_rel_error": {
                "type": ["number", "null"],
                "minimum": 0,
                "description": "sqrt(Σ_{i>k}σi²/Σσi²) of W; null for |W| (the shared spectrum is W's) and with --spectrum fast",
            },
            "nmf_svd_ratio": {
                "type": ["number", "null"],
                "description": "nmf_rel_error / svd_rel_error (≥ 1 up to solver tolerance); null when the SVD error is "
                "unknown or numerically zero (k ≥ numerical_rank: both errors are rounding noise)",
            },
            "svd_rank_equivalent": {
                "type": ["integer", "null"],
                "minimum": 0,
                "description": "smallest j with svd_rel_error(j) ≤ nmf_rel_error; null for |W|",
            },
            "iterations": {"type": "integer", "minimum": 0, "description": "iterations run"},
            "converged": {"type": "boolean", "description": "the stopping rule was met before nmf_max_iter"},
            "kkt_residual": {
                "type": "number",
                "minimum": 0,
                "description": "relative KKT residual of the returned factors: sqrt(Σ_blocks ‖projected gradient‖F²/‖Gram‖2)/‖X‖F, "
                "0 at a stationary point",
            },
        },
        "required": [
            "rank",
            "mode",
            "input",
            "nmf_rel_error",
            "svd_rel_error",
            "nmf_svd_ratio",
            "svd_rank_equivalent",
            "iterations",
            "converged",
            "kkt_residual",
        ],
        "additionalProperties": False,
    },
}


def svd_rank_equivalent(sp: Spectrum, error: float) -> int:
    """Smallest j in 0..p with svd_rel_error(j) ≤ error (svd_rel_error is non-increasing in j)."""

    def within(j: int) -> bool:
        e = sp.rel_error(j)
        assert e is not None  # a complete spectrum (the only kind given here) knows svd_rel_error(j) for every j
        return e <= error

    return bisect.bisect_left(range(sp.p + 1), True, key=within)


def _entry(k: int, mode: str, input_: str, result: NMFResult, sp: Spectrum | None) -> dict[str, Any]:
    """One report entry; ``sp`` is the input's spectrum, or None when it is not known (|W|)."""
    e = result.rel_error
    svd: float | None = None
    ratio: float | None = None
    equivalent: int | None = None
    if sp is not None:
        svd, rank = sp.rel_error(k), sp.rank
        assert svd is not None and rank is not None  # sp is complete (run() passes None otherwise): both are known
        # For k ≥ numerical rank the SVD error is rounding noise: a ratio to it means nothing.
        ratio = e / svd if svd > 0 and k < rank else None
        equivalent = svd_rank_equivalent(sp, e)
    return {
        "rank": k,
        "mode": mode,
        "input": input_,
        "nmf_rel_error": e,
        "svd_rel_error": svd,
        "nmf_svd_ratio": ratio,
        "svd_rank_equivalent": equivalent,
        "iterations": result.iterations,
        "converged": result.converged,
        "kkt_residual": result.kkt,
    }


def run(ctx: TensorContext) -> dict[str, Any]:
    """Rank-k (semi-)NMF errors beside svd_rel_error(k), for each requested k."""
    opts = ctx.options
    sp = ctx.spectrum
    w = ctx.matrix
    signed = w.size > 0 and float(w.min()) < 0
    mode = opts.nmf_mode
    if mode == "auto":
        mode = "semi" if signed else "nonneg"
    if mode == "nonneg" and signed:
        return {"nmf": [], "nmf_skipped": "negative entries: nonneg NMF needs W ≥ 0 (use --nmf-mode semi, or abs for |W|)"}
    x = np.asarray(w, dtype=compute_dtype_for(sp.u_store, opts.precision))
    if mode == "abs":
        x = np.abs(x)
    ranks = sorted({resolve_rank(s, sp.p) for s in opts.nmf_ranks} or {default_nmf_rank(sp.p)})
    tol, max_iter = opts.nmf_tol, opts.nmf_max_iter
    full = sp if sp.complete else None  # --spectrum fast: the SVD errors at rank k are not known
    entries = []
    for k in ranks:
        seed = (opts.seed, k)
        if mode == "semi":
            res = semi_nmf(x, k, tol=tol, max_iter=max_iter, seed=seed, sigma=None if full is None else full.sigma)
            entries.append(_entry(k, "semi", "W", res, full))
        else:
            res = nonneg_nmf(x, k, tol=tol, max_iter=max_iter, seed=seed)
            entries.append(_entry(k, "nonneg", "|W|" if mode == "abs" else "W", res, None if mode == "abs" else full))
    return {"nmf": entries, "nmf_skipped": None}


PASS = Pass(
    name="nmf",
    description="rank-k (semi-)NMF relative error beside the optimal rank-k SVD error",
    scope="matrix",
    fields=(
        Field(
            "nmf",
            "array",
            "one entry per NMF rank: relative error of the rank-k factorization, the SVD's at the same k, "
            "their ratio, the SVD rank of equal error, iterations, convergence, KKT residual",
            schema=ENTRY_SCHEMA,
        ),
        Field("nmf_skipped", "string", "why no NMF was run (nonneg mode on a matrix with negative entries)", nullable=True),
    ),
    run=run,
)
