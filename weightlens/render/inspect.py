"""Renderers of ``inspect``: the header-only listing of checkpoints."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from weightlens.__about__ import __version__
from weightlens.checkpoint import TensorInfo, Unreadable
from weightlens.render.console import print_data
from weightlens.render.escape import visible
from weightlens.render.format import count, nbytes
from weightlens.run import Plan


def split(plan: Plan) -> tuple[list[TensorInfo], list[Unreadable]]:
    """The selected readable tensors and the unreadable ones."""
    tensors = [t for t in plan.tensors if isinstance(t, TensorInfo)]
    return tensors, [t for t in plan.tensors if isinstance(t, Unreadable)]


def inspect_dict(plan: Plan) -> dict[str, Any]:
    """The listing as a JSON document (schema: ``schemas/inspect.schema.json``)."""
    tensors, unreadable = split(plan)
    return {
        "schema_version": "1.0",
        "tool": {"name": "weightlens", "version": __version__},
        "inputs": [
            {"path": i.path, "layout": i.layout, "tensors": i.tensors, "selected": i.selected, "files": [vars(f) for f in i.files]}
            for i in plan.inputs()
        ],
        "tensors": [
            {"name": t.name, "dtype": t.dtype, "shape": list(t.shape), "parameters": t.parameters, "nbytes": t.nbytes, "file": str(t.file)}
            for t in tensors
        ],
        "unreadable": [{"name": u.name, "file": str(u.file), "problem": u.problem} for u in unreadable],
        "totals": {
            "tensors": len(tensors),
            "parameters": sum(t.parameters for t in tensors),
            "nbytes": sum(t.nbytes for t in tensors),
            "excluded": plan.excluded,
        },
    }


def render_inspect(plan: Plan, console: Console) -> None:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for header, justify in (("tensor", "left"), ("dtype", "left"), ("shape", "right"), ("parameters", "right"), ("bytes", "right"), ("file", "left")):
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    tensors, unreadable = split(plan)
    for t in tensors:
        table.add_row(Text(visible(t.name)), t.dtype, "×".join(map(str, t.shape)) or "scalar", f"{t.parameters:,}", nbytes(t.nbytes), Text(visible(t.file.name, backslash=False)))
    params = sum(t.parameters for t in tensors)
    size = sum(t.nbytes for t in tensors)
    files = sum(len(c.files) for c in plan.checkpoints)
    total = Text(f"{len(tensors)} tensors, {params:,} parameters ({count(params)}), {nbytes(size)} in {files} file(s)", style="bold")
    if plan.excluded:
        total.append(f"; {plan.excluded} excluded by filters", style="")
    notes = [Text.assemble(("unreadable: ", "bold red"), Text(visible(u.name)), visible(f" ({u.file.name}): {u.problem}", backslash=False)) for u in unreadable]
    body = Group(table, Text(""), total, *notes)
    print_data(console, body)
