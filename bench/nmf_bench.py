"""weightlens' NMF against scikit-learn's NMF (solver="cd" and solver="mu"), and its semi-NMF against the previous solver.

    python bench/nmf_bench.py [--reps N] [--cases issue,dense-1000,planted-2048,...] [--out DIR]
    python bench/run.py nmf        (the same with the defaults; `make bench` runs every benchmark)

Classic NMF (F, G ≥ 0), float64, on the same matrices for every solver:

- ``issue``: exactly rank 8, 300×200, dense uniform factors (issue 17's example: the previous
  accelerated HALS reported 0.009 after 200 iterations, scikit-learn's cd 0.011).
- ``dense-1000``: the same construction at 1000×800, rank 8.
- ``planted-2048``, ``planted-4096``: exactly rank 32 (2048×2048) and rank 64 (4096×4096) with
  sparse exponential factors (weightlens.testing.nonneg_low_rank), the issue's goal size.
- ``noisy-2048``: planted rank 32, normalized to mean 1, plus uniform noise in [0, 0.1): a floor
  no rank-32 factorization goes below.
- ``abs-gauss-1024``: |W| of a 1024×1024 Gaussian at rank 32: no low-rank structure at all, the
  large-residual regime of ``--nmf-mode abs`` on real weights.

scikit-learn runs with init="nndsvda", tol=1e-4, max_iter=200 (its defaults but the start), and,
on the two small exact cases, also with max_iter=2000, tol=0 — more iterations do not make it
converge. weightlens runs nonneg_nmf with its defaults (tol=1e-4, max_iter=200, NNDSVDa start).
Every solver's error is ‖W − FG‖F/‖W‖F from the residual and its KKT residual κ is computed by the
same function (weightlens.linalg.nmf_newton.factor_kkt), outside the timings.

Semi-NMF (F signed, G ≥ 0) has no scikit-learn counterpart; it is measured against the solver
weightlens shipped before (tests/nmf_previous.py: exact least squares for F, accelerated HALS
for G), at the pass's precision, on every matrix of sample_weights/tiny_model (BF16 → float32) at
the pass's default rank, and on Gaussian and geometric-spectrum 1024×1024 float64 matrices.

BLAS runs single-threaded for everyone and times are CPU seconds of the process (a shared machine
makes wall time count waits for a core), the median of ``--reps`` runs, the solvers interleaved
within each repetition. Peak RSS is /usr/bin/time -v of a child process that builds the matrix and
runs one fit, next to one that only builds it. Results go to OUT/nmf.json and OUT/nmf.md.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402  # after the BLAS thread variables are set
import json  # noqa: E402  # after the BLAS thread variables are set
import re  # noqa: E402  # after the BLAS thread variables are set
import statistics  # noqa: E402  # after the BLAS thread variables are set
import subprocess  # noqa: E402  # after the BLAS thread variables are set
import sys  # noqa: E402  # after the BLAS thread variables are set
import time  # noqa: E402  # after the BLAS thread variables are set
import warnings  # noqa: E402  # after the BLAS thread variables are set
from collections.abc import Callable  # noqa: E402  # after the BLAS thread variables are set
from pathlib import Path  # noqa: E402  # after the BLAS thread variables are set

import numpy as np  # noqa: E402  # after the BLAS thread variables are set
import scipy  # noqa: E402  # after the BLAS thread variables are set
from benchutil import machine  # noqa: E402  # after the BLAS thread variables are set

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.nmf_previous: the previous semi-NMF solver

from tests.nmf_previous import semi_nmf_previous  # noqa: E402  # needs the repository root on sys.path
from weightlens.checkpoint import open_checkpoint  # noqa: E402  # after the BLAS thread variables are set
from weightlens.checkpoint.reader import read_tensor  # noqa: E402  # after the BLAS thread variables are set
from weightlens.linalg.nmf import NMFResult, nonneg_nmf, semi_nmf  # noqa: E402  # after the BLAS thread variables are set
from weightlens.linalg.nmf_newton import factor_kkt  # noqa: E402  # after the BLAS thread variables are set
from weightlens.testing import nonneg_low_rank, with_spectrum  # noqa: E402  # after the BLAS thread variables are set

TOL = 1e-4
MAX_ITER = 200
LONG_ITER = 2000
CASES = {
    "issue": (300, 200, 8),
    "dense-1000": (1000, 800, 8),
    "planted-2048": (2048, 2048, 32),
    "planted-4096": (4096, 4096, 64),
    "noisy-2048": (2048, 2048, 32),
    "abs-gauss-1024": (1024, 1024, 32),
}
LONG_CASES = ("issue", "dense-1000")


def matrix(case: str) -> tuple[np.ndarray, int]:
    """The case's matrix (float64, deterministic) and rank."""
    m, n, k = CASES[case]
    rng = np.random.default_rng(17)
    if case in ("issue", "dense-1000"):
        return rng.random((m, k)) @ rng.random((k, n)), k
    if case.startswith("planted"):
        return nonneg_low_rank(rng, m, n, k), k
    if case.startswith("noisy"):
        w = nonneg_low_rank(rng, m, n, k)
        w /= w.mean()
        w += 0.1 * rng.random((m, n))
        return w, k
    return np.abs(rng.standard_normal((m, n))), k


