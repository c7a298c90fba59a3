"""Renderers of ``diff``: a rich table of what changed, JSON and JSON Lines.

Identical tensors are counted in the summary, not listed: in a partly fine-tuned model they
are most of the rows and say nothing. Names are rich ``Text``, never markup.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from weightlens.diff import DiffRecord, DiffReport, DiffSummary
from weightlens.render.console import print_data
from weightlens.render.format import num
from weightlens.render.json import dumps, json_line
from weightlens.render.table import Column


def render_diff_json(report: DiffReport) -> str:
    """The whole diff as one JSON document (schema: ``schemas/diff.schema.json``)."""
    return dumps(report.to_dict())


def diff_jsonl_line(record: DiffRecord) -> str:
    """One diff record as one line of JSON Lines (the ``tensor`` definition of the diff schema)."""
    return json_line(record.to_dict())


def _arrow(a: str, b: str) -> str:
    return a if a == b else f"{a}→{b}"


def _shape(r: DiffRecord) -> str:
    def fmt(s: tuple[int, ...] | None) -> str:
        return "×".join(map(str, s)) if s else ("scalar" if s == () else "")

    if r.kind == "lora" or r.status != "paired":
        return fmt(r.base_shape if r.base_shape is not None else r.tuned_shape)
    return _arrow(fmt(r.base_shape), fmt(r.tuned_shape))


def _dtype(r: DiffRecord) -> str:
    if r.kind == "lora":
        return f"{r.base_dtype}+LoRA {r.tuned_dtype}" if r.base_dtype else f"LoRA {r.tuned_dtype}"
    return _arrow(r.base_dtype or "", r.tuned_dtype or "").strip("→")


def _pair(base: str, tuned: str, fmt: Callable[[float | None], str]) -> Callable[[DiffRecord], str]:
    return lambda r: _arrow(fmt(r[base]), fmt(r[tuned]))


def _kappa(x: float | None) -> str:
    return "singular" if x is None else num(x)


def _lora_error(k: int) -> Callable[[DiffRecord], str]:
    def cell(r: DiffRecord) -> str:
        p = min(r.matrix_shape or (k, k))
        for e in r["delta_lora_error"]:
            if e["rank"] == min(k, p):
                return num(e["rel_error"], 3)
        return "-"

    return cell


def _notes(r: DiffRecord) -> Text:
    notes: list[tuple[str, str]] = []
    if r.status == "only_in_base":
        notes.append(("only in base", "yellow"))
    elif r.status == "only_in_tuned":
        notes.append(("only in tuned", "yellow"))
        if r.tuned_name:
            notes.append((f"({r.tuned_name})", "dim"))
    if r.error:
        notes.append((f"error: {r.error}", "bold red"))
    if r.skipped:
        notes.append((r.skipped, "red" if "non-finite" in r.skipped else "yellow"))
    if r.kind != "lora" and r.status == "paired" and r.base_dtype != r.tuned_dtype:
        notes.append(("dtype changed", "yellow"))
    if r.kind == "lora" and r.get("identical"):
        notes.append(("zero update", "yellow"))
    return Text(", ").join(Text(n, style=s) for n, s in notes)


def diff_columns(lora_ranks: tuple[int, ...]) -> list[Column]:
    """The table's metric columns; a column shows when some listed record has its field."""
    return [
        Column("‖ΔW‖/‖W‖", "rel_change", lambda r: num(r["rel_change"], 3)),
        Column("cos", "cosine", lambda r: "-" if r["cosine"] is None else f"{r['cosine']:.6f}"),
        Column("ΔW rank", "delta_numerical_rank", lambda r: f"{r['delta_numerical_rank']}/{min(r.matrix_shape or (0, 0))}"),
        Column("ΔW erank", "delta_effective_rank", lambda r: f"{r['delta_effective_rank']:.1f}"),
        *[Column(f"err@{k}", "delta_lora_error", _lora_error(k)) for k in sorted(set(lora_ranks))],
        Column("σ1", "sigma_max_base", _pair("sigma_max_base", "sigma_max_tuned", num)),
        Column("κ", "condition_number_base", _pair("condition_number_base", "condition_number_tuned", _kappa)),
        Column("erank", "effective_rank_base", _pair("effective_rank_base", "effective_rank_tuned", lambda x: f"{x:.1f}")),
    ]


def diff_table(report: DiffReport) -> Table:
    rows = [r for r in report.records if not r.get("identical") or r.kind == "lora"]
    shown = [c for c in diff_columns(report.options.lora_ranks) if any(c.field in r.metrics for r in rows)]
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("tensor", no_wrap=True)
    table.add_column("shape", justify="right", no_wrap=True)
    table.add_column("dtype", no_wrap=True)
    for c in shown:
        table.add_column(c.header, justify=c.justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("notes", no_wrap=True)
    for r in rows:
        cells = [c.cell(r) if c.field in r.metrics else Text("-", style="dim") for c in shown]
        table.add_row(Text(r.name), _shape(r), _dtype(r), *cells, _notes(r))
    return table


def _names(names: list[str]) -> Text:
    return Text(", ").join(Text(n) for n in names)


def diff_summary_text(report: DiffReport) -> Text:
    s: DiffSummary = report.summary
    what = "adapter updates" if report.mode == "adapter" else "pairs"
    head = Text.assemble(
        (f"{s.pairs} {what}", "bold"),
        f": {s.changed} changed, {s.identical} identical" + (" (not listed)" if s.identical and report.mode == "checkpoints" else ""),
        f", {len(s.only_in_base)} only in base" if s.only_in_base else "",
        f", {len(s.only_in_tuned)} only in tuned" if s.only_in_tuned else "",
        f", {s.errors} unreadable" if s.errors else "",
        f", {s.excluded} excluded by filters" if s.excluded else "",
        f"; {s.untargeted} base tensors not targeted by the adapter" if report.mode == "adapter" else "",
    )
    lines = [head]
    if s.only_in_base:
        lines.append(Text.assemble(("only in base: ", "yellow"), _names(s.only_in_base)))
    if s.only_in_tuned:
        lines.append(Text.assemble(("only in tuned: ", "yellow"), _names(s.only_in_tuned)))
    if s.shape_changed:
        lines.append(Text.assemble(("shape changed: ", "yellow"), _names(s.shape_changed)))
    if s.dtype_changed:
        lines.append(Text.assemble(("dtype changed: ", "yellow"), Text(", ").join(Text.assemble(Text(n), f" ({b}→{t})") for n, b, t in s.dtype_changed)))
    if s.largest_change:
        lines.append(Text.assemble("largest change: ", Text(", ").join(Text.assemble(Text(n), f" ({num(v, 3)})") for n, v in s.largest_change)))
    for reason, names in s.skipped.items():
        lines.append(Text.assemble((f"not compared, {reason}: ", "dim"), _names(names)))
    for name, error in s.error_list:
        lines.append(Text.assemble(("unreadable: ", "bold red"), Text(name), f": {error}"))
    return Text("\n").join(lines)


def render_diff_table(report: DiffReport, console: Console) -> None:
    """Print the diff table and summary."""
    body = Group(diff_table(report), Text(""), diff_summary_text(report))
    print_data(console, body)
