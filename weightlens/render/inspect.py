"""Renderers of ``inspect``: the header-only listing of checkpoints."""

from __future__ import annotations

import json
from typing import IO, Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from weightlens.__about__ import __version__
from weightlens.checkpoint import TensorInfo, Unreadable
from weightlens.pipeline.run import Plan
from weightlens.render.json import dumps
from weightlens.report.format import count, nbytes
from weightlens.text import visible


def split(plan: Plan) -> tuple[list[TensorInfo], list[Unreadable]]:
    """The selected readable tensors and the unreadable ones."""
    tensors = [t for t in plan.tensors if isinstance(t, TensorInfo)]
    return tensors, [t for t in plan.tensors if isinstance(t, Unreadable)]


def inspect_dict(plan: Plan) -> dict[str, Any]:
    """The listing as a JSON document (schema: ``schemas/inspect.schema.json``)."""
    tensors, _ = split(plan)
    return _document(plan, [_entry(t) for t in tensors])


def _entry(t: TensorInfo) -> dict[str, Any]:
    return {"name": t.name, "dtype": t.dtype, "shape": list(t.shape), "parameters": t.parameters, "nbytes": t.nbytes, "file": str(t.file)}


def _document(plan: Plan, entries: list[Any]) -> dict[str, Any]:
    tensors, unreadable = split(plan)
    return {
        "schema_version": "1.0",
        "tool": {"name": "weightlens", "version": __version__},
        "inputs": [
            {"path": i.path, "layout": i.layout, "tensors": i.tensors, "selected": i.selected, "files": [vars(f) for f in i.files]}
            for i in plan.inputs()
        ],
        "tensors": entries,
        "unreadable": [{"name": u.name, "file": str(u.file), "problem": u.problem} for u in unreadable],
        "totals": {
            "tensors": len(tensors),
            "parameters": sum(t.parameters for t in tensors),
            "nbytes": sum(t.nbytes for t in tensors),
            "excluded": plan.excluded,
        },
    }


_CHUNK = 4096
"""Rows (tensor entries) formatted and written per write call."""

_SLOT = "\0tensors"
"""Stands for the tensor entries in the document :func:`write_inspect_json` streams them into."""


def write_inspect_json(plan: Plan, out: IO[str]) -> None:
    """Write ``dumps(inspect_dict(plan))``, byte for byte, with the tensor entries streamed.

    Each entry is formatted straight from its TensorInfo, as ``json.dumps(indent=2)`` lays it
    out (strings through the json encoder), and written in chunks: a listing of 10⁶ tensors is
    never 10⁶ dicts nor one string, and costs a few µs per tensor instead of the pure-Python
    indenting encoder's ~20.
    """
    tensors, _ = split(plan)
    if not tensors:
        out.write(dumps(inspect_dict(plan)))
        return
    head, _, tail = dumps(_document(plan, [_SLOT])).partition(f"    {json.dumps(_SLOT)}\n")
    out.write(head)
    for i in range(0, len(tensors), _CHUNK):
        out.write(",\n".join(_entry_json(t) for t in tensors[i : i + _CHUNK]) + (",\n" if i + _CHUNK < len(tensors) else "\n"))
    out.write(tail)


def _entry_json(t: TensorInfo) -> str:
    """One entry of "tensors" as ``json.dumps(..., indent=2)`` prints it at that depth."""
    shape = "[\n" + ",\n".join(f"        {d}" for d in t.shape) + "\n      ]" if t.shape else "[]"
    return (
        f'    {{\n      "name": {_string(t.name)},\n      "dtype": {_string(t.dtype)},\n      "shape": {shape},\n'
        f'      "parameters": {t.parameters},\n      "nbytes": {t.nbytes},\n      "file": {_string(str(t.file))}\n    }}'
    )


def _string(text: str) -> str:
    return json.dumps(text)  # ASCII, as dumps(): lossless in any encoding


COLUMNS = (("tensor", "<"), ("dtype", "<"), ("shape", ">"), ("parameters", ">"), ("bytes", ">"), ("file", "<"))
"""Header and alignment of each column of the listing."""

def _width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def _cells(t: TensorInfo) -> tuple[str, ...]:
    return (visible(t.name), t.dtype, "×".join(map(str, t.shape)) or "scalar", f"{t.parameters:,}", nbytes(t.nbytes), visible(t.file.name, backslash=False))


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    """Cells padded to their column's width (by terminal cells), two spaces apart, nothing trailing."""
    out = []
    for (_, align), cell, width in zip(COLUMNS, cells, widths):
        pad = " " * (width - _width(cell))
        out.append(pad + cell if align == ">" else cell + pad)
    return "  ".join(out).rstrip()


def render_inspect(plan: Plan, console: Console) -> None:
    """The listing as an aligned plain-text table: one line per tensor, then the totals.

    Formatted in two linear passes (column widths, then lines written in chunks), not through a
    rich Table, whose per-cell layout costs ~1 ms a row: 10⁶ tensors list in seconds. Names are
    printed whole, on one line each; styles (bold header and totals) only on a terminal.
    """
    tensors, unreadable = split(plan)
    widths = [_width(h) for h, _ in COLUMNS]
    for t in tensors:
        widths = [max(w, _width(c)) for w, c in zip(widths, _cells(t))]
    _styled(console, _line(tuple(h for h, _ in COLUMNS), widths), "bold")
    for i in range(0, len(tensors), _CHUNK):
        console.file.write("".join(_line(_cells(t), widths) + "\n" for t in tensors[i : i + _CHUNK]))
    params = sum(t.parameters for t in tensors)
    size = sum(t.nbytes for t in tensors)
    files = sum(len(c.files) for c in plan.checkpoints)
    total = Text(f"{len(tensors)} tensors, {params:,} parameters ({count(params)}), {nbytes(size)} in {files} file(s)", style="bold")
    if plan.excluded:
        total.append(f"; {plan.excluded} excluded by filters", style="")
    console.file.write("\n")
    _print(console, total)
    for u in unreadable:
        _print(console, Text.assemble(("unreadable: ", "bold red"), visible(u.name), visible(f" ({u.file.name}): {u.problem}", backslash=False)))


def _styled(console: Console, line: str, style: str) -> None:
    _print(console, Text(line, style=style))


def _print(console: Console, text: Text) -> None:
    """One line: styled on a terminal (never wrapped by rich), plain elsewhere."""
    if console.is_terminal:
        console.print(text, soft_wrap=True)
    else:
        console.file.write(text.plain + "\n")
