#!/usr/bin/env python3
"""Hostile header scale and the tensor read path.

    python bench/run.py header        # or: python bench/header_bench.py [--tensors N]

1. A file of N one-byte U8 tensors (default 1,000,000, the most one file may declare): each
   command below runs once as its own process under ``/usr/bin/time -v`` — wall time, CPU time
   (user + sys), tensors per second of wall time, peak RSS:
   ``inspect`` (table), ``inspect -f json``, and ``analyze --passes health,sparsity -j 1 -f jsonl``
   (elementwise passes only, in one process).
2. Reading tensors: ``read_tensor`` (plain reads into the tensor's own buffer, the file's stamp
   checked before and after) against what it replaced (map the byte range, copy out of the map),
   warm page cache, median of 5: one 128 MiB F32 tensor, one 128 MiB BF16 tensor (decoded to
   float32), and 20,000 4 KiB F32 tensors.

Writes bench/out/header.md.
"""

from __future__ import annotations

import argparse
import json
import mmap
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
from benchutil import machine, median_time

from weightlens.checkpoint import TensorInfo, decode, read_header, read_tensor
from weightlens.testing import encode, write_safetensors

OUT = Path(__file__).resolve().parent / "out"


def many_tiny(path: Path, n: int) -> Path:
    """N one-byte U8 tensors t0 … t{N-1}: the hostile header of issue 13."""
    doc = {f"t{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i in range(n)}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(n))
    return path


def timed(cmd: list[str]) -> dict[str, float]:
    """Wall and CPU seconds and peak RSS (MiB) of ``cmd`` under /usr/bin/time -v (stdout discarded)."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise SystemExit(f"header bench: FAILED ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-2000:]}")

    def field(label: str) -> str:
        match = re.search(rf"{re.escape(label)}: (.+)", out.stderr)
        assert match, label
        return match.group(1).strip()

    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return {"wall": wall, "cpu": cpu, "rss": int(field("Maximum resident set size (kbytes)")) / 1024}


def mmap_copy(info: TensorInfo) -> np.ndarray:
    """The reader weightlens had before: map the tensor's byte range, decode (copy) out of the map."""
    start = info.offset - info.offset % mmap.ALLOCATIONGRANULARITY
    with open(info.file, "rb") as f:
        mm = mmap.mmap(f.fileno(), info.offset - start + info.nbytes, offset=start, access=mmap.ACCESS_READ)
    raw = np.frombuffer(mm, dtype=info.dtype_info.raw, count=info.parameters, offset=info.offset - start)
    values = decode(info.dtype_info, raw)
    del raw, mm
    return values.reshape(info.shape)


def scale(n: int, tmp: Path) -> list[str]:
    path = many_tiny(tmp / f"tiny{n}.safetensors", n)
    wl = [sys.executable, "-m", "weightlens"]
    variants = {
        "inspect (table)": [*wl, "inspect", str(path)],
        "inspect -f json": [*wl, "inspect", str(path), "-f", "json"],
        "analyze --passes health,sparsity -j 1 -f jsonl": [*wl, "analyze", str(path), "--passes", "health,sparsity", "-j", "1", "-f", "jsonl", "-o", "/dev/null"],
    }
    lines = [f"{n:,} one-byte tensors, header {path.stat().st_size / 2**20:.0f} MiB; one run each.", "", "| command | wall | CPU | tensors/s (wall) | peak RSS |", "|---|--:|--:|--:|--:|"]
    for label, cmd in variants.items():
        r = timed(cmd)
        lines.append(f"| `{label}` | {r['wall']:.1f} s | {r['cpu']:.1f} s | {n / r['wall']:,.0f} | {r['rss']:.0f} MiB |")
        print(lines[-1], flush=True)
    return lines


def reads(tmp: Path) -> list[str]:
    rng = np.random.default_rng(0)
    big = write_safetensors(tmp / "big.safetensors", {"w": rng.standard_normal((4096, 8192), dtype=np.float32)})
    bf16 = write_safetensors(tmp / "bf16.safetensors", {"w": encode(rng.standard_normal((8192, 8192), dtype=np.float32), "BF16")})
    small = write_safetensors(tmp / "small.safetensors", {f"w{i}": rng.standard_normal((32, 32), dtype=np.float32) for i in range(20_000)})
    lines = ["", "| read | read_tensor (plain reads) | mmap + copy (before) | ratio |", "|---|--:|--:|--:|"]
    for label, path in (("one 128 MiB F32 tensor", big), ("one 128 MiB BF16 tensor", bf16), ("20,000 F32 tensors of 4 KiB", small)):
        infos = read_header(path).tensors
        for info in infos:  # equal results, and a warm page cache for both
            assert np.array_equal(read_tensor(info), mmap_copy(info))
        new = median_time(lambda infos=infos: [read_tensor(i) for i in infos], runs=5)
        old = median_time(lambda infos=infos: [mmap_copy(i) for i in infos], runs=5)
        lines.append(f"| {label} | {new * 1e3:.1f} ms | {old * 1e3:.1f} ms | {new / old:.2f} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tensors", type=int, default=1_000_000, help="tensors in the hostile header (default: 1,000,000)")
    args = parser.parse_args()
    tmp = OUT / "header"
    tmp.mkdir(parents=True, exist_ok=True)
    lines = [f"{machine()}.", "", *scale(args.tensors, tmp), *reads(tmp)]
    (OUT / "header.md").write_text("\n".join(lines) + "\n")
    print(f"\nwritten: {OUT / 'header.md'}")


if __name__ == "__main__":
    main()
