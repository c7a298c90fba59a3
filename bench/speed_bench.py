#!/usr/bin/env python3
"""weightlens against WeightWatcher and a bare scipy.linalg.svdvals loop, on TinyLlama-shaped checkpoints.

    python bench/speed_bench.py [--layers 2] [--reps 3] [--sizes 512,1024,2048,4096] [--scale-layers 1,2,4]
    python bench/run.py speed                 (the same, with the defaults; `make bench` runs all benchmarks)

Checkpoints (generated deterministically into bench/out/speed/, never committed): per layer the
seven TinyLlama-1.1B projections, q,o 2048×2048, k,v 256×2048, gate,up 5632×2048, down 2048×5632,
each 0.02·Gaussian (the usual init scale) plus a planted rank-32 part with decaying singular values
(a bulk plus outliers, as in trained weights), stored once in BF16 and once in F32.

Every measurement is one child process under ``/usr/bin/time -v`` (wall time measured by the parent
around the whole process, imports and reading included; peak RSS from time -v, which reports the
largest single process of the tree, plus the peak of the summed RSS of the whole process tree sampled
every 50 ms). The variants are interleaved within each repetition (in a rotated order) and the
median of ``--reps`` runs is reported. What each variant computes:

- ``weightlens all``: ``weightlens analyze CKPT --format json -o F``, every pass (`--passes all`: the default leaves out nmf)
  (health, spectrum, rank, condition, alpha, sparsity, nmf), default ``--jobs`` (all cores).
- ``weightlens σ``: ``--passes spectrum,rank,condition,alpha`` — the σ-based metrics WeightWatcher
  also computes (σ1, σmin, rank, condition number, stable rank, power-law α); default ``--jobs``,
  ``--jobs 1`` and ``--jobs 2``.
- ``WeightWatcher``: 0.7.x ``WeightWatcher(model).analyze()`` with its defaults (full float64 SVD of
  every matrix via scipy, ESD, power-law α fit, spectral norm, stable rank, rank loss, entropy) on a
  torch ``nn.Sequential`` of ``nn.Linear`` layers holding the decoded weights in float32 (exact for
  BF16), loaded with ``safetensors.torch``.
- ``svdvals floor``: decode every matrix (weightlens' reader) and call ``scipy.linalg.svdvals`` in a
  loop, in float32 for BF16 data and float64 for F32 data (the accuracy class weightlens delivers),
  and in float32 for both; BLAS with its default threads (all cores).

Accuracy: σ1, σmin and the numerical rank of each tool against a float64 SVD of the same decoded
matrix by LAPACK's gesdd *with* singular vectors (σ by divide and conquer): a values-only SVD (numpy,
scipy, gesdd or gesvd) runs WeightWatcher's own dqds iteration and agrees with it bit for bit.
Differences below the reference's own bound, max(m, n)·eps64·σ1, are not resolved. Each rank is checked against the reference σ counted with the tool's own
threshold (weightlens: its ``rank_tol``, the storage noise; WeightWatcher: σ1·max(m, n)·eps64,
NumPy's ``matrix_rank`` default, reported as M − rank_loss).

Results: stdout, bench/out/speed.json, bench/out/speed.md. Exit status 1 only when a run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from benchutil import machine

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
DATA = OUT / "speed"

SPECTRAL = "spectrum,rank,condition,alpha"
ROLES = (  # (name, m, n) of one TinyLlama-1.1B decoder layer, in checkpoint order
    ("self_attn.q_proj", 2048, 2048),
    ("self_attn.k_proj", 256, 2048),
    ("self_attn.v_proj", 256, 2048),
    ("self_attn.o_proj", 2048, 2048),
    ("mlp.gate_proj", 5632, 2048),
    ("mlp.up_proj", 5632, 2048),
    ("mlp.down_proj", 2048, 5632),
)
PLANTED_RANK = 32


# ---------------------------------------------------------------------------------------------
# Checkpoints


def weight(seed: int, m: int, n: int) -> np.ndarray:
    """0.02·Gaussian plus a rank-32 part whose σ decay as k^-0.7 from 4× the bulk's edge (float32)."""
    from weightlens.testing import orthonormal

    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, n), dtype=np.float32)
    w *= 0.02
    edge = 0.02 * (np.sqrt(m) + np.sqrt(n))
    sigma = 4 * edge * np.arange(1, PLANTED_RANK + 1) ** -0.7
    u = orthonormal(rng, m, PLANTED_RANK) * sigma
    v = orthonormal(rng, n, PLANTED_RANK)
    w += (u @ v.T).astype(np.float32)
    return w


