"""Plots of a report: per-matrix spectra and an overview of metrics by layer depth.

matplotlib is an optional extra (``pip install 'weightlens[plot]'``), imported only here and
only when a plot is drawn; :func:`require_matplotlib` turns its absence into a usage error.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from weightlens.errors import OutputError, UsageError
from weightlens.output import atomic_writer
from weightlens.report import Report, TensorRecord

INSTALL_HINT = "matplotlib is not installed: pip install 'weightlens[plot]'"
OVERVIEW_STEM = "overview"


def require_matplotlib() -> None:
    """Import matplotlib with the non-interactive Agg backend, or raise UsageError with the install hint."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    matplotlib.use("Agg")


def plotted_matrices(report: Report) -> list[TensorRecord]:
    """The analyzed matrices, in report order."""
    return [r for r in report.tensors if r.analyzed]


def require_spectra(report: Report) -> None:
    """Raise UsageError unless every analyzed matrix carries its full spectrum (field ``sigma``)."""
    missing = [r.name for r in plotted_matrices(report) if "sigma" not in r.metrics]
    if missing:
        raise UsageError(
            f"{len(missing)} matrices have no singular values in the report (field sigma, first: {missing[0]!r}): "
            "write it with `weightlens analyze --format json --full-spectrum`, or plot the checkpoint itself"
        )


def iter_figures(report: Report, fmt: str = "png", matrices: bool = True) -> Iterator[tuple[TensorRecord | None, bytes]]:
    """(None, overview) then, with ``matrices``, (record, figure) for each analyzed matrix, as PNG/SVG bytes.

    Raises UsageError when matplotlib is missing, the format is unknown, or (with ``matrices``)
    a matrix has no full spectrum.
    """
    require_matplotlib()
    from weightlens.plot.figures import FORMATS, matrix_figure, overview_figure, render

    if fmt not in FORMATS:
        raise UsageError(f"plot format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if matrices:
        require_spectra(report)
    records = plotted_matrices(report)
    yield None, render(overview_figure(records), fmt)
    if matrices:
        for r in records:
            yield r, render(matrix_figure(r), fmt)


def make_directory(path: Path) -> None:
    """Create ``path`` and its parents (OutputError when that fails: read-only, a file in the way ...)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(path, f"cannot create the directory: {e.strerror or e}") from None


def plot_report(
    report: Report,
    directory: str | os.PathLike[str],
    fmt: str = "png",
    on_file: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write ``overview.<fmt>`` and one ``<tensor>.<fmt>`` per analyzed matrix into ``directory``.

    Parameters
    ----------
    report : an analysis with full spectra (``full_spectrum=True``, or a JSON report written
        with ``--full-spectrum``).
    directory : created if missing.
    fmt : "png" or "svg".
    on_file : called with each path once written (for progress).

    Returns
    -------
    The files written, overview first. File stems are safe derivations of the tensor names
    (see :func:`weightlens.plot.names.safe_stems`).
    """
    from weightlens.plot.names import safe_stems

    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: expected a directory for the plots, got a file")
    figures = iter_figures(report, fmt)
    first = next(figures)  # validates before anything is created
    make_directory(out)
    stems = safe_stems((r.name for r in plotted_matrices(report)), reserved=(OVERVIEW_STEM,))
    written = []
    for record, data in itertools.chain([first], figures):
        path = out / f"{OVERVIEW_STEM if record is None else stems[record.name]}.{fmt}"
        with atomic_writer(path, binary=True) as f:
            f.write(data)
        written.append(path)
        if on_file is not None:
            on_file(path)
    return written


__all__ = ["INSTALL_HINT", "iter_figures", "plot_report", "plotted_matrices", "require_matplotlib", "require_spectra"]
