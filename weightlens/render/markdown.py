"""GitHub-flavoured Markdown for a pull-request comment: the analysis table and summary, a
diff's table and summary, or a check's violations.

Tensor names are code spans, which GitHub renders literally: no emphasis, links, @-mentions,
emoji or math can come out of a name. Inside a table cell a ``|`` still ends the cell, even
in a code span, so it is written ``\\|`` there (GFM spec, "Tables"). Names are escaped by
:func:`~weightlens.text.visible` first: a name cannot break a line of the table, nor
carry a terminal sequence or a bidi override into the comment.
"""

from __future__ import annotations

import re

from rich.text import Text

from weightlens.check.result import CheckResult
from weightlens.check.rules import RULES_BY_NAME
from weightlens.pipeline.diff import DiffReport
from weightlens.render.diff import diff_dtype, diff_headline, diff_rows, diff_shape, diff_summary_lines, notes, shown_diff_columns
from weightlens.render.summary import SummaryLine, flag_counts, headline, summary_lines
from weightlens.render.table import checkpoint_labels, flags, shape_text, shown_columns, table_rows
from weightlens.report.records import Report
from weightlens.text import visible

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~$&@])")
ALPHA_NOTE = "α: power-law exponent of the eigenvalue tail; `?`: the fit is not good (few tail points or a poor KS fit)."


def text(s: str) -> str:
    """Plain text (not at the start of a line) with the characters that could format, link,
    mention or open HTML backslash-escaped, control characters shown as escapes."""
    return _SPECIAL.sub(r"\\\1", visible(s, backslash=False))


def code(name: str, in_table: bool = False) -> str:
    """A tensor name as a code span that shows it literally.

    The fence is one backtick longer than the longest run inside the name, padded with a space
    when the name starts or ends with a backtick or a space (CommonMark strips one of each).
    """
    name = visible(name)
    if not name:
        return "` `"  # the empty name: a code span cannot be empty
    if in_table:
        name = name.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", name)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if name[0] in "` " or name[-1] in "` " else ""
    return f"{fence}{pad}{name}{pad}{fence}"


def _cell(value: str | Text) -> str:
    return str(value).replace("|", "\\|")


def _line(line: SummaryLine) -> str:
    items = ", ".join(code(n) + (f" ({text(note)})" if note else "") for n, note in line.items)
    return f"- {text(line.label)}: {items}{line.tail}"


def render_markdown(report: Report) -> str:
    """The report as a Markdown table (one row per matrix) followed by its summary."""
    rows = table_rows(report)
    columns = shown_columns(rows)
    s = report.summary
    out = [f"### weightlens: {text(headline(s))}", ""]
    if rows:
        source = checkpoint_labels(report)
        first = [] if source is None else ["checkpoint"]
        header = [*first, "tensor", "shape", "dtype", *(c.header for c in columns), "flags"]
        align = [*(":--" for _ in first), ":--", "--:", ":--", *("--:" if c.justify == "right" else ":--" for c in columns), ":--"]
        out.append("| " + " | ".join(header) + " |")
        out.append("| " + " | ".join(align) + " |")
        for r in rows:
            cells = [c.cell(r) if c.field in r.metrics else "-" for c in columns]
            where = [] if source is None else [code(source.get(r.file, r.file), in_table=True)]
            line = [*where, code(r.name, in_table=True), shape_text(r), r.dtype, *map(_cell, cells), _cell(", ".join(f for f, _ in flags(r)))]
            out.append("| " + " | ".join(line) + " |")
        out.append("")
        if any(c.field == "alpha" for c in columns):
            out += [ALPHA_NOTE, ""]
    raised = flag_counts(s)
    if raised:
        out.append(f"**flags:** {text(raised)}")
        out.append("")
    lines = summary_lines(s)
    shown = [ln for ln in lines if not ln.label.startswith("not analyzed")]
    hidden = [ln for ln in lines if ln.label.startswith("not analyzed")]
    out += [_line(ln) for ln in shown]
    if hidden:
        n = sum(len(ln.items) + ln.more for ln in hidden)
        out += ["", f"<details><summary>{n} tensors not analyzed</summary>", "", *(_line(ln) for ln in hidden), "", "</details>"]
    return "\n".join(out).rstrip("\n") + "\n"


def render_diff_markdown(report: DiffReport) -> str:
    """A diff as Markdown: the rows and columns of its table (identical pairs counted, not
    listed), then its summary lines."""
    rows = diff_rows(report)
    columns = shown_diff_columns(report, rows)
    out = [f"### weightlens diff: {text(diff_headline(report))}", ""]
    if rows:
        header = ["tensor", "shape", "dtype", *(c.header for c in columns), "notes"]
        align = [":--", "--:", ":--", *("--:" if c.justify == "right" else ":--" for c in columns), ":--"]
        out.append("| " + " | ".join(header) + " |")
        out.append("| " + " | ".join(align) + " |")
        for r in rows:
            cells = [c.cell(r) if c.field in r.metrics else "-" for c in columns]
            line = [code(r.name, in_table=True), diff_shape(r), diff_dtype(r), *map(_cell, cells), _cell(text(", ".join(n for n, _ in notes(r))))]
            out.append("| " + " | ".join(line) + " |")
        out.append("")
    out += [_line(ln) for ln in diff_summary_lines(report)]
    return "\n".join(out).rstrip("\n") + "\n"


def render_check_markdown(result: CheckResult) -> str:
    """A check as Markdown: its final line as a heading, then one table row per violation and
    the checks that could not be evaluated (folded)."""
    mark = "✅" if result.passed else "❌"
    out = [f"### weightlens check {mark} {text(result.summary_line())}", ""]
    if result.violations:
        out += ["| tensor | rule | value | limit |", "| :-- | :-- | --: | --: |"]
        for v in result.violations:
            limit = RULES_BY_NAME[v.rule].format_limit(v.limit)
            out.append(f"| {code(v.tensor, in_table=True)} | {_cell(v.rule)} | {_cell(text(v.found))} | {_cell(text(limit))} |")
        out.append("")
    if result.skipped:
        out += [f"<details><summary>{len(result.skipped)} checks not evaluated</summary>", ""]
        out += [f"- {code(o.tensor)}: {text(o.rule)}, {text(o.message)}" for o in result.skipped]
        out += ["", "</details>"]
    return "\n".join(out).rstrip("\n") + "\n"