def rel_error(w: np.ndarray, f: np.ndarray, g: np.ndarray) -> float:
    return float(np.linalg.norm(w - f @ g) / np.linalg.norm(w))


def fit(which: str, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int, bool | None]:
    """(F, G, iterations, converged) of one solver; converged is None where the solver does not say."""
    if which == "weightlens":
        res = nonneg_nmf(w, k, tol=TOL, max_iter=MAX_ITER, seed=0)
        return res.F, res.G, res.iterations, res.converged
    from sklearn.decomposition import NMF

    solver, _, long = which.partition(" ")
    tol, max_iter = (0.0, LONG_ITER) if long else (TOL, MAX_ITER)
    model = NMF(n_components=k, solver=solver.removeprefix("sklearn-"), init="nndsvda", tol=tol, max_iter=max_iter, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
        f = model.fit_transform(w)
    return f, model.components_, int(model.n_iter_), None


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """CPU time of the process (BLAS is single-threaded, so this is the work done) and the result."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def solvers(case: str) -> list[str]:
    out = ["weightlens", "sklearn-cd", "sklearn-mu"]
    return out + ["sklearn-cd long"] if case in LONG_CASES else out


def nonneg_case(case: str, reps: int) -> dict:
    w, k = matrix(case)
    times: dict[str, list[float]] = {s: [] for s in solvers(case)}
    results: dict[str, tuple] = {}
    for rep in range(reps):
        order = solvers(case)
        order = order[rep % len(order) :] + order[: rep % len(order)]  # rotate who runs first
        for which in order:
            t, results[which] = timed(lambda which=which: fit(which, w, k))
            times[which].append(t)
    rows = {}
    for which, (f, g, iterations, converged) in results.items():
        rows[which] = {
            "error": rel_error(w, f, g),
            "kkt": factor_kkt(w, f.T, g, nonneg1=True),
            "iterations": iterations,
            "converged": converged,
            "time": statistics.median(times[which]),
        }
    rss = {which: peak_rss_mib(which, case) for which in ("none", "weightlens", "sklearn-cd", "sklearn-mu")}
    return {"case": case, "shape": CASES[case], "rows": rows, "rss_mib": rss}


def semi_matrices() -> list[tuple[str, np.ndarray, int]]:
    """The shipped model's matrices (float32, as the pass runs BF16) and two float64 1024² matrices."""
    out = []
    for t in open_checkpoint(HERE.parent / "sample_weights" / "tiny_model").tensors:
        if len(t.shape) == 2:
            w = read_tensor(t)
            out.append((t.name, w, max(1, min(32, min(w.shape) // 2))))
    rng = np.random.default_rng(17)
    out.append(("gaussian-1024", rng.standard_normal((1024, 1024)) / 32, 32))
    out.append(("geometric-1024", with_spectrum(rng, 1024, 1024, np.geomspace(1, 1e-3, 1024)), 32))
    return out


def semi_row(name: str, w: np.ndarray, k: int, reps: int) -> dict:
    """Both semi-NMF solvers on one matrix, interleaved (alternating who runs first)."""
    sigma = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    runs = {"new": lambda: semi_nmf(w, k, sigma=sigma, seed=(0, k)), "old": lambda: semi_nmf_previous(w, k, sigma=sigma, seed=(0, k))}
    times: dict[str, list[float]] = {"new": [], "old": []}
    out: dict[str, object] = {}
    for rep in range(reps):
        for label in ("new", "old") if rep % 2 == 0 else ("old", "new"):
            t, out[label] = timed(runs[label])
            times[label].append(t)
    new, old = out["new"], out["old"]
    assert isinstance(new, NMFResult) and isinstance(old, float)
    return {
        "name": name,
        "shape": list(w.shape),
        "dtype": str(w.dtype),
        "k": k,
        "error": new.rel_error,
        "iterations": new.iterations,
        "previous_error": old,
        "ratio": new.rel_error / old if old > 0 else 1.0,
        "time": statistics.median(times["new"]),
        "previous_time": statistics.median(times["old"]),
    }


def semi_cases(reps: int) -> list[dict]:
    return [semi_row(name, w, k, reps) for name, w, k in semi_matrices()]


def peak_rss_mib(which: str, case: str) -> float | None:
    """Peak RSS of a child process that builds the matrix and runs one fit ("none": no fit)."""
    cmd = ["/usr/bin/time", "-v", sys.executable, str(Path(__file__).resolve()), "--child", which, case]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"nmf bench: peak RSS of {which} not measured: {e}", file=sys.stderr)
        return None
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return int(match.group(1)) / 1024 if match else None


def child(which: str, case: str) -> None:
    w, k = matrix(case)
    if which != "none":
        fit(which, w, k)


def fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


LABELS = {"weightlens": "weightlens", "sklearn-cd": "scikit-learn cd", "sklearn-mu": "scikit-learn mu", "sklearn-cd long": f"scikit-learn cd, {LONG_ITER} its, tol 0"}


def markdown(nonneg: list[dict], semi: list[dict], meta: dict) -> str:
    lines = [
        f"float64, NNDSVDa start, tol = {TOL:g}, max_iter = {MAX_ITER}; single-threaded BLAS, CPU seconds, median of {meta['reps']} runs. "
        f"{meta['machine']}; numpy {meta['numpy']}, scipy {meta['scipy']}, scikit-learn {meta['sklearn']}.",
        "",
        "| matrix | k | solver | error | KKT κ | its | time | time / weightlens |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in nonneg:
        m, n, k = c["shape"]
        ours = c["rows"]["weightlens"]["time"]
        for which, r in c["rows"].items():
            conv = "" if r["converged"] is None else (" ✓" if r["converged"] else " (max)")
            lines.append(f"| {c['case']} {m}×{n} | {k} | {LABELS[which]} | {r['error']:.4e} | {r['kkt']:.1e} | {r['iterations']}{conv} | {r['time']:.2f} s | {r['time'] / ours:.2f} |")
    lines += ["", "Peak RSS (MiB; the matrix alone in the first column):", "", "| matrix | matrix only | weightlens | scikit-learn cd | scikit-learn mu |", "|---|---|---|---|---|"]
    for c in nonneg:
        r = c["rss_mib"]
        lines.append(f"| {c['case']} | {fmt(r['none'], '.0f')} | {fmt(r['weightlens'], '.0f')} | {fmt(r['sklearn-cd'], '.0f')} | {fmt(r['sklearn-mu'], '.0f')} |")
    if not semi:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "Semi-NMF against the previous solver (same start, same σ):",
        "",
        "| matrix | dtype | k | error | previous | ratio | its | time | previous |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in semi:
        lines.append(
            f"| {r['name']} {r['shape'][0]}×{r['shape'][1]} | {r['dtype']} | {r['k']} | {r['error']:.5g} | {r['previous_error']:.5g} | {r['ratio']:.4f} | {r['iterations']} | {r['time']:.2f} s | {r['previous_time']:.2f} s |"
        )
    ratios = [r["ratio"] for r in semi]
    lines += ["", f"Semi-NMF error ratio new/previous: min {min(ratios):.4f}, median {statistics.median(ratios):.4f}, max {max(ratios):.4f}; total time {sum(r['time'] for r in semi):.1f} s vs {sum(r['previous_time'] for r in semi):.1f} s."]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3, help="runs per measurement (median reported; >= 3)")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    ap.add_argument("--no-semi", action="store_true", help="skip the semi-NMF comparison")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--child", nargs=2, metavar=("WHICH", "CASE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    try:
        import sklearn
    except ImportError:
        print("nmf bench: scikit-learn is needed (pip install -e '.[bench]')", file=sys.stderr)
        return 2
    unknown = [c for c in args.cases.split(",") if c not in CASES]
    if unknown:
        print(f"nmf bench: unknown case {unknown[0]!r}; expected some of {', '.join(CASES)}", file=sys.stderr)
        return 2
    meta = {"reps": args.reps, "machine": machine(), "numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__}
    nonneg = []
    for case in args.cases.split(","):
        print(f"nmf bench: {case} ...", flush=True)
        nonneg.append(nonneg_case(case, args.reps))
    semi = [] if args.no_semi else semi_cases(args.reps)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nmf.json").write_text(json.dumps({"meta": meta, "nonneg": nonneg, "semi": semi}, indent=2) + "\n")
    text = markdown(nonneg, semi, meta)
    (args.out / "nmf.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
