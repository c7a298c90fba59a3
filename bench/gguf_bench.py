#!/usr/bin/env python3
"""GGUF read + dequantize throughput: weightlens' reader against gguf's own GGUFReader loop.

    python bench/run.py gguf        # or: python bench/gguf_bench.py [--rows N] [--runs N]

One GGUF file per type (Q4_0, Q8_0 quantized by gguf; Q4_K, Q6_K, IQ4_XS random blocks; F16),
each of 8 tensors of N×4096 weights (default N = 1024: 32M weights per file). Per file:

- weightlens: ``open_checkpoint`` (header and tensor table, plain reads) then ``read_tensor``
  of every tensor (plain reads of its bytes, dequantized a chunk of blocks at a time by
  ``gguf.quants.dequantize`` into the float32 result);
- gguf: ``GGUFReader(path)`` (memory map) then ``gguf.quants.dequantize(t.data, t.tensor_type)``
  of every tensor (whole tensors), the loop gguf's own scripts use.

Both give the same arrays (checked bit for bit first). Warm page cache; the two are run
interleaved, ``--runs`` times each, and the medians reported as MB/s of stored bytes and of
float32 output. Peak RSS: each reader once more in its own process under /usr/bin/time -v.

Then the header alone: a file with a Qwen-sized vocabulary (151,936 tokens with scores and
types, 151,387 merges) and 290 tensor entries, read by ``read_gguf`` and by ``GGUFReader``.

Writes bench/out/gguf.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gguf
import numpy as np
from benchutil import machine

from weightlens.checkpoint import open_checkpoint, read_tensor
from weightlens.checkpoint.gguf import read_gguf
from weightlens.testing.gguf_writer import quantize, random_blocks, write_gguf

OUT = Path(__file__).resolve().parent / "out"
TYPES = ("Q4_0", "Q8_0", "Q4_K", "Q6_K", "IQ4_XS", "F16")
COLS = 4096


def build(tmp: Path, type_name: str, rows: int) -> Path:
    rng = np.random.default_rng(0)
    tensors = {}
    for i in range(8):
        values = rng.standard_normal((rows, COLS), dtype=np.float32)
        if type_name == "F16":
            tensors[f"blk.{i}.ffn_down.weight"] = values.astype(np.float16)
        elif type_name in ("Q4_0", "Q8_0"):
            tensors[f"blk.{i}.ffn_down.weight"] = quantize(values, type_name)
        else:
            tensors[f"blk.{i}.ffn_down.weight"] = random_blocks(rng, (rows, COLS), type_name)
    return write_gguf(tmp / f"{type_name}.gguf", tensors)


def weightlens_tensors(path: Path) -> Iterator[np.ndarray]:
    return (read_tensor(t) for t in open_checkpoint(path).tensors)


def gguf_tensors(path: Path) -> Iterator[np.ndarray]:
    reader = gguf.GGUFReader(path)
    return (gguf.quants.dequantize(t.data, t.tensor_type) for t in reader.tensors)


def weightlens_read(path: Path) -> None:
    """Every tensor, one at a time (as an analysis holds them)."""
    for _ in weightlens_tensors(path):
        pass


def gguf_read(path: Path) -> None:
    for _ in gguf_tensors(path):
        pass


def interleaved(path: Path, runs: int) -> tuple[float, float]:
    """Median seconds of the weightlens and the gguf read of ``path``, runs alternating."""
    times: dict[str, list[float]] = {"wl": [], "gguf": []}
    for _ in range(runs):
        for key, fn in (("wl", weightlens_read), ("gguf", gguf_read)):
            start = time.perf_counter()
            fn(path)
            times[key].append(time.perf_counter() - start)
    return statistics.median(times["wl"]), statistics.median(times["gguf"])


def peak_rss(path: Path, which: str) -> float:
    """Peak RSS (MiB) of one read of ``path`` by ``which`` in a fresh process."""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import gguf_bench; gguf_bench.{which}_read(__import__('pathlib').Path({str(path)!r}))"
    out = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"gguf bench: FAILED: {which} {path}\n{out.stderr[-2000:]}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    assert match
    return int(match.group(1)) / 1024


def vocabulary_file(tmp: Path) -> Path:
    rng = np.random.default_rng(1)
    tokens = [f"tok{i}" for i in range(151_936)]
    meta: dict[str, object] = {
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": rng.standard_normal(len(tokens)).astype(np.float32).tolist(),
        "tokenizer.ggml.token_type": [1] * len(tokens),
        "tokenizer.ggml.merges": [f"t{i} k{i}" for i in range(151_387)],
    }
    tensors = {f"blk.{i // 10}.t{i % 10}.weight": np.zeros((1, 32), np.float32) for i in range(290)}
    return write_gguf(tmp / "vocab.gguf", tensors, arch="qwen2", metadata=meta)  # type: ignore[arg-type]  # lists of str/float/int, as GGUFWriter.add_array takes


def header(tmp: Path, runs: int) -> list[str]:
    path = vocabulary_file(tmp)
    wl = statistics.median(_times(lambda: read_gguf(path), runs))
    ref = statistics.median(_times(lambda: gguf.GGUFReader(path), runs))
    return [
        "",
        f"Header only, {path.stat().st_size / 2**20:.1f} MiB file (151,936-token vocabulary with scores and types, 151,387 merges, 290 tensors), median of {runs}:",
        "",
        "| reader | time | ratio |",
        "|---|--:|--:|",
        f"| `read_gguf` (weightlens) | {wl * 1e3:.0f} ms | 1 |",
        f"| `GGUFReader` (gguf) | {ref * 1e3:.0f} ms | {ref / wl:.1f}× |",
    ]


def _times(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1024, help="rows of each of the 8 tensors (4096 columns)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each reader")
    args = parser.parse_args()
    tmp = OUT / "gguf"
    tmp.mkdir(parents=True, exist_ok=True)
    weights = 8 * args.rows * COLS
    lines = [
        f"{machine()}; 8 tensors × {args.rows}×{COLS} per file ({weights / 1e6:.0f}M weights), warm cache, median of {args.runs} interleaved runs.",
        "",
        "| type | stored | weightlens MB/s (stored / float32 out) | gguf GGUFReader loop MB/s | ratio | peak RSS weightlens / gguf |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    print(lines[0], flush=True)
    for type_name in TYPES:
        path = build(tmp, type_name, args.rows)
        for a, b in zip(weightlens_tensors(path), gguf_tensors(path)):  # the same arrays, and a warm page cache
            assert np.array_equal(a, b.astype(np.float32, copy=False))
        stored = path.stat().st_size
        wl, ref = interleaved(path, args.runs)
        rss_wl, rss_ref = peak_rss(path, "weightlens"), peak_rss(path, "gguf")
        lines.append(
            f"| {type_name} | {stored / 2**20:.0f} MiB | {stored / wl / 1e6:,.0f} / {4 * weights / wl / 1e6:,.0f} | {stored / ref / 1e6:,.0f} / {4 * weights / ref / 1e6:,.0f} | {ref / wl:.2f}× | {rss_wl:.0f} / {rss_ref:.0f} MiB |"
        )
        print(lines[-1], flush=True)
        path.unlink()
    lines.append("")
    lines.append("ratio: gguf's time / weightlens' time (> 1: weightlens is faster). Both readers give the same float32 arrays, one tensor at a time.")
    lines += header(tmp, args.runs)
    print("\n".join(lines[-7:]), flush=True)
    (OUT / "gguf.md").write_text("\n".join(lines) + "\n")
    print(f"\nwritten: {OUT / 'gguf.md'}")


if __name__ == "__main__":
    main()