def write(path: Path, tensors: dict[str, np.ndarray], dtype: str) -> Path:
    from weightlens.testing import encode, write_safetensors

    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        write_safetensors(tmp, {k: encode(v, dtype) for k, v in tensors.items()})
        tmp.rename(path)
    return path


def tinyllama(layers: int, dtype: str) -> Path:
    path = DATA / f"tinyllama-{layers}L-{dtype.lower()}.safetensors"
    if path.exists():
        return path
    tensors = {}
    for layer in range(layers):
        for j, (role, m, n) in enumerate(ROLES):
            tensors[f"model.layers.{layer}.{role}.weight"] = weight(1000 * layer + j, m, n)
    return write(path, tensors, dtype)


def square(n: int, dtype: str = "BF16") -> Path:
    path = DATA / f"square-{n}-{dtype.lower()}.safetensors"
    return path if path.exists() else write(path, {"w": weight(7 + n, n, n)}, dtype)


def decoded(path: Path) -> dict[str, np.ndarray]:
    from weightlens import open_checkpoint, read_tensor

    return {t.name: read_tensor(t) for t in open_checkpoint(path).tensors}


# ---------------------------------------------------------------------------------------------
# Children (each runs in its own process under /usr/bin/time -v)


def child_floor(path: str, dtype: str) -> None:
    """The LAPACK floor: decode, then svdvals in ``dtype`` ("match": float32 for ≤ 16-bit, else float64)."""
    import scipy.linalg

    from weightlens import open_checkpoint, read_tensor

    for t in open_checkpoint(path).tensors:
        a = read_tensor(t)
        dt = dtype if dtype != "match" else ("float32" if t.dtype in ("BF16", "F16") or t.dtype.startswith("F8") else "float64")
        scipy.linalg.svdvals(a.astype(dt), overwrite_a=True, check_finite=False)


def child_ww(path: str, out: str) -> None:
    """WeightWatcher 0.7 analyze() with its defaults; writes σ1, σmin, rank and α per matrix."""
    import logging
    import warnings

    import torch
    import weightwatcher as ww
    from safetensors.torch import load_file

    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    tensors = load_file(path)
    names = sorted(tensors, key=_natural)
    layers = []
    for name in names:
        w = tensors.pop(name)
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            layer.weight.copy_(w.float())
        layers.append(layer)
        del w
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        details = ww.WeightWatcher(model=torch.nn.Sequential(*layers)).analyze()
    rows = {
        name: {"sigma_max": float(r.sv_max), "sigma_min": float(r.sv_min), "rank": int(r.M - r.rank_loss), "alpha": float(r.alpha)}
        for name, r in zip(names, details.itertuples())
    }
    Path(out).write_text(json.dumps(rows))


def _natural(name: str) -> list[Any]:
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", name)]


# ---------------------------------------------------------------------------------------------
# Measuring


