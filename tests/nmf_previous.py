"""The semi-NMF solver weightlens shipped before the Gauss–Newton one (commit b22210c), kept as the
baseline of "never worse than before": F = W Gᵀ (G Gᵀ)⁻¹ exactly, then accelerated HALS sweeps over
the rows of G (Gillis & Glineur 2012), from the same start; stop when the relative error decreased
by less than tol over 10 iterations, or after max_iter. Runs in W's dtype (float32 or float64); no rescaling."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from weightlens.linalg.nmf import NNDSVD_POWER_ITERS, semi_nmf_init, top_singular_triplets
from weightlens.linalg.nmf_newton import dot64, residual_sq

WINDOW = 10
INNER_ALPHA = 0.5
INNER_DELTA = 0.01
ROW_OVERHEAD = 20_000


def _hals_sweeps(x: np.ndarray, a: np.ndarray, q: np.ndarray, max_sweeps: int) -> None:
    """Row-wise exact minimization of ‖Z − Yᵀ X‖ over X ≥ 0 given A = Y Z, Q = Y Yᵀ; X in place."""
    diag = np.diagonal(q).copy()
    live = np.flatnonzero(diag > np.finfo(q.dtype).eps * diag.max())
    d = diag[live][:, None]
    rows = [(x[j], an, qn) for j, an, qn in zip(live, a[live] / d, q[live] / d, strict=True)]
    first = 0.0
    for sweep in range(max_sweeps):
        before = x.copy()
        for row, an, qn in rows:
            row += an - qn @ x
            np.maximum(row, 0, out=row)
        before -= x
        moved = dot64(before, before)
        if sweep == 0:
            first = moved
        elif moved <= INNER_DELTA * first:
            break


def semi_nmf_previous(w: np.ndarray, k: int, *, sigma: np.ndarray, tol: float = 1e-4, max_iter: int = 200, seed: object = 0) -> float:
    """The previous solver's relative error ‖W − F G‖F / ‖W‖F (from the residual)."""
    rng = np.random.default_rng(seed)  # type: ignore[arg-type]  # a seed as semi_nmf takes it
    sq = np.sort(np.asarray(sigma, dtype=np.float64)) ** 2
    target = float(np.sum(sq[: sq.size - (k - 1)])) * (1 + tol) ** 2 + 64 * float(np.finfo(w.dtype).eps) * float(np.sum(sq))
    u, s, vt, err_sq = top_singular_triplets(w, k - 1, rng, power_iters=NNDSVD_POWER_ITERS, target_error_sq=target)
    ft, g = semi_nmf_init(u, s, vt, k)
    w_sq = dot64(w, w)
    history = [math.sqrt(err_sq / w_sq)]
    rho = 1 + w.shape[1] * w.shape[0] / (w.shape[1] * (k + 1) + ROW_OVERHEAD)
    sweeps = 1 + int(INNER_ALPHA * rho)
    ggt = g @ g.T
    while len(history) <= max_iter:
        gwt = g @ w.T
        try:
            ft = scipy.linalg.cho_solve((np.linalg.cholesky(ggt), True), gwt, check_finite=False)
        except np.linalg.LinAlgError:
            ft = scipy.linalg.pinvh(ggt) @ gwt
        ftf, ftw = ft @ ft.T, ft @ w
        _hals_sweeps(g, ftw, ftf, sweeps)
        ggt = g @ g.T
        history.append(math.sqrt(max(w_sq - 2 * dot64(ftw, g) + dot64(ftf, ggt), 0.0) / w_sq))
        e, old = history[-1], history[-1 - WINDOW] if len(history) > WINDOW else None
        if e == 0.0 or (old is not None and old - e < tol * old):
            break
    res_sq, _ = residual_sq(w, ft, g)
    return math.sqrt(res_sq / w_sq)
