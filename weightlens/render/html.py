"""One self-contained HTML file: summary, table, flags, the depth overview and every matrix's spectrum.

Everything is inline — CSS in a <style> element, figures as ``data:`` URIs — and the page
holds no script and no external reference, so it opens offline, as a mail or review attachment,
under a strict Content-Security-Policy. Every tensor name and message is escaped.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterable

from rich.text import Text

from weightlens.__about__ import __version__
from weightlens.plot.names import safe_stems
from weightlens.render.summary import SummaryLine, flag_counts, headline, summary_lines
from weightlens.render.table import flags, shape_text, shown_columns, table_rows
from weightlens.report.records import Report, TensorRecord
from weightlens.text import visible

MIME = {"svg": "image/svg+xml", "png": "image/png"}
IMAGE_FORMAT = "svg"
"""Figures are embedded as SVG: sharp at any zoom, and about the size of a PNG."""

_STYLE_CLASS = {"red": "bad", "bold red": "bad", "yellow": "warn", "dim": "dim"}

CSS = """
:root { color-scheme: light; --fg: #1d2330; --muted: #6b7280; --line: #e5e7eb; --bad: #b91c1c; --warn: #a16207; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 2rem auto; max-width: 1240px; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; }
.meta, .note, .dim { color: var(--muted); } .bad { color: var(--bad); font-weight: 600; } .warn { color: var(--warn); }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; width: 100%; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { text-align: left; position: sticky; top: 0; background: #fff; } td.num, th.num { text-align: right; }
td.name { white-space: normal; } tr:hover td { background: #f8fafc; }
ul.summary { padding-left: 1.2rem; } img { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
details { border: 1px solid var(--line); border-radius: 6px; padding: .4rem .8rem; margin: .4rem 0; }
summary { cursor: pointer; } details[open] summary { margin-bottom: .3rem; }
"""


def styled(value: str | Text) -> str:
    """Escaped HTML of a table cell; rich styles become the classes bad / warn / dim."""
    if isinstance(value, str):
        return html.escape(value)
    cuts = sorted({0, len(value.plain), *(s.start for s in value.spans), *(s.end for s in value.spans)})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        styles = [str(value.style)] if value.style else []
        styles += [str(s.style) for s in value.spans if s.start <= a and b <= s.end]
        classes = sorted({_STYLE_CLASS[s] for s in styles if s in _STYLE_CLASS})
        piece = html.escape(value.plain[a:b])
        out.append(f'<span class="{" ".join(classes)}">{piece}</span>' if classes else piece)
    return "".join(out)


def name_html(name: str) -> str:
    """A tensor name as HTML text: escaped by :func:`visible`, then for HTML."""
    return html.escape(visible(name))


def text_html(text: str) -> str:
    """A path or message as HTML text: control characters as escapes, then escaped for HTML."""
    return html.escape(visible(text, backslash=False))


def _img(data: bytes, fmt: str, alt: str) -> str:
    uri = f"data:{MIME[fmt]};base64,{base64.b64encode(data).decode('ascii')}"
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _summary_item(line: SummaryLine) -> str:
    items = ", ".join(f"<code>{name_html(n)}</code>" + (f" ({text_html(note)})" if note else "") for n, note in line.items)
    cls = {"bad": ' class="bad"', "warn": ' class="warn"'}.get(line.level, "")
    return f"<li><span{cls}>{html.escape(line.label)}</span>: {items}{html.escape(line.tail)}</li>"


def _table(report: Report, anchors: dict[str, str]) -> str:
    rows = table_rows(report)
    if not rows:
        return '<p class="note">No matrices.</p>'
    columns = shown_columns(rows)
    head = ["<th>tensor</th>", '<th class="num">shape</th>', "<th>dtype</th>"]
    head += [f'<th class="{"num" if c.justify == "right" else ""}">{html.escape(c.header)}</th>' for c in columns]
    head.append("<th>flags</th>")
    body = []
    for r in rows:
        name = f"<code>{name_html(r.name)}</code>"
        if r.name in anchors:
            name = f'<a href="#{anchors[r.name]}">{name}</a>'
        cells = [f'<td class="name">{name}</td>', f'<td class="num">{shape_text(r)}</td>', f"<td>{html.escape(r.dtype)}</td>"]
        for c in columns:
            value = styled(c.cell(r)) if c.field in r.metrics else '<span class="dim">-</span>'
            cells.append(f'<td class="{"num" if c.justify == "right" else ""}">{value}</td>')
        cells.append("<td>" + ", ".join(styled(Text(f, style=s)) for f, s in flags(r)) + "</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if any(c.field == "alpha" for c in columns):
        note = '<p class="note">α: power-law exponent of the eigenvalue tail (≈2 well trained, &lt;2 over-fit, &gt;6 under-trained); "?": the fit is not good (few tail points or a poor KS fit).</p>'
    return f"<table><thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def _matrix_summary(r: TensorRecord) -> str:
    bits = [shape_text(r), r.dtype]
    if r.get("numerical_rank") is not None:
        bits.append(f"rank {r['numerical_rank']}/{min(r.matrix_shape or (0, 0))}")
    if r.get("alpha") is not None:
        bits.append(f"α {r['alpha']:.2f} ({str(r['alpha_quality']).replace('_', ' ')})")
    return f"<code>{name_html(r.name)}</code> <span class=\"dim\">{html.escape(', '.join(bits))}</span>"


def render_html(report: Report, figures: Iterable[tuple[TensorRecord | None, bytes]], fmt: str = IMAGE_FORMAT, note: str | None = None) -> str:
    """The page, given the figures of :func:`weightlens.plot.iter_figures` (overview first).

    ``note`` is shown under the overview (e.g. why per-matrix plots are missing).
    """
    s = report.summary
    overview = ""
    sections = []
    stems = safe_stems(r.name for r in report.tensors)
    anchors: dict[str, str] = {}
    for record, data in figures:
        if record is None:
            overview = _img(data, fmt, "metrics by layer depth")
        else:
            anchor = "m-" + stems[record.name]
            anchors[record.name] = anchor
            sections.append(f'<details id="{html.escape(anchor)}"><summary>{_matrix_summary(record)}</summary>{_img(data, fmt, "spectrum of " + visible(record.name))}</details>')
    inputs = ", ".join(f"<code>{text_html(i.path)}</code>" for i in report.inputs) or "a saved report"
    raised = flag_counts(s)
    summary = [f"<p><strong>{html.escape(headline(s))}</strong></p>"]
    if raised:
        summary.append(f'<p class="warn">flags: {html.escape(raised)}</p>')
    lines = summary_lines(s)
    if lines:
        summary.append('<ul class="summary">' + "".join(_summary_item(ln) for ln in lines) + "</ul>")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        f"<title>weightlens report: {text_html(', '.join(i.path for i in report.inputs) or 'saved report')}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>weightlens report</h1>",
        f'<p class="meta">{inputs} · weightlens {html.escape(__version__)}</p>',
        "<h2>Summary</h2>",
        *summary,
        "<h2>Metrics by layer depth</h2>",
        overview or '<p class="note">No analyzed matrices.</p>',
        f'<p class="note">{text_html(note)}</p>' if note else "",
        "<h2>Matrices</h2>",
        _table(report, anchors),
    ]
    if sections:
        parts += ["<h2>Spectra</h2>", '<p class="note">Left: singular values σᵢ (log-log) with the 90 % / 99 % energy ranks and the numerical-rank tolerance. Right: density of λ = σ² with the fitted power-law tail.</p>', *sections]
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p) + "\n"


def html_report(report: Report, on_figure: Callable[[TensorRecord | None], None] | None = None) -> str:
    """The self-contained HTML page of a report, figures drawn here (needs matplotlib).

    Per-matrix spectra need the full spectrum of every matrix (``full_spectrum=True``); without
    it the page has the overview, the table and a note saying so.
    """
    from weightlens.errors import UsageError
    from weightlens.plot import iter_figures, require_spectra

    try:
        require_spectra(report)
        with_spectra, note = True, None
    except UsageError:
        with_spectra = False
        note = "Per-matrix spectra are not shown: the report was saved without --full-spectrum."

    def tracked() -> Iterable[tuple[TensorRecord | None, bytes]]:
        for record, data in iter_figures(report, IMAGE_FORMAT, matrices=with_spectra):
            if on_figure is not None:
                on_figure(record)
            yield record, data

    return render_html(report, tracked(), IMAGE_FORMAT, note)
