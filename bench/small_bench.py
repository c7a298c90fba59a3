#!/usr/bin/env python3
"""A small model (all-MiniLM-L6-v2-shaped, F32): weightlens against a plain svdvals loop, idle and under load.

    python bench/small_bench.py [--reps 3] [--no-load]
    python bench/run.py small          (the same, with the defaults; `make bench` runs all benchmarks)

Checkpoint (generated deterministically into bench/out/speed/, never committed): 6 layers of
q, k, v, o 384×384, intermediate 1536×384, output 384×1536, plus pooler, position embedding
512×384 and two more 384×384 (40 matrices, 384–1536 × 384) and a 30522×384 word embedding, F32,
each 0.02·Gaussian plus a planted rank-32 part (bench/speed_bench.py's ``weight``): 22.7M parameters.

Variants, each a separate process under ``/usr/bin/time -v`` (speed_bench's ``measure``), interleaved
within each repetition, median of ``--reps``: ``weightlens analyze --passes spectrum,rank,condition``
with the default ``--jobs``, ``--jobs 1`` and ``--jobs 2``; and the floor: decode every matrix and
``scipy.linalg.svdvals`` in float64 (the accuracy class weightlens delivers for F32), BLAS with its
default threads. Then the same again while one busy-looping process per core loads the machine
(started and stopped by PID). Results: stdout, bench/out/small.json, bench/out/small.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchutil import machine
from speed_bench import DATA, OUT, fmt, run_interleaved, self_cmd, weight, weightlens_cmd, write
from threads_bench import load

SIGMA = ("--passes", "spectrum,rank,condition")


def minilm() -> Path:
    path = DATA / "minilm-f32.safetensors"
    if path.exists():
        return path
    tensors = {"embeddings.word_embeddings.weight": weight(1, 30522, 384), "embeddings.position_embeddings.weight": weight(2, 512, 384)}
    for layer in range(6):
        for j, (role, m, n) in enumerate([("q", 384, 384), ("k", 384, 384), ("v", 384, 384), ("o", 384, 384), ("intermediate", 1536, 384), ("output", 384, 1536)]):
            tensors[f"encoder.layer.{layer}.{role}.weight"] = weight(100 * layer + j, m, n)
    for j, role in enumerate(("pooler", "extra.a", "extra.b")):
        tensors[f"{role}.weight"] = weight(900 + j, 384, 384)
    return write(path, tensors, "F32")


def variants(path: Path, tmp: Path) -> dict[str, list[str]]:
    return {
        "weightlens default --jobs": weightlens_cmd(path, tmp / "a.json", *SIGMA),
        "weightlens --jobs 1": weightlens_cmd(path, tmp / "b.json", *SIGMA, "--jobs", "1"),
        "weightlens --jobs 2": weightlens_cmd(path, tmp / "c.json", *SIGMA, "--jobs", "2"),
        "svdvals loop, float64": self_cmd("floor", str(path), "float64"),
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Small model (40 matrices 384–1536 × 384 + 30522×384, F32, 22.7M parameters), σ passes; {machine()}; median of {results['reps']}, interleaved.",
        "",
        "| variant | idle wall | ÷ svdvals | loaded wall | ÷ svdvals | peak RSS |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    idle, loaded = results["idle"], results.get("loaded", {})
    floor_i = idle["svdvals loop, float64"]["wall"]
    floor_l = loaded.get("svdvals loop, float64", {}).get("wall")
    for name, r in idle.items():
        lr = loaded.get(name, {})
        li = r["wall"] / floor_i if r["wall"] and floor_i else None
        ll = lr.get("wall") / floor_l if lr.get("wall") and floor_l else None
        lines.append(f"| {name} | {fmt(r['wall'], '.2f')} s | {fmt(li, '.2f')} | {fmt(lr.get('wall'), '.2f')} s | {fmt(ll, '.2f')} | {fmt(r['rss_mib'], '.0f')} MiB |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-load", action="store_true", help="skip the loaded measurements")
    args = ap.parse_args()
    path = minilm()
    results: dict[str, Any] = {"reps": args.reps, "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="small-bench-") as tmpdir:
        v = variants(path, Path(tmpdir))
        results["idle"] = run_interleaved(v, args.reps, "idle")
        if not args.no_load:
            with load(len(os.sched_getaffinity(0))):
                results["loaded"] = run_interleaved(v, args.reps, "loaded")
    ok = all(r["ok"] for runs in (results["idle"], results.get("loaded", {})) for r in runs.values())
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "small.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
    text = markdown(results)
    (OUT / "small.md").write_text(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
