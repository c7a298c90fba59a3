#!/usr/bin/env python3
"""LoRA spectrum: the QR/core route against an SVD of the formed product, side by side.

    python bench/run.py lora          # or: python bench/lora_bench.py

Per (m, n, r): the median wall time of ``lowrank_spectrum`` (QR of B and Aᵀ, SVD of the r×r
core) and of ``compute_spectrum`` on the explicitly formed s·B·A in float64 (what analyzing the
merged F32 weight costs), their ratio, and the largest difference of the singular values
relative to σ1. One BLAS thread for both routes: on a shared 2-core machine multithreaded
OpenBLAS times swing with the load of other processes, which hides the comparison.
Writes bench/out/lora.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from pathlib import Path  # noqa: E402  # after the BLAS thread variables are set

import numpy as np  # noqa: E402  # after the BLAS thread variables are set
from benchutil import machine, median_time  # noqa: E402  # after the BLAS thread variables are set

from weightlens.linalg.spectrum import compute_spectrum  # noqa: E402  # after the BLAS thread variables are set
from weightlens.pipeline.lora import lowrank_spectrum  # noqa: E402  # after the BLAS thread variables are set

OUT = Path(__file__).resolve().parent / "out"
CASES = [(1024, 1024, 16, 5), (2048, 2048, 16, 3), (4096, 1024, 64, 3)]
"""(m, n, r, runs of the dense SVD); the QR route is timed over 7 runs."""


def main() -> None:
    rng = np.random.default_rng(0)
    lines = [
        f"{machine()}, one BLAS thread; median of 7 (lora-qr) and of 3–5 (dense) runs.",
        "",
        "| m×n | r | lora-qr | dense float64 SVD | ratio | max \\|Δσ\\|/σ1 |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for m, n, r, runs in CASES:
        b = (0.01 * rng.standard_normal((m, r))).astype(np.float32)
        a = (rng.standard_normal((r, n)) / np.sqrt(n)).astype(np.float32)
        u = 2.0**-24
        t_qr = median_time(lambda: lowrank_spectrum(b, a, 2.0, u, u), 7)  # noqa: B023  # called at once, inside the loop iteration
        dense = 2.0 * (b.astype(np.float64) @ a.astype(np.float64))
        t_dense = median_time(lambda: compute_spectrum(dense, u, "float64"), runs)  # noqa: B023  # called at once, inside the loop iteration
        s_qr = lowrank_spectrum(b, a, 2.0, u, u).sigma
        s_dense = compute_spectrum(dense, u, "float64").sigma
        err = float(np.abs(s_qr - s_dense).max() / s_dense[0])
        lines.append(f"| {m}×{n} | {r} | {t_qr * 1e3:.2f} ms | {t_dense * 1e3:.0f} ms | {t_dense / t_qr:.0f}× | {err:.1e} |")
    text = "\n".join(lines) + "\n"
    OUT.mkdir(exist_ok=True)
    (OUT / "lora.md").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
