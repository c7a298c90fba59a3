"""``weightlens report``: one self-contained HTML file to open or attach to a review."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from weightlens.cli.common import EXCLUDE, INCLUDE, QUIET, guard_output, progress_bar
from weightlens.cli.source import report_from
from weightlens.passes.options import AnalysisOptions
from weightlens.plot import plotted_matrices, require_matplotlib
from weightlens.render.html import html_report
from weightlens.report.output import atomic_writer
from weightlens.text import visible


def report_cmd(
    paths: list[Path] = typer.Argument(..., help="Checkpoints, or one JSON report saved with `analyze --format json` (add --full-spectrum for per-matrix spectra).", show_default=False),
    output: Path = typer.Option(..., "--output", "-o", help="The HTML file to write (atomically).", show_default=False),
    include: list[str] = INCLUDE,
    exclude: list[str] = EXCLUDE,
    quiet: bool = QUIET,
) -> None:
    """Write one self-contained HTML report to open or attach to a review.

    Summary, flags, the table, the metrics by layer depth and every matrix's spectrum, figures
    embedded; no scripts, no external links.

    Needs matplotlib: pip install matplotlib (the weightlens-health[plot] extra).
    """
    require_matplotlib()
    options = AnalysisOptions(full_spectrum=True, include=tuple(include), exclude=tuple(exclude))
    report, _ = report_from(paths, options, quiet, opened=lambda: guard_output(output, paths))
    with progress_bar(len(plotted_matrices(report)) + 1, quiet, label="plotting") as advance:
        page = html_report(report, on_figure=lambda r: advance("overview" if r is None else r.name))
    with atomic_writer(output) as f:
        f.write(page)
    if not quiet:
        print(f"wrote {visible(str(output), backslash=False)} ({len(page.encode()) / 2**20:.1f} MiB)", file=sys.stderr)
    if report.summary.errors:
        raise typer.Exit(1)
