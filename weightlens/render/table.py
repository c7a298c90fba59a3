"""The rich table of an analysis: one row per matrix, then a summary.

Tensor names are rich ``Text``, never markup: a name like ``[red]x[/red]`` prints as is.
A column appears when at least one record carries its field, so running fewer passes gives a
narrower table and a new pass adds its column here without touching the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from weightlens.render.console import print_data
from weightlens.render.summary import SummaryLine, flag_counts, headline, summary_lines
from weightlens.report.format import num, percent
from weightlens.report.records import Report, Summary, TensorRecord
from weightlens.text import visible


@dataclass(frozen=True)
class Column:
    """A table column: header, the field whose presence shows it, and how to print a record
    (a TensorRecord here; ``diff``'s table reuses it for DiffRecords)."""

    header: str
    field: str
    cell: Callable[[Any], str | Text]
    justify: JustifyMethod = "right"


def _rank(r: TensorRecord) -> str:
    rank = r["numerical_rank"]
    if r.kind == "lora":
        return f"{rank}/r={r['lora_rank']}"
    p = min(r.matrix_shape or (0, 0))
    if rank is None:  # --spectrum fast: only known to be < p
        return f"<{p}/{p}"
    return f"{rank}/{p}"


def _kappa(r: TensorRecord) -> Text:
    if r.kind == "lora":  # singular by construction; σ1/σr over its rank is the informative one
        return Text(f"{num(r['condition_number_on_rank'])} on rank", style="dim")
    if r["singular"]:
        return Text("singular", style="red")
    return Text(num(r["condition_number"]), style="yellow" if r["ill_conditioned"] else "")


ALPHA_RANGE = (2.0, 6.0)
"""WeightWatcher's reading of α: below 2 over-fit, above 6 under-trained (see the README glossary)."""


def alpha_text(r: TensorRecord) -> Text:
    """α to 2 decimals, yellow outside ALPHA_RANGE, with a dim "?" when the fit is not "good"."""
    a = r["alpha"]
    if a is None:
        return Text("-", style="dim")
    lo, hi = ALPHA_RANGE
    text = Text(f"{a:.2f}", style="yellow" if a < lo or a > hi else "")
    if r.get("alpha_quality") != "good":
        text.append("?", style="dim")
    return text


def _nmf_cell(key: str, digits: int) -> Callable[[TensorRecord], str | Text]:
    """One number per NMF rank; "@k" follows each when there are several ranks."""

    def cell(r: TensorRecord) -> str | Text:
        entries = r["nmf"]
        if not entries:
            return Text("-", style="dim")
        if len(entries) == 1:
            return num(entries[0][key], digits)
        return " ".join(f"{num(e[key], digits)}@{e['rank']}" for e in entries)

    return cell


def flags(r: TensorRecord) -> list[tuple[str, str]]:
    """(flag, style) pairs that describe what is wrong or special about a record."""
    out: list[tuple[str, str]] = []
    if r.error:
        out.append(("error", "bold red"))
    if r.get("nan_count"):
        out.append((f"{r['nan_count']} NaN", "bold red"))
    if r.get("inf_count"):
        out.append((f"{r['inf_count']} Inf", "bold red"))
    if r.skipped and r.matrix_shape and not (r.get("nan_count") or r.get("inf_count")):
        out.append((r.skipped, "bold red"))
    if r.get("all_zero"):
        out.append(("all-zero", "red"))
    if r.kind == "lora":  # rank ≤ r < min(m, n) by construction: only a rank below r is news
        if r.get("lora_alpha", 0) is None:
            out.append(("unscaled: no adapter_config.json", "yellow"))
        if "numerical_rank" in r.metrics and r["numerical_rank"] < r["lora_rank"] and not r.get("all_zero"):
            out.append((f"rank {r['numerical_rank']} < r={r['lora_rank']}", "yellow"))
        return out
    if r.get("singular"):
        out.append(("singular", "red"))
    elif r.get("ill_conditioned"):
        out.append(("ill-conditioned", "yellow"))
    if r.get("rank_deficient") and not r.get("all_zero"):
        out.append(("rank-deficient", "yellow"))
    if r.get("dead_rows") or r.get("dead_cols"):
        out.append(("dead rows/cols", "yellow"))
    if r.get("nmf_skipped"):
        out.append(("no nmf: signed", "dim"))
    elif any(e["input"] == "|W|" for e in r.get("nmf") or ()):
        out.append(("nmf of |W|", "dim"))
    if r.kind == "reshaped":
        out.append(("reshaped", "dim"))
    return out


def _flags_cell(r: TensorRecord) -> Text:
    return Text(", ").join(Text(f, style=s) for f, s in flags(r))


COLUMNS: list[Column] = [
    Column("rank", "numerical_rank", _rank),
    Column("erank", "effective_rank", lambda r: "-" if r["effective_rank"] is None else f"{r['effective_rank']:.1f}"),
    Column("srank", "stable_rank", lambda r: num(r["stable_rank"], 3)),
    Column("σ1", "sigma_max", lambda r: num(r["sigma_max"])),
    Column("κ", "condition_number", _kappa),
    Column("α", "alpha", alpha_text),
    Column("zeros", "zero_fraction", lambda r: percent(r["zero_fraction"])),
    Column("nmf err", "nmf", _nmf_cell("nmf_rel_error", 3)),
    Column("nmf/svd", "nmf", _nmf_cell("nmf_svd_ratio", 4)),
]


def table_rows(report: Report) -> list[TensorRecord]:
    """The records a table lists: matrices, and tensors that could not be read."""
    return [r for r in report.tensors if r.matrix_shape is not None or r.error]


def shown_columns(rows: list[TensorRecord]) -> list[Column]:
    """The columns at least one of the rows has a value for."""
    return [c for c in COLUMNS if any(c.field in r.metrics for r in rows)]


def shape_text(r: TensorRecord) -> str:
    return "×".join(map(str, r.matrix_shape or r.shape))


def checkpoint_labels(report: Report) -> dict[str, str] | None:
    """File -> the checkpoint path it belongs to, as given, when the report has several
    checkpoints (their rows need telling apart); None for one."""
    if len(report.inputs) < 2:
        return None
    return {f.path: i.path for i in report.inputs for f in i.files}


def analysis_table(report: Report) -> Table:
    rows = table_rows(report)
    shown = shown_columns(rows)
    source = checkpoint_labels(report)
    table = Table(title=None, box=None, header_style="bold", pad_edge=False)
    if source is not None:
        table.add_column("checkpoint", no_wrap=True)
    table.add_column("tensor", overflow="fold", no_wrap=True)
    table.add_column("shape", justify="right", no_wrap=True)
    table.add_column("dtype", no_wrap=True)
    for c in shown:
        table.add_column(c.header, justify=c.justify, no_wrap=True)
    table.add_column("flags", no_wrap=True)
    for r in rows:
        cells: list[str | Text] = []
        for c in shown:
            cells.append(c.cell(r) if c.field in r.metrics else Text("-", style="dim"))
        first = [] if source is None else [Text(visible(source.get(r.file, r.file)))]
        table.add_row(*first, Text(visible(r.name)), shape_text(r), r.dtype, *cells, _flags_cell(r))
    return table


_STYLE = {"warn": "yellow", "bad": "bold red", "info": ""}


def summary_line_text(line: SummaryLine) -> Text:
    """``label: name (note), ...`` with every name and note escaped for the terminal."""
    items = Text(", ").join(Text.assemble(Text(visible(n)), f" ({visible(note, backslash=False)})" if note else "") for n, note in line.items)
    return Text.assemble((f"{line.label}: ", _STYLE[line.level]), items, line.tail)


def summary_text(s: Summary) -> Text:
    """The headline, the flag counts and :func:`~weightlens.render.summary.summary_lines`."""
    head = headline(s)
    lines = [Text(head)]
    lines[0].stylize("bold", 0, head.find(" ("))
    raised = flag_counts(s)
    if raised:
        lines.append(Text(f"flags: {raised}", style="yellow"))
    lines += [summary_line_text(line) for line in summary_lines(s)]
    return Text("\n").join(lines)


def render_table(report: Report, console: Console) -> None:
    """Print the analysis table and summary."""
    body = Group(analysis_table(report), Text(""), summary_text(report.summary))
    print_data(console, body)
