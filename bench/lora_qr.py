#!/usr/bin/env python3
"""LoRA spectrum: the QR/core route against an SVD of the formed product, side by side.

    OPENBLAS_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/lora_qr.py

(one BLAS thread for both routes: on a shared 2-core machine, multithreaded OpenBLAS times swing
by 10× with the load of other processes, which hides the comparison.)

Prints, per (m, n, r), the median wall time of ``lowrank_spectrum`` (QR of B and Aᵀ, SVD of the
r×r core) and of ``compute_spectrum`` on the explicitly formed s·B·A (what analyzing a merged F32
weight costs), their ratio, and the largest difference of the singular values relative to σ1.
"""

from __future__ import annotations

import numpy as np
from benchutil import median_time

from weightlens.lora import lowrank_spectrum
from weightlens.spectrum import compute_spectrum

CASES = [(1024, 1024, 16, 5), (2048, 2048, 16, 3), (4096, 1024, 64, 3)]


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'m':>5} {'n':>5} {'r':>3}  {'lora-qr':>10}  {'dense SVD':>10}  {'ratio':>7}  max|Δσ|/σ1")
    for m, n, r, runs in CASES:
        b = (0.01 * rng.standard_normal((m, r))).astype(np.float32)
        a = (rng.standard_normal((r, n)) / np.sqrt(n)).astype(np.float32)
        u = 2.0**-24
        t_qr = median_time(lambda: lowrank_spectrum(b, a, 2.0, u, u), 7)
        dense = 2.0 * (b.astype(np.float64) @ a.astype(np.float64))
        t_dense = median_time(lambda: compute_spectrum(dense, u, "float64"), runs)
        s_qr = lowrank_spectrum(b, a, 2.0, u, u).sigma
        s_dense = compute_spectrum(dense, u, "float64").sigma
        err = float(np.abs(s_qr - s_dense).max() / s_dense[0])
        print(f"{m:>5} {n:>5} {r:>3}  {t_qr * 1e3:>8.2f}ms  {t_dense * 1e3:>8.0f}ms  {t_dense / t_qr:>6.0f}×  {err:.1e}")


if __name__ == "__main__":
    main()
