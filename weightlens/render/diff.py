"""Renderers of ``diff``: a rich table of what changed, JSON and JSON Lines (Markdown, from the
same rows, notes and summary lines, is in :mod:`weightlens.render.markdown`).

Identical tensors are counted in the summary, not listed: in a partly fine-tuned model they
are most of the rows and say nothing. Names are rich ``Text``, never markup.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from weightlens.checkpoint.peft import base_name, dora_module
from weightlens.pipeline.diff import UNSCALED, DiffRecord, DiffReport, DiffSummary
from weightlens.render.console import print_data
from weightlens.render.json import dumps, json_line
from weightlens.render.summary import SummaryLine
from weightlens.render.table import Column, summary_line_text
from weightlens.report.format import num
from weightlens.text import visible


def render_diff_json(report: DiffReport) -> str:
    """The whole diff as one JSON document (schema: ``schemas/diff.schema.json``)."""
    return dumps(report.to_dict())


def diff_jsonl_line(record: DiffRecord) -> str:
    """One diff record as one line of JSON Lines (the ``tensor`` definition of the diff schema)."""
    return json_line(record.to_dict())


def _arrow(a: str, b: str) -> str:
    return a if a == b else f"{a}→{b}"


def diff_shape(r: DiffRecord) -> str:
    def fmt(s: tuple[int, ...] | None) -> str:
        return "×".join(map(str, s)) if s else ("scalar" if s == () else "")

    if r.kind == "lora" or r.status != "paired":
        return fmt(r.base_shape if r.base_shape is not None else r.tuned_shape)
    return _arrow(fmt(r.base_shape), fmt(r.tuned_shape))


def diff_dtype(r: DiffRecord) -> str:
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


def notes(r: DiffRecord) -> list[tuple[str, str]]:
    """(note, style) pairs of a row: one-sided names, errors, skips, dtype changes, zero updates."""
    out: list[tuple[str, str]] = []
    if r.status == "only_in_base":
        out.append(("only in base", "yellow"))
    elif r.status == "only_in_tuned":
        out.append(("only in tuned", "yellow"))
        if r.tuned_name:
            out.append((f"({visible(r.tuned_name)})", "dim"))
    elif r.status == "dora_magnitude":
        out.append((f"DoRA magnitude of {visible(base_name(dora_module(r.tuned_name or r.name) or r.name))}.weight (not compared)", "dim"))
    elif r.kind != "lora" and r.tuned_name:
        out.append((f"stored in the adapter as {visible(r.tuned_name)}", "dim"))
    if r.error:
        out.append((f"error: {visible(r.error, backslash=False)}", "bold red"))
    if r.skipped:
        out.append((r.skipped, "red" if "non-finite" in r.skipped else "yellow"))
    if r.kind != "lora" and r.status == "paired" and r.base_dtype != r.tuned_dtype:
        out.append(("dtype changed", "yellow"))
    if r.get("lora_unscaled"):
        out.append((UNSCALED, "yellow"))
    if r.kind == "lora" and r.get("identical"):
        out.append(("zero update", "yellow"))
    return out


def _notes(r: DiffRecord) -> Text:
    return Text(", ").join(Text(n, style=s) for n, s in notes(r))


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


def diff_rows(report: DiffReport) -> list[DiffRecord]:
    """The records a table lists: all but identical pairs of checkpoints (LoRA updates always)."""
    return [r for r in report.records if not r.get("identical") or r.kind == "lora"]


def shown_diff_columns(report: DiffReport, rows: list[DiffRecord]) -> list[Column]:
    """The metric columns some listed row has a field for."""
    return [c for c in diff_columns(report.options.lora_ranks) if any(c.field in r.metrics for r in rows)]


def diff_table(report: DiffReport) -> Table:
    rows = diff_rows(report)
    shown = shown_diff_columns(report, rows)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("tensor", no_wrap=True)
    table.add_column("shape", justify="right", no_wrap=True)
    table.add_column("dtype", no_wrap=True)
    for c in shown:
        table.add_column(c.header, justify=c.justify, no_wrap=True)
    table.add_column("notes", no_wrap=True)
    for r in rows:
        cells = [c.cell(r) if c.field in r.metrics else Text("-", style="dim") for c in shown]
        table.add_row(Text(visible(r.name)), diff_shape(r), diff_dtype(r), *cells, _notes(r))
    return table


def diff_headline(report: DiffReport) -> str:
    """'21 pairs: 5 changed, 15 identical (not listed), 1 only in base, ...'."""
    s: DiffSummary = report.summary
    what = "adapter updates" if report.mode == "adapter" else "pairs"
    return "".join(
        (
            f"{s.pairs} {what}",
            f": {s.changed} changed, {s.identical} identical" + (" (not listed)" if s.identical and report.mode == "checkpoints" else ""),
            f", {len(s.only_in_base)} only in base" if s.only_in_base else "",
            f", {len(s.only_in_tuned)} only in tuned" if s.only_in_tuned else "",
            f", {len(s.dora_magnitude)} DoRA magnitude vectors (not compared)" if s.dora_magnitude else "",
            f", {s.errors} unreadable" if s.errors else "",
            f", {s.excluded} excluded by filters" if s.excluded else "",
            f"; {s.untargeted} base tensors not targeted by the adapter" if report.mode == "adapter" else "",
            f"; {UNSCALED}, s = 1 (ΔW = B·A)" if any(r.get("lora_unscaled") for r in report.records) else "",
        )
    )


def diff_summary_lines(report: DiffReport) -> list[SummaryLine]:
    """The summary below the headline, one line per kind of news, as ``analyze``'s summary."""
    s: DiffSummary = report.summary

    def plain(names: list[str]) -> tuple[tuple[str, str | None], ...]:
        return tuple((n, None) for n in names)

    lines: list[SummaryLine] = []
    if s.only_in_base:
        lines.append(SummaryLine("only in base", plain(s.only_in_base), "warn"))
    if s.only_in_tuned:
        lines.append(SummaryLine("only in tuned", plain(s.only_in_tuned), "warn"))
    if s.shape_changed:
        lines.append(SummaryLine("shape changed", plain(s.shape_changed), "warn"))
    if s.dtype_changed:
        lines.append(SummaryLine("dtype changed", tuple((n, f"{b}→{t}") for n, b, t in s.dtype_changed), "warn"))
    if s.largest_change:
        lines.append(SummaryLine("largest change", tuple((n, num(v, 3)) for n, v in s.largest_change)))
    for reason, names in s.skipped.items():
        lines.append(SummaryLine(f"not compared, {reason}", plain(names)))
    for name, error in s.error_list:
        lines.append(SummaryLine("unreadable", ((name, error),), "bad"))
    return lines


def diff_summary_text(report: DiffReport) -> Text:
    head = Text(diff_headline(report))
    head.stylize("bold", 0, diff_headline(report).find(":"))
    return Text("\n").join([head, *map(summary_line_text, diff_summary_lines(report))])


def render_diff_table(report: DiffReport, console: Console) -> None:
    """Print the diff table and summary."""
    body = Group(diff_table(report), Text(""), diff_summary_text(report))
    print_data(console, body)