class TreeRss(threading.Thread):
    """Peak of the summed RSS of a process and its descendants, sampled every 50 ms (psutil)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        try:
            import psutil
        except ImportError:
            self.peak = -1
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.done.wait(0.05):
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)


def measure(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` under /usr/bin/time -v: wall seconds, peak RSS (MiB) of the largest process and of the tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    sampler = TreeRss(proc.pid)
    sampler.start()
    try:
        _, err = proc.communicate()
    except BaseException:  # Ctrl-C: stop the child's whole process group (time, the tool, its workers)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    wall = time.perf_counter() - t0
    sampler.done.set()
    sampler.join()
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    status = re.search(r"Exit status: (\d+)", err)
    ok = proc.returncode == 0 and status is not None and status.group(1) == "0"
    if not ok:
        tail = "\n".join(line for line in err.splitlines() if not line.startswith("\t"))[-2000:]
        print(f"speed bench: FAILED ({proc.returncode}): {' '.join(cmd)}\n{tail}", file=sys.stderr)
    return {
        "ok": ok,
        "wall": wall,
        "rss_mib": int(match.group(1)) / 1024 if match else None,
        "tree_rss_mib": sampler.peak / 2**20 if sampler.peak > 0 else None,
    }


def weightlens_cmd(path: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "weightlens", "analyze", str(path), "--format", "json", "-o", str(out), *extra]


def self_cmd(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", *args]


def run_interleaved(variants: dict[str, list[str]], reps: int, label: str) -> dict[str, dict[str, Any]]:
    """Each variant ``reps`` times, interleaved (rotated order per repetition); medians."""
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in variants}
    names = list(variants)
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            r = measure(variants[name])
            runs[name].append(r)
            print(f"  {label} rep {rep + 1}/{reps} {name}: {r['wall']:.2f} s, {fmt(r['rss_mib'], '.0f')} MiB", flush=True)
    return {name: summarize(rs) for name, rs in runs.items()}


def summarize(rs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in rs if r["ok"]]

    def med(key: str) -> float | None:
        vals = [r[key] for r in good if r[key] is not None]
        return statistics.median(vals) if vals else None

    return {
        "ok": len(good) == len(rs),
        "runs": len(good),
        "wall": med("wall"),
        "walls": [r["wall"] for r in good],
        "rss_mib": max((r["rss_mib"] for r in good if r["rss_mib"] is not None), default=None),
        "tree_rss_mib": max((r["tree_rss_mib"] for r in good if r["tree_rss_mib"] is not None), default=None),
    }


# ---------------------------------------------------------------------------------------------
# Accuracy


def reference(a: np.ndarray) -> np.ndarray:
    """σ of the float64 matrix by LAPACK's gesdd *with* singular vectors.

    Not a values-only SVD: numpy's and scipy's (gesdd or gesvd, JOBZ = N) all reduce to the
    bidiagonal form and then run the same dqds iteration — WeightWatcher's own routine — and
    would agree with it bit for bit whatever its accuracy. With vectors, gesdd finds σ of the
    bidiagonal by divide and conquer instead. The bidiagonal reduction is shared; its error,
    like that of the rest, is bounded by ≈ max(m, n)·eps64·σ1 (:func:`resolution`).
    """
    import scipy.linalg

    return scipy.linalg.svd(a.astype(np.float64), full_matrices=False, lapack_driver="gesdd", check_finite=False)[1]


def resolution(s: np.ndarray, shape: tuple[int, int]) -> tuple[float, float]:
    """The reference's own relative resolution for σ1 and σmin: max(m, n)·eps64·σ1/σ."""
    bound = max(shape) * float(np.finfo(np.float64).eps) * float(s[0])
    return bound / float(s[0]), bound / float(s[-1])


def rel(a: float | None, b: float) -> float | None:
    return None if a is None else abs(a - b) / abs(b)


