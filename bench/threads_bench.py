#!/usr/bin/env python3
"""How many BLAS threads one matrix's spectrum should get: 1 vs all cores, idle and under load.

    python bench/threads_bench.py [--reps 5] [--dtypes F32,BF16] [--shapes 256x256,1536x384,...]
    python bench/run.py threads          (the same, with the defaults; `make bench` runs all benchmarks)

For each shape and storage dtype (F32: float64 ``gesdd``; BF16: the float64 Gram route),
:func:`weightlens.compute_spectrum` is timed in this process with BLAS limited to 1 thread and to
all cores (threadpoolctl), the two interleaved, median of ``--reps`` calls — once on an idle
machine, once while the machine is loaded by one busy-looping process per core (started and
stopped by PID). weightlens' own per-matrix choice is switched off (``MULTI_THREAD_WORK = 0``),
so that threadpoolctl alone sets the threads of both variants.

The column "work" is m·n·min(m, n), the quantity weightlens' threshold
(``weightlens.linalg.blas.MULTI_THREAD_WORK``) is expressed in. Results: stdout, bench/out/threads.json,
bench/out/threads.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from benchutil import machine
from threadpoolctl import threadpool_limits

import weightlens.linalg.blas as blas
from weightlens.linalg.spectrum import compute_spectrum

OUT = Path(__file__).resolve().parent / "out"
SHAPES = "128x128,256x256,384x384,512x512,768x768,1536x384,1024x1024,1536x1536,2048x2048,30522x384"
U = {"F32": 2.0**-24, "BF16": 2.0**-8}


@contextmanager
def load(cores: int) -> Iterator[None]:
    """One busy-looping process per core while inside; they are stopped by PID on exit."""
    procs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def matrix(m: int, n: int, dtype: str) -> np.ndarray:
    """0.02·Gaussian plus a planted rank-8 part, rounded to the storage dtype, as float32."""
    rng = np.random.default_rng(m * 100_003 + n)
    w = 0.02 * rng.standard_normal((m, n)).astype(np.float32)
    w += (rng.standard_normal((m, 8)) @ rng.standard_normal((8, n)) / np.sqrt(m * n) ** 0.5).astype(np.float32)
    if dtype == "BF16":
        w = (w.view(np.uint32) & 0xFFFF0000).view(np.float32)  # truncation to BF16: same distribution of rounding
    return w


def timed(w: np.ndarray, u: float, threads: int) -> float:
    with threadpool_limits(limits=threads, user_api="blas"):
        t0 = time.perf_counter()
        compute_spectrum(w, u)
        return time.perf_counter() - t0


def measure(shapes: list[tuple[int, int]], dtypes: list[str], reps: int, cores: int, label: str) -> list[dict[str, Any]]:
    rows = []
    for dtype in dtypes:
        for m, n in shapes:
            w = matrix(m, n, dtype)
            compute_spectrum(w, U[dtype])  # warm-up (first call loads LAPACK paths)
            times: dict[int, list[float]] = {1: [], cores: []}
            for rep in range(reps):
                for threads in ((1, cores) if rep % 2 == 0 else (cores, 1)):
                    times[threads].append(timed(w, U[dtype], threads))
            one, many = statistics.median(times[1]), statistics.median(times[cores])
            row = {"load": label, "dtype": dtype, "m": m, "n": n, "work": float(m * n * min(m, n)), "t1": one, "tn": many, "speedup": one / many}
            print(f"  {label:6} {dtype:4} {m:>6}x{n:<5} work {row['work']:.1e}: 1 thread {one:.4f} s, {cores} threads {many:.4f} s, speedup {one / many:.2f}", flush=True)
            rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], cores: int) -> str:
    lines = [
        f"BLAS threads for one matrix's spectrum ({machine()}); median of interleaved calls, seconds.",
        "",
        f"| dtype (route) | shape | m·n·p | idle, 1 thread | idle, {cores} threads | idle speedup | loaded, 1 thread | loaded, {cores} threads | loaded speedup |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    by = {(r["load"], r["dtype"], r["m"], r["n"]): r for r in rows}
    for r in rows:
        if r["load"] != "idle":
            continue
        ld = by.get(("loaded", r["dtype"], r["m"], r["n"]))
        route = "float64 gesdd" if r["dtype"] == "F32" else "gram"
        loaded = f"{ld['t1']:.4f} | {ld['tn']:.4f} | {ld['speedup']:.2f}" if ld else "- | - | -"
        lines.append(f"| {r['dtype']} ({route}) | {r['m']}×{r['n']} | {r['work']:.1e} | {r['t1']:.4f} | {r['tn']:.4f} | {r['speedup']:.2f} | {loaded} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dtypes", default="F32,BF16")
    ap.add_argument("--shapes", default=SHAPES)
    ap.add_argument("--no-load", action="store_true", help="skip the loaded measurements")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        print("threads bench: needs at least 2 cores", file=sys.stderr)
        return 0
    blas.MULTI_THREAD_WORK = 0.0  # both variants: whatever threadpool_limits sets
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    dtypes = args.dtypes.split(",")
    rows = measure(shapes, dtypes, args.reps, cores, "idle")  # type: ignore[arg-type]  # shapes parsed from the command line are pairs
    if not args.no_load:
        with load(cores):
            rows += measure(shapes, dtypes, args.reps, cores, "loaded")  # type: ignore[arg-type]  # as above
    OUT.mkdir(exist_ok=True)
    (OUT / "threads.json").write_text(json.dumps(rows, indent=1))
    md = markdown(rows, cores)
    (OUT / "threads.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
