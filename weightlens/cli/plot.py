"""``weightlens plot``: per-matrix spectra and the depth overview as PNG or SVG files."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

from weightlens.cli.common import EXCLUDE, INCLUDE, QUIET, guard_directory, progress_bar
from weightlens.cli.source import report_from
from weightlens.errors import InputError, UsageError
from weightlens.passes.options import AnalysisOptions
from weightlens.plot import plot_report, plotted_matrices, require_matplotlib, require_spectra, written_line
from weightlens.text import visible


class ImageFormat(str, Enum):
    png = "png"
    svg = "svg"


def plot_cmd(
    paths: list[Path] = typer.Argument(..., help="Checkpoints, or one JSON report saved with `analyze --format json --full-spectrum`.", show_default=False),
    output: Path = typer.Option(..., "--output", "-o", metavar="DIR", help="Directory for the figures (created if missing).", show_default=False),
    format: ImageFormat = typer.Option(ImageFormat.png, "--format", "-f", help="png or svg."),
    include: list[str] = INCLUDE,
    exclude: list[str] = EXCLUDE,
    quiet: bool = QUIET,
) -> None:
    """Draw each matrix's spectrum and the metrics by layer depth (PNG or SVG).

    Per matrix: the singular-value decay (log-log) with the energy ranks and the rank tolerance,
    and the eigenvalue density with the fitted power-law tail. Writes DIR/overview.<format> and one DIR/<tensor>.<format> per matrix;
    for several checkpoints, the same in one subdirectory per checkpoint, named by the parts of
    their paths that differ (a/m.safetensors b/m.safetensors: DIR/a/, DIR/b/). Needs matplotlib:
    pip install matplotlib (the weightlens-health[plot] extra).
    """
    require_matplotlib()
    options = AnalysisOptions(full_spectrum=True, include=tuple(include), exclude=tuple(exclude))
    report, from_file = report_from(paths, options, quiet, opened=lambda: guard_directory(output, f".{format.value}"))
    if from_file:
        try:
            require_spectra(report)
        except UsageError as e:
            raise InputError(paths[0], str(e)) from None
    with progress_bar(len(plotted_matrices(report)) + 1, quiet, label="plotting") as advance:
        written = plot_report(report, output, format.value, on_file=lambda p: advance(p.name))
    if not quiet:
        print(visible(written_line(written, output), backslash=False), file=sys.stderr)
    if report.summary.errors:
        raise typer.Exit(1)