def accuracy(ref: dict[str, np.ndarray], shapes: dict[str, tuple[int, int]], wl: dict[str, dict[str, Any]], ww: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    rows = []
    eps = float(np.finfo(np.float64).eps)
    for name, s in ref.items():
        r = wl[name]
        res_max, res_min = resolution(s, shapes[name])
        row: dict[str, Any] = {
            "name": name,
            "ref_res_max_rel": res_max,
            "ref_res_min_rel": res_min,
            "shape": list(shapes[name]),
            "route": r["svd_route"],
            "ref_sigma_max": float(s[0]),
            "ref_sigma_min": float(s[-1]),
            "wl_sigma_max_rel": rel(r["sigma_max"], s[0]),
            "wl_sigma_min_rel": rel(r["sigma_min"], s[-1]),
            "wl_sigma_min_bound_rel": r["sigma_min_error"] / s[-1],
            "wl_rank": r["numerical_rank"],
            "wl_rank_ref": int(np.count_nonzero(s > r["rank_tol"])),
        }
        if ww is not None:
            w = ww[name]
            row.update(
                ww_sigma_max_rel=rel(w["sigma_max"], s[0]),
                ww_sigma_min_rel=rel(w["sigma_min"], s[-1]),
                ww_rank=w["rank"],
                ww_rank_ref=int(np.count_nonzero(s > s[0] * max(shapes[name]) * eps)),
            )
        rows.append(row)
    return rows


def records(path: Path) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in json.loads(path.read_text())["tensors"]}


# ---------------------------------------------------------------------------------------------
# Main


def fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def compare(layers: int, dtype: str, reps: int, tmp: Path, with_ww: bool) -> dict[str, Any]:
    """The side-by-side comparison on one checkpoint."""
    path = tinyllama(layers, dtype)
    tag = f"{layers}L-{dtype}"
    out = {k: tmp / f"{tag}-{k}.json" for k in ("all", "spec", "spec1", "spec2", "ww")}
    variants = {
        "weightlens all": weightlens_cmd(path, out["all"], "--passes", "all"),
        "weightlens σ": weightlens_cmd(path, out["spec"], "--passes", SPECTRAL),
        "weightlens σ -j1": weightlens_cmd(path, out["spec1"], "--passes", SPECTRAL, "--jobs", "1"),
        "weightlens σ -j2": weightlens_cmd(path, out["spec2"], "--passes", SPECTRAL, "--jobs", "2"),
        "svdvals floor": self_cmd("floor", str(path), "match"),
    }
    variants["svdvals float32"] = self_cmd("floor", str(path), "float32")
    if with_ww:
        variants["WeightWatcher"] = self_cmd("ww", str(path), str(out["ww"]))
    print(f"{tag}: {len(variants)} variants × {reps} runs", flush=True)
    times = run_interleaved(variants, reps, tag)
    print(f"{tag}: float64 reference SVDs ...", flush=True)
    mats = decoded(path)
    shapes = {k: v.shape for k, v in mats.items()}
    ref = {}
    for name in list(mats):
        ref[name] = reference(mats.pop(name))
    ww = json.loads(out["ww"].read_text()) if with_ww and out["ww"].exists() else None
    acc = accuracy(ref, shapes, records(out["spec"]), ww) if out["spec"].exists() else []
    largest = max(m * n for m, n in shapes.values()) * 8 / 2**20
    return {"checkpoint": path.name, "dtype": dtype, "layers": layers, "matrices": len(shapes), "largest_f64_mib": largest, "times": times, "accuracy": acc}


