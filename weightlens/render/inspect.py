"""Renderers of ``inspect``: the header-only listing of checkpoints."""

from __future__ import annotations

import json
from typing import IO, Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from weightlens.__about__ import __version__
from weightlens.checkpoint import TensorInfo, Unreadable
from weightlens.checkpoint.gguf import GGUFFile, GGUFTensorInfo
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
    entry = {"name": t.name, "dtype": t.dtype, "shape": list(t.shape), "parameters": t.parameters, "nbytes": t.nbytes, "file": str(t.file)}
    if isinstance(t, GGUFTensorInfo):  # the stored type is "dtype"; shape is (out, in), ggml's ne reversed
        entry.update(bits_per_weight=t.bits_per_weight, hf_name=t.hf_name)
    return entry


def _file(f: Any, header: Any) -> dict[str, Any]:
    """A file's entry: size, header hash, tensors; for a GGUF file its metadata too."""
    return {**vars(f), "gguf": header.summary()} if isinstance(header, GGUFFile) else vars(f)


def _document(plan: Plan, entries: list[Any]) -> dict[str, Any]:
    tensors, unreadable = split(plan)
    return {
        "schema_version": "1.0",
        "tool": {"name": "weightlens", "version": __version__},
        "inputs": [
            {"path": i.path, "layout": i.layout, "tensors": i.tensors, "selected": i.selected, "files": [_file(f, h) for f, h in zip(i.files, c.files)]}
            for i, c in zip(plan.inputs(), plan.checkpoints)
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
    if isinstance(t, GGUFTensorInfo):
        return "\n".join("    " + line for line in json.dumps(_entry(t), indent=2).splitlines())
    shape = "[\n" + ",\n".join(f"        {d}" for d in t.shape) + "\n      ]" if t.shape else "[]"
    return (
        f'    {{\n      "name": {_string(t.name)},\n      "dtype": {_string(t.dtype)},\n      "shape": {shape},\n'
        f'      "parameters": {t.parameters},\n      "nbytes": {t.nbytes},\n      "file": {_string(str(t.file))}\n    }}'
    )


def _string(text: str) -> str:
    return json.dumps(text)  # ASCII, as dumps(): lossless in any encoding


COLUMNS = (("tensor", "<"), ("dtype", "<"), ("shape", ">"), ("parameters", ">"), ("bytes", ">"), ("file", "<"))
"""Header and alignment of each column of the listing."""

GGUF_COLUMNS = (*COLUMNS[:2], ("bits/w", ">"), *COLUMNS[2:])
"""The columns when a GGUF tensor is listed: its stored bits per weight after its type."""

def _width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def _cells(t: TensorInfo, gguf: bool = False) -> tuple[str, ...]:
    cells = (visible(t.name), t.dtype, "×".join(map(str, t.shape)) or "scalar", f"{t.parameters:,}", nbytes(t.nbytes), visible(t.file.name, backslash=False))
    if not gguf:
        return cells
    bits = f"{t.bits_per_weight:.4g}" if isinstance(t, GGUFTensorInfo) else str(t.dtype_info.bits)
    return (*cells[:2], bits, *cells[2:])


def _line(cells: tuple[str, ...], widths: list[int], columns: tuple[tuple[str, str], ...] = COLUMNS) -> str:
    """Cells padded to their column's width (by terminal cells), two spaces apart, nothing trailing."""
    out = []
    for (_, align), cell, width in zip(columns, cells, widths):
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
    gguf = any(isinstance(h, GGUFFile) for c in plan.checkpoints for h in c.files)
    columns = GGUF_COLUMNS if gguf else COLUMNS
    widths = [_width(h) for h, _ in columns]
    for t in tensors:
        widths = [max(w, _width(c)) for w, c in zip(widths, _cells(t, gguf))]
    _styled(console, _line(tuple(h for h, _ in columns), widths, columns), "bold")
    for i in range(0, len(tensors), _CHUNK):
        console.file.write("".join(_line(_cells(t, gguf), widths, columns) + "\n" for t in tensors[i : i + _CHUNK]))
    params = sum(t.parameters for t in tensors)
    size = sum(t.nbytes for t in tensors)
    files = sum(len(c.files) for c in plan.checkpoints)
    total = Text(f"{len(tensors)} tensors, {params:,} parameters ({count(params)}), {nbytes(size)} in {files} file(s)", style="bold")
    if plan.excluded:
        total.append(f"; {plan.excluded} excluded by filters", style="")
    console.file.write("\n")
    _print(console, total)
    for h in (h for c in plan.checkpoints for h in c.files if isinstance(h, GGUFFile)):
        _print(console, Text(visible(f"{h.path.name}: {gguf_line(h)}", backslash=False)))
    for u in unreadable:
        _print(console, Text.assemble(("unreadable: ", "bold red"), visible(u.name), visible(f" ({u.file.name}): {u.problem}", backslash=False)))


def gguf_line(h: GGUFFile) -> str:
    """One line of a GGUF file's metadata: format, architecture and blocks, context, quantization."""
    s = h.summary()
    parts = [f"GGUF v{s['version']}", f"architecture {s['architecture'] or 'unknown'}"]
    parts += [f"{label} {s[key]}" for key, label in (("block_count", "blocks"), ("context_length", "context length"), ("quantization_version", "quantization version")) if s[key] is not None]
    if s["file_type"] is not None:
        parts.append(f"file type {s['file_type_name'] or s['file_type']}")
    return ", ".join(parts)


def _styled(console: Console, line: str, style: str) -> None:
    _print(console, Text(line, style=style))


def _print(console: Console, text: Text) -> None:
    """One line: styled on a terminal (never wrapped by rich), plain elsewhere."""
    if console.is_terminal:
        console.print(text, soft_wrap=True)
    else:
        console.file.write(text.plain + "\n")
