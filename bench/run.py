#!/usr/bin/env python3
"""Run every bench/*_bench.py in turn (``make bench``); each prints its own results."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    benches = sorted(Path(__file__).resolve().parent.glob("*_bench.py"))
    for path in benches:
        print(f"== {path.name}", flush=True)
        runpy.run_path(str(path), run_name="__main__")
    sys.exit(0 if benches else 1)
