"""Plots of a report: per-matrix spectra and an overview of metrics by layer depth.

matplotlib is an optional extra (``pip install matplotlib``, the ``[plot]`` extra), imported only here and
only when a plot is drawn; :func:`require_matplotlib` turns its absence into a usage error.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from weightlens.__about__ import DISTRIBUTION
from weightlens.errors import OutputError, UsageError, quote
from weightlens.plot.names import checkpoint_labels, stem_list
from weightlens.report.output import atomic_writer
from weightlens.report.records import Report, TensorRecord

INSTALL_HINT = f"matplotlib is not installed: pip install matplotlib (the {DISTRIBUTION}[plot] extra)"
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
            f"{len(missing)} matrices have no singular values in the report (field sigma, first: {quote(missing[0])}): "
            "write it with `weightlens analyze --format json --full-spectrum`, or plot the checkpoint itself"
        )


def iter_figures(report: Report, fmt: str = "png", matrices: bool = True) -> Iterator[tuple[TensorRecord | None, bytes]]:
    """(None, overview) then, with ``matrices``, (record, figure) for each analyzed matrix, as PNG/SVG bytes.

    Raises UsageError when matplotlib is missing, the format is unknown, or (with ``matrices``)
    a matrix has no full spectrum.
    """
    _require_drawable(report, fmt, matrices)
    return _draw(plotted_matrices(report), fmt, matrices)


def _require_drawable(report: Report, fmt: str, matrices: bool) -> None:
    require_matplotlib()
    from weightlens.plot.figures import FORMATS

    if fmt not in FORMATS:
        raise UsageError(f"plot format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if matrices:
        require_spectra(report)


def _draw(records: list[TensorRecord], fmt: str, matrices: bool) -> Iterator[tuple[TensorRecord | None, bytes]]:
    from weightlens.plot.figures import matrix_figure, overview_figure, render

    yield None, render(overview_figure(records), fmt)
    if matrices:
        for r in records:
            yield r, render(matrix_figure(r), fmt)


def checkpoint_groups(report: Report) -> list[tuple[str, list[TensorRecord]]]:
    """The analyzed matrices of each checkpoint of the report, with its subdirectory for figures.

    One checkpoint: ``[("", matrices)]``. Several: one entry per input, labelled by
    :func:`weightlens.plot.names.checkpoint_labels`. Records are in input order (that is how
    a report lists them); a record goes to the first input, from the current one on, that
    holds its file and does not hold its name yet, which also splits a checkpoint given twice.
    """
    records = plotted_matrices(report)
    if len(report.inputs) < 2:
        return [("", records)]
    files = [{f.path for f in i.files} for i in report.inputs]
    groups: list[list[TensorRecord]] = [[] for _ in report.inputs]
    names: list[set[str]] = [set() for _ in report.inputs]
    current = 0
    for r in records:
        fits = [k for k in range(current, len(groups)) if r.file in files[k] and r.name not in names[k]]
        current = fits[0] if fits else current
        groups[current].append(r)
        names[current].add(r.name)
    return list(zip(checkpoint_labels([i.path for i in report.inputs]), groups))


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
    """Write ``overview.<fmt>`` and one ``<tensor>.<fmt>`` per analyzed matrix into ``directory``;
    for a report of several checkpoints, into one subdirectory per checkpoint.

    Parameters
    ----------
    report : an analysis with full spectra (``full_spectrum=True``, or a JSON report written
        with ``--full-spectrum``).
    directory : created if missing.
    fmt : "png" or "svg".
    on_file : called with each path once written (for progress).

    Returns
    -------
    The files written, each once, overview first (per checkpoint). File stems are safe
    derivations of the tensor names (see :func:`weightlens.plot.names.stem_list`), subdirectory
    names of the checkpoint paths (see :func:`checkpoint_groups`).

    Raises
    ------
    UsageError
        When ``directory`` is a file, the format is unknown or a matrix has no spectrum
        (before anything is written).
    OutputError
        When a directory or figure cannot be written; the figures written before it are whole.
    """
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: expected a directory for the plots, got a file")
    _require_drawable(report, fmt, matrices=True)
    written = []
    for label, records in checkpoint_groups(report):
        target = out / label if label else out
        make_directory(target)
        stems = stem_list([r.name for r in records], reserved=(OVERVIEW_STEM,))
        for stem, (_, data) in zip([OVERVIEW_STEM, *stems], _draw(records, fmt, matrices=True)):
            path = target / f"{stem}.{fmt}"
            with atomic_writer(path, binary=True) as f:
                f.write(data)
            written.append(path)
            if on_file is not None:
                on_file(path)
    return written


def written_line(written: list[Path], directory: str | os.PathLike[str]) -> str:
    """"wrote 4 figures to DIR"; with subdirectories (several checkpoints), the count in each:
    "wrote 8 figures to DIR: a/ 4, b/ 4"."""
    line = f"wrote {len(written)} figures to {directory}"
    per_subdirectory = Counter(p.parent.name for p in written if p.parent != Path(directory))
    if not per_subdirectory:
        return line
    return line + ": " + ", ".join(f"{d}/ {n}" for d, n in per_subdirectory.items())


__all__ = ["INSTALL_HINT", "checkpoint_groups", "iter_figures", "plot_report", "plotted_matrices", "require_matplotlib", "require_spectra", "written_line"]
