"""Run the benchmarks: every bench/*_bench.py, each in its own process.

    python bench/run.py            # all of them (what `make bench` does)
    python bench/run.py nmf        # only bench/nmf_bench.py

Each benchmark prints its results and writes them under bench/out/. Exit status: 0 when every
benchmark ran, otherwise that of the first failure (2 for an unknown name).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    available = sorted(p.name.removesuffix("_bench.py") for p in HERE.glob("*_bench.py"))
    unknown = [name for name in argv if name not in available]
    if unknown:
        print(f"bench: unknown benchmark {unknown[0]!r}; expected some of: {', '.join(available)}", file=sys.stderr)
        return 2
    status = 0
    for name in argv or available:
        print(f"== {name}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / f"{name}_bench.py")])
        status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
