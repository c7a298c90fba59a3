"""Hostile tensor counts: listing and analyzing many tiny tensors is linear and lean.

1,000,000 one-byte tensors took 60–100 s and 2.2 GB in ``inspect`` (a rich Table row costs
~1 ms, Checkpoint.items() re-sorted every name each call, the JSON listing went through the
pure-Python indenting encoder). Wall-clock time is not tested here (that is bench/header_bench.py);
instead the work is counted: Python function calls and traced memory per tensor, at n and 2n.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

import weightlens.checkpoint.header as header
from weightlens.checkpoint import read_header
from weightlens.errors import HeaderError
from weightlens.pipeline.run import plan
from weightlens.render.inspect import inspect_dict, render_inspect, write_inspect_json
from weightlens.render.json import dumps
from weightlens.testing import write_safetensors


def many_tiny(path: Path, n: int) -> Path:
    """A file of ``n`` one-byte U8 tensors named t0 … t{n-1} (the issue's hostile header)."""
    doc = {f"t{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i in range(n)}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(n))
    return path


def calls(fn: Callable[[], object]) -> int:
    """Python and C function calls made by fn()."""
    count = 0

    def profile(frame, event, arg):  # type: ignore[no-untyped-def]
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def inspect_both(path: Path) -> None:
    p = plan([path])
    render_inspect(p, Console(file=io.StringIO(), width=80))
    write_inspect_json(p, io.StringIO())


def test_inspect_does_constant_work_per_tensor(tmp_path) -> None:  # type: ignore[no-untyped-def]
    n = 2000
    small, large = (calls(lambda k=k: inspect_both(many_tiny(tmp_path / f"{k}.safetensors", k))) for k in (n, 2 * n))
    # The n extra tensors cost ≤ 250 calls each: ~170 now (parse 51, table 83, JSON 38); a rich Table row was ~3,900.
    assert large - small <= 250 * n, (small, large)
    assert large <= 2.05 * small, (small, large)  # linear: nothing sorted or rescanned per tensor


def test_header_memory_is_linear_and_lean(tmp_path) -> None:  # type: ignore[no-untyped-def]
    n = 4000
    paths = [many_tiny(tmp_path / f"{k}.safetensors", k) for k in (n, 2 * n)]
    peaks, kept = [], []
    for path in paths:
        tracemalloc.start()
        try:
            p = plan([path])
            kept.append(tracemalloc.get_traced_memory()[0])
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert len(p.tensors) == int(path.stem)
        del p
    assert peaks[1] <= 2.1 * peaks[0] and kept[1] <= 2.1 * kept[0], (peaks, kept)
    # Bytes per tensor: ~700 at the peak and ~255 kept now; 1,000 and 343 before (parsed JSON and raw bytes held together).
    assert (peaks[1] - peaks[0]) / n < 900 and (kept[1] - kept[0]) / n < 320, (peaks, kept)


def test_tensor_count_cap(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(header, "MAX_TENSORS", 50)
    assert len(read_header(many_tiny(tmp_path / "ok.safetensors", 50)).tensors) == 50
    with pytest.raises(HeaderError, match="51 tensors in one file; at most 50 are supported"):
        read_header(many_tiny(tmp_path / "bad.safetensors", 51))


def test_analyze_does_linear_work(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from weightlens import AnalysisOptions
    from weightlens.pipeline.run import iter_records

    options = AnalysisOptions(passes=("health",))
    n = 500

    def run(k: int) -> None:
        assert sum(1 for _ in iter_records(plan([many_tiny(tmp_path / f"a{k}.safetensors", k)]).jobs, options, workers=1)) == k

    small, large = calls(lambda: run(n)), calls(lambda: run(2 * n))
    assert large <= 2.05 * small, (small, large)


# ---------------------------------------------------------------- the fast renderers print what they printed

names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
shapes = st.lists(st.integers(0, 5), max_size=3).map(tuple)


def reference_table(tensors: list, console: Console) -> str:  # type: ignore[type-arg]
    """The rich Table the listing used to be (box=None, no padding at the edges, cells never wrapped)."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for h, justify in (("tensor", "left"), ("dtype", "left"), ("shape", "right"), ("parameters", "right"), ("bytes", "right"), ("file", "left")):
        table.add_column(h, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    from rich.text import Text

    from weightlens.report.format import nbytes

    for t in tensors:
        table.add_row(Text(t.name), t.dtype, "×".join(map(str, t.shape)) or "scalar", f"{t.parameters:,}", nbytes(t.nbytes), Text(t.file.name))
    console.width = 1 << 16
    with console.capture() as captured:
        console.print(table)
    return "".join(line.rstrip() + "\n" for line in captured.get().splitlines())


@settings(derandomize=True, max_examples=60, deadline=None, database=None)
@given(spec=st.dictionaries(names, shapes, min_size=1, max_size=5))
def test_streamed_json_and_plain_table_match_the_reference_renderings(tmp_path_factory, spec) -> None:  # type: ignore[no-untyped-def]
    path = write_safetensors(tmp_path_factory.mktemp("r") / "m.safetensors", {k: np.zeros(s, np.float32) for k, s in spec.items()})
    p = plan([path])
    out = io.StringIO()
    write_inspect_json(p, out)
    assert out.getvalue() == dumps(inspect_dict(p))

    text = io.StringIO()
    render_inspect(p, Console(file=text, width=80))
    lines = text.getvalue().splitlines()
    assert len(lines) == len(spec) + 3  # header, one line per tensor, blank, totals
    assert all(c.isprintable() for line in lines for c in line)
    if all(name.isprintable() for name in spec):
        table = reference_table([t for t in p.tensors], Console(file=io.StringIO()))
        assert text.getvalue().startswith(table)
