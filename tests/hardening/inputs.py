"""Files the hardening tests give weightlens, and the check that none of them changed.

``snapshot(root)`` records every entry under ``root`` (links not followed): after any command,
refused or not, ``snapshot(root)`` must be equal — same names, bytes, mtimes and modes, so
nothing was overwritten, and nothing (not even a temporary file) was left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import chdir as contextlib_chdir
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from weightlens import AnalysisOptions, analyze
from weightlens.render.json import render_json
from weightlens.testing import write_safetensors, write_sharded

Entry = tuple[str, bytes, int, int]


def snapshot(root: Path) -> dict[str, Entry]:
    """relative path -> (kind, content or link target, mtime_ns, mode) of everything under root."""
    out: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():
                out[str(p.relative_to(root))] = ("link", os.readlink(p).encode(), st.st_mtime_ns, st.st_mode)
            elif p.is_file():
                out[str(p.relative_to(root))] = ("file", p.read_bytes(), st.st_mtime_ns, st.st_mode)
            else:
                out[str(p.relative_to(root))] = ("other", b"", st.st_mtime_ns, st.st_mode)
    return out


def matrices(seed: int, *names: str, shape: tuple[int, int] = (8, 6)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(shape).astype(np.float32) for n in names}


LORA = "base_model.model.layers.0.q_proj"


def build_inputs(root: Path) -> dict[str, Path]:
    """Every kind of input weightlens reads, under root; role -> path.

    one: a .safetensors file; idx: a sharded checkpoint with its index; dir: a directory of
    .safetensors without index; ad: a PEFT adapter with adapter_config.json; base: a saved
    ``analyze --format json`` report of ``one`` (for --baseline and the drawing commands);
    rules: a --config TOML file; cwd: a directory whose pyproject.toml has [tool.weightlens].
    """
    one = write_safetensors(root / "one.safetensors", matrices(1, "layers.0.w", "layers.1.w"))
    idx = write_sharded(root / "idx", [matrices(2, "a.w", "layers.0.w"), matrices(3, "b.w")])  # layers.0.w: diff one idx has a name in common
    (root / "dir").mkdir()
    write_safetensors(root / "dir" / "a.safetensors", matrices(4, "a.w"))
    write_safetensors(root / "dir" / "b.safetensors", matrices(5, "b.w"))
    (root / "ad").mkdir()
    rng = np.random.default_rng(6)
    lora = {f"{LORA}.lora_A.weight": rng.standard_normal((4, 16)).astype(np.float32), f"{LORA}.lora_B.weight": rng.standard_normal((12, 4)).astype(np.float32)}
    write_safetensors(root / "ad" / "adapter_model.safetensors", lora)
    (root / "ad" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4, "lora_alpha": 8}))
    base = root / "base.json"
    base.write_text(render_json(analyze(one, AnalysisOptions(passes=("health", "spectrum", "rank", "condition"), full_spectrum=True))))
    rules = root / "rules.toml"
    rules.write_text("max_condition = 1e12\n")
    (root / "cwd").mkdir()
    (root / "cwd" / "pyproject.toml").write_text("[tool.weightlens]\nmax_dead_rows = 1.0\n")
    return {"one": one, "idx": idx, "dir": root / "dir", "ad": root / "ad", "base": base, "rules": rules, "cwd": root / "cwd"}


class Timeout(Exception):
    """Raised in the main thread by :func:`deadline` when the block runs too long."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block (even a blocking open() of a FIFO) with Timeout after ``seconds``."""

    def expire(_signum: int, _frame: object) -> None:
        raise Timeout(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def workspace(template: Path, cwd: str = "") -> Iterator[Path]:
    """A fresh copy of the inputs under ``template`` (links kept as links), entered at ``cwd`` below
    it; yields the copy's root."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "w"
        shutil.copytree(template, root, symlinks=True)
        with contextlib_chdir(root / cwd):
            yield root