def fast_vs_exact(sizes: list[int], reps: int, tmp: Path, k: int = 8) -> list[dict[str, Any]]:
    """--spectrum fast against exact on single square BF16 matrices: time, errors of top-k and σmin."""
    rows = []
    for n in sizes:
        path = square(n)
        outs = {m: tmp / f"sq{n}-{m}.json" for m in ("exact", "fast")}
        variants = {m: weightlens_cmd(path, outs[m], "--passes", "spectrum,rank,condition", "--jobs", "1", "--spectrum", m) for m in outs}
        times = run_interleaved(variants, reps, f"square {n} BF16")
        s = reference(decoded(path)["w"])
        row: dict[str, Any] = {"n": n, "exact_wall": times["exact"]["wall"], "fast_wall": times["fast"]["wall"], "ok": times["exact"]["ok"] and times["fast"]["ok"]}
        for m, p in outs.items():
            if not p.exists():
                continue
            r = records(p)["w"]
            top = np.array(r["top_sigma"][:k])
            row[f"{m}_route"] = r["svd_route"]
            row[f"{m}_top_rel"] = float(np.max(np.abs(top - s[: top.size]) / s[: top.size]))
            row[f"{m}_min_rel"] = rel(r["sigma_min"], s[-1])
            row[f"{m}_min_bound_rel"] = r["sigma_min_error"] / s[-1]
            row[f"{m}_top_bound_rel"] = r["sigma_error"] / s[top.size - 1]
            row[f"{m}_rss_mib"] = times[m]["rss_mib"]
        rows.append(row)
    return rows


def layer_scaling(layer_counts: list[int], reps: int, tmp: Path) -> list[dict[str, Any]]:
    variants = {f"{n} layers": weightlens_cmd(tinyllama(n, "BF16"), tmp / f"scale-{n}.json", "--passes", SPECTRAL) for n in layer_counts}
    times = run_interleaved(variants, reps, "layers BF16")
    return [{"layers": n, "matrices": 7 * n, "wall": times[f"{n} layers"]["wall"], "rss_mib": times[f"{n} layers"]["rss_mib"], "tree_rss_mib": times[f"{n} layers"]["tree_rss_mib"], "ok": times[f"{n} layers"]["ok"]} for n in layer_counts]


