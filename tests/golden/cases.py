"""The commands whose JSON output is pinned by tests/golden/*.json, and how two outputs are compared.

The files were written before the package was reorganised (``python -m tests.golden.cases``
rewrites them, from the repository root); tests/golden/test_golden.py reruns each command and
compares. Timing fields are masked. Every other non-float value must be equal; a float may
differ only within the error bound its tensor record reports (tests/bounds.py): two machines
with other BLAS kernels round differently, and a fixed digit count would be a guess.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.bounds import diff_tolerances, tolerances
from weightlens.cli import app

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
S = "sample_weights"
SINGLE_FILES = ["bf16", "conv", "f16", "f8", "ill_conditioned", "low_rank", "nan", "pruned"]

CASES: dict[str, list[str]] = {
    "analyze_tiny_model": ["analyze", f"{S}/tiny_model", "-f", "json"],
    # nmf is left out: an iterative solver's last digits follow the BLAS kernel, and no record bounds them (tests/test_nmf_solver.py checks it against references)
    "analyze_samples": ["analyze", *(f"{S}/{n}.safetensors" for n in SINGLE_FILES), "-f", "json"],
    "analyze_adapter": ["analyze", f"{S}/adapter", "--passes", "all", "-f", "json"],
    "diff_tuned": ["diff", f"{S}/diff/base.safetensors", f"{S}/diff/tuned.safetensors", "-f", "json"],
    "diff_adapter": ["diff", f"{S}/diff/base.safetensors", f"{S}/adapter", "-f", "json"],
    "check_tiny_model": ["check", f"{S}/tiny_model", "--isolated", "--max-condition", "1e6", "--min-rank-ratio", "0.9", "--max-dead-rows", "0.01", "-f", "json"],
    "check_samples": ["check", *(f"{S}/{n}.safetensors" for n in SINGLE_FILES), "--isolated", "--max-zero-fraction", "0.2", "--min-rank-ratio", "0.5", "-f", "json"],
    "inspect_tiny_model": ["inspect", f"{S}/tiny_model", "-f", "json"],
    "inspect_adapter": ["inspect", f"{S}/adapter", "-f", "json"],
}

TIMING = {"duration_s", "line"}
"""check's summary: the wall time, and the one-line verdict that ends with it."""


def run(name: str) -> tuple[int, Any]:
    """Run one case from the repository root: (exit code, parsed JSON with timing fields masked)."""
    result = CliRunner().invoke(app, CASES[name])
    return result.exit_code, mask(json.loads(result.stdout))


def mask(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: "<masked>" if k in TIMING else mask(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [mask(v) for v in doc]
    return doc


def golden_path(name: str) -> Path:
    return HERE / f"{name}.json"


def _bounds(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per tensor name, the bound of each float field of its record (the largest over records of that name)."""
    bound = diff_tolerances if doc.get("mode") else tolerances
    out: dict[str, dict[str, Any]] = {}
    for record in doc.get("tensors", []):
        mine = out.setdefault(record["name"], {})
        for k, v in bound(record).items():
            mine[k] = v if k not in mine else _larger(mine[k], v)
    return out


def _larger(a: Any, b: Any) -> Any:
    if isinstance(a, list) or isinstance(b, list):
        return [max(x, y) for x, y in zip(a if isinstance(a, list) else [a] * len(b), b if isinstance(b, list) else [b] * len(a))]
    return max(a, b)


def differences(want: Any, got: Any) -> list[str]:
    """Where ``got`` differs from ``want`` beyond the bounds the records report (empty: the same)."""
    bw, bg = _bounds(want) if isinstance(want, dict) else {}, _bounds(got) if isinstance(got, dict) else {}
    problems: list[str] = []

    def walk(a: Any, b: Any, where: str, owner: str | None, key: str | None) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                problems.append(f"{where}: keys {sorted(a.keys() ^ b.keys())}")
                return
            name = a.get("name", owner) if isinstance(a.get("name"), str) else owner
            for k in a:
                walk(a[k], b[k], f"{where}.{k}", name, k if k != "rel_error" else "svd_rel_error")
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                problems.append(f"{where}: lengths {len(a)} != {len(b)}")
                return
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{where}[{i}]", owner, key)
        elif isinstance(a, float) or isinstance(b, float):
            if not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
                problems.append(f"{where}: {a!r} != {b!r}")
                return
            if math.isnan(a) and math.isnan(b) or a == b:
                return
            ea, eb = (_bound(x, owner, key) for x in (bw, bg))
            if ea is None or eb is None:
                problems.append(f"{where}: {a!r} != {b!r} and no record reports a bound for it")
            elif not abs(a - b) <= ea + eb:
                problems.append(f"{where}: {a!r} vs {b!r}, beyond the bound {ea} + {eb}")
        elif a != b:
            problems.append(f"{where}: {a!r} != {b!r}")

    walk(want, got, "$", None, None)
    return problems


def _bound(bounds: dict[str, dict[str, Any]], owner: str | None, key: str | None) -> float | None:
    value = bounds.get(owner or "", {}).get(key or "")
    return max(value) if isinstance(value, list) else value


def regenerate() -> None:
    for name in CASES:
        code, doc = run(name)
        golden_path(name).write_text(json.dumps({"exit_code": code, "output": doc}, indent=1, ensure_ascii=False) + "\n")
        print(f"{name}: exit {code}", file=sys.stderr)


if __name__ == "__main__":
    regenerate()
