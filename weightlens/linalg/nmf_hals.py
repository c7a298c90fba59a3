"""Exact block updates of one NMF factor with the other fixed: HALS sweeps (Cichocki & Phan 2009)
repeated while they pay (accelerated HALS, Gillis & Glineur 2012).

The solver of :mod:`weightlens.linalg.nmf_newton` falls back on them when its Gauss–Newton model stops
predicting progress: each row update is the exact minimizer over that row, bounds included, so a
pass finds decrease the projected model can miss where many variables sit at their bound.
"""

from __future__ import annotations

import numpy as np

INNER_ALPHA = 0.5
INNER_DELTA = 0.01
ROW_OVERHEAD = 20_000
"""Sweeps over one factor repeat while their total cost stays below INNER_ALPHA times that of the
product feeding them and each sweep still moves the factor by more than INNER_DELTA times the first
(squared Frobenius norms). A row update is costed at N·(k+1) flops plus ROW_OVERHEAD, the
interpreter's fixed cost of one update in flops, so small matrices do not spend their time in
Python loops."""


def max_sweeps(rows: int, other: int, k: int) -> int:
    """Sweeps over a k×rows factor whose cost, k·(rows·(k+1) + ROW_OVERHEAD), stays within
    INNER_ALPHA times that of the k·rows·other product feeding them; at least 1."""
    rho = 1 + rows * other / (rows * (k + 1) + ROW_OVERHEAD)
    return 1 + int(INNER_ALPHA * rho)


def hals_sweeps(x: np.ndarray, a: np.ndarray, q: np.ndarray, sweeps: int) -> None:
    """HALS for min_{X ≥ 0} ‖Z − Yᵀ X‖F, given A = Y Z (k×N) and Q = Y Yᵀ (k×k); X (k×N) in place.

    A sweep sets row j ← max(0, X_j + (A_j − Q_j X) / Q_jj) for j = 1..k in turn, each the exact
    minimizer over that row with the others fixed, so the objective never increases. Sweeps repeat
    up to ``sweeps`` times while one moves X by more than INNER_DELTA times the first did (squared
    Frobenius norms). Rows whose Q_jj is below eps·max Q_ii (a numerically zero row of Y) are left
    alone: they do not affect Yᵀ X.
    """
    diag = np.diagonal(q).copy()
    if not diag.max() > 0:
        return
    live = np.flatnonzero(diag > np.finfo(q.dtype).eps * diag.max())
    d = diag[live][:, None]
    rows = [(x[j], an, qn) for j, an, qn in zip(live, a[live] / d, q[live] / d, strict=True)]
    buf = np.empty(x.shape[1], x.dtype)
    first = 0.0
    for sweep in range(sweeps):
        before = x.copy()
        for row, an, qn in rows:
            np.subtract(an, qn @ x, out=buf)
            row += buf
            np.maximum(row, 0, out=row)
        before -= x
        moved = float(np.einsum("ij,ij->", before, before, dtype=np.float64))
        if sweep == 0:
            first = moved
        elif moved <= INNER_DELTA * first:
            break