def goals(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """(goal, met, measured figure) per issue goal and checkpoint."""
    lines: list[tuple[str, bool | None, str]] = []
    for c in results["compare"]:
        t, tag = c["times"], f"{c['layers']}L {c['dtype']}"
        if "WeightWatcher" in t:
            speed = ratio(t["WeightWatcher"]["wall"], t["weightlens σ"]["wall"])
            lines.append((f"{tag}: ≥ 4× faster than WeightWatcher (σ passes, default --jobs)", None if speed is None else speed >= 4, f"{fmt(speed, '.2f')}×"))
            acc = c["accuracy"]
            for key, res, what in (("sigma_max_rel", "ref_res_max_rel", "σ1"), ("sigma_min_rel", "ref_res_min_rel", "σmin")):
                ours = max(r[f"wl_{key}"] for r in acc)
                theirs = max(r[f"ww_{key}"] for r in acc)
                # equal when both are within the reference's own resolution on every matrix
                both_unresolved = all(max(r[f"wl_{key}"], r[f"ww_{key}"]) <= r[res] for r in acc)
                lines.append(
                    (
                        f"{tag}: {what} max relative error ≤ WeightWatcher's, or both within the reference's resolution",
                        ours <= theirs or both_unresolved,
                        f"{ours:.1e} vs {theirs:.1e}" + (" (both within it)" if both_unresolved else ""),
                    )
                )
            ours_bad = sum(r["wl_rank"] != r["wl_rank_ref"] for r in acc)
            theirs_bad = sum(r["ww_rank"] != r["ww_rank_ref"] for r in acc)
            lines.append((f"{tag}: rank matches the reference (own threshold) as often as WeightWatcher's", ours_bad <= theirs_bad, f"{len(acc) - ours_bad}/{len(acc)} vs {len(acc) - theirs_bad}/{len(acc)}"))
        floor = ratio(t["weightlens σ"]["wall"], t["svdvals floor"]["wall"])
        lines.append((f"{tag}: wall ≤ 1.0× the svdvals loop (σ passes, default --jobs)", None if floor is None else floor <= 1.0, f"{fmt(floor, '.2f')}×"))
        bound = 2.5 * c["largest_f64_mib"] + 150
        for variant in ("weightlens all", "weightlens σ -j1"):
            rss = t[variant]["rss_mib"]
            lines.append((f"{tag}: peak RSS ≤ 2.5× largest matrix in float64 + 150 MB = {bound:.0f} MiB ({variant}, per process)", None if rss is None else rss <= bound, f"{fmt(rss, '.0f')} MiB"))
    return lines


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"{meta['machine']}; Python {meta['python']}, numpy {meta['numpy']}, scipy {meta['scipy']}, weightlens {meta['weightlens']}, "
        f"WeightWatcher {meta.get('weightwatcher', '—')}, torch {meta.get('torch', '—')}. Wall times are medians of {meta['reps']} runs, "
        "each a fresh process (imports and reading included), variants interleaved; peak RSS is the largest single process "
        "(/usr/bin/time -v) and the summed process tree (sampled).",
        "",
    ]
    for c in results["compare"]:
        t = c["times"]
        base = t["weightlens σ"]["wall"]
        lines += [
            f"### {c['layers']} TinyLlama layers ({c['matrices']} matrices), {c['dtype']}",
            "",
            "| variant | wall (median) | ÷ weightlens σ | peak RSS, largest process | peak RSS, tree |",
            "| :-- | --: | --: | --: | --: |",
        ]
        for name, r in t.items():
            lines.append(f"| {name} | {fmt(r['wall'], '.2f')} s | {fmt(ratio(r['wall'], base), '.2f')} | {fmt(r['rss_mib'], '.0f')} MiB | {fmt(r['tree_rss_mib'], '.0f')} MiB |")
        sp = ratio(t["weightlens σ -j1"]["wall"], t["weightlens σ -j2"]["wall"])
        lines += ["", f"--jobs 2 over --jobs 1: {fmt(sp, '.2f')}× faster. Largest matrix in float64: {c['largest_f64_mib']:.0f} MiB.", ""]
        acc = c["accuracy"]
        if acc:
            has_ww = "ww_rank" in acc[0]
            lines += [
                "Accuracy against a float64 SVD (LAPACK gesdd with vectors, see `reference`) of the same decoded matrices (max over the matrices; rank: matrices whose rank equals the reference σ counted with the tool's own threshold):",
                "",
                "| tool | routes | σ1 max rel. error | σmin max rel. error | rank agrees |",
                "| :-- | :-- | --: | --: | --: |",
                f"| (reference resolution) | | {max(r['ref_res_max_rel'] for r in acc):.1e} | {max(r['ref_res_min_rel'] for r in acc):.1e} | |",
                f"| weightlens | {', '.join(sorted({r['route'] for r in acc}))} | {max(r['wl_sigma_max_rel'] for r in acc):.1e} | "
                f"{max(r['wl_sigma_min_rel'] for r in acc):.1e} (bound {max(r['wl_sigma_min_bound_rel'] for r in acc):.1e}) | "
                f"{sum(r['wl_rank'] == r['wl_rank_ref'] for r in acc)}/{len(acc)} |",
            ]
            if has_ww:
                lines.append(
                    f"| WeightWatcher | scipy float64 | {max(r['ww_sigma_max_rel'] for r in acc):.1e} | {max(r['ww_sigma_min_rel'] for r in acc):.1e} | "
                    f"{sum(r['ww_rank'] == r['ww_rank_ref'] for r in acc)}/{len(acc)} |"
                )
            ranks = sorted({(r['wl_rank'], r.get('ww_rank'), min(r['shape'])) for r in acc})
            lines += ["", "Ranks (weightlens, WeightWatcher, min(m, n)): " + ", ".join(f"({a}, {b}, {p})" for a, b, p in ranks), ""]
    if results.get("fast"):
        lines += [
            "### --spectrum fast against exact (single square BF16 matrix, --jobs 1)",
            "",
            "| n | exact | fast | exact ÷ fast | exact route | top-8 max rel. error exact / fast | σmin rel. error exact / fast | fast σmin bound (rel.) |",
            "| --: | --: | --: | --: | :-- | --: | --: | --: |",
        ]
        for r in results["fast"]:
            lines.append(
                f"| {r['n']} | {fmt(r['exact_wall'], '.2f')} s | {fmt(r['fast_wall'], '.2f')} s | {fmt(ratio(r['exact_wall'], r['fast_wall']), '.2f')} | {r.get('exact_route', '—')} | "
                f"{fmt(r.get('exact_top_rel'), '.1e')} / {fmt(r.get('fast_top_rel'), '.1e')} | {fmt(r.get('exact_min_rel'), '.1e')} / {fmt(r.get('fast_min_rel'), '.1e')} | "
                f"{fmt(r.get('fast_min_bound_rel'), '.1e')} |"
            )
        lines.append("")
    if results.get("layers"):
        lines += ["### Time against the number of matrices (BF16, σ passes, default --jobs)", "", "| layers | matrices | wall | per matrix | peak RSS, largest process | tree |", "| --: | --: | --: | --: | --: | --: |"]
        for r in results["layers"]:
            lines.append(f"| {r['layers']} | {r['matrices']} | {fmt(r['wall'], '.2f')} s | {fmt(ratio(r['wall'], r['matrices']), '.2f')} s | {fmt(r['rss_mib'], '.0f')} MiB | {fmt(r['tree_rss_mib'], '.0f')} MiB |")
        lines.append("")
    lines += ["### Goals", ""]
    for goal, met, figure in results["goals"]:
        lines.append(f"- {'pass' if met else 'miss' if met is not None else 'n/a '}: {goal}: {figure}")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=2, help="TinyLlama layers in the compared checkpoints (7 matrices each)")
    ap.add_argument("--reps", type=int, default=3, help="runs per measurement (median reported; >= 3)")
    ap.add_argument("--sizes", default="512,1024,2048,4096", help="square BF16 sizes for time against size and --spectrum fast ('' to skip)")
    ap.add_argument("--scale-layers", default="1,2,4", help="layer counts for time against the number of matrices ('' to skip)")
    ap.add_argument("--dtypes", default="BF16,F32")
    ap.add_argument("--out", type=Path, default=OUT, help="where speed.json and speed.md go")
    ap.add_argument("--no-ww", action="store_true", help="skip WeightWatcher (without the bench extra it is skipped anyway)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        {"floor": child_floor, "ww": child_ww}[args.child[0]](*args.child[1:])
        return 0

    import scipy

    import weightlens

    meta: dict[str, Any] = {"reps": args.reps, "machine": machine(), "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__, "weightlens": weightlens.__version__}
    with_ww = not args.no_ww
    if with_ww:
        try:
            import torch
            import weightwatcher

            meta.update(weightwatcher=weightwatcher.__version__, torch=torch.__version__)
        except ImportError:
            print("speed bench: WeightWatcher/torch not installed (pip install -e '.[bench]'): skipping it", file=sys.stderr)
            with_ww = False
    ok = True
    results: dict[str, Any] = {"meta": meta, "compare": []}
    with tempfile.TemporaryDirectory(prefix="speed-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for dtype in args.dtypes.split(","):
            c = compare(args.layers, dtype, args.reps, tmp, with_ww)
            ok &= all(r["ok"] for r in c["times"].values())
            results["compare"].append(c)
        if args.sizes:
            results["fast"] = fast_vs_exact([int(s) for s in args.sizes.split(",")], args.reps, tmp)
            ok &= all(r["ok"] for r in results["fast"])
        if args.scale_layers:
            results["layers"] = layer_scaling([int(s) for s in args.scale_layers.split(",")], args.reps, tmp)
            ok &= all(r["ok"] for r in results["layers"])
    results["goals"] = goals(results)
    text = markdown(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
    (args.out / "speed.md").write_text(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
