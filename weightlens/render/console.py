"""Consoles for data (stdout or a file) and messages (stderr).

Rich already honours NO_COLOR and drops colour when the output is not a terminal; what it
does not do on its own is keep long tensor names whole — in a pipe it assumes 80 columns, on a
terminal it crops to the width (and prints nothing at all with COLUMNS=0) — nor leave out the
spaces that pad the last column. :func:`print_data` does both: a table is as wide as it needs,
and a terminal narrower than that wraps its lines rather than losing part of a name.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console, RenderableType
from rich.measure import Measurement


def data_console(file: IO[str] | None = None) -> Console:
    """Console for results: stdout by default; no syntax highlighting of numbers."""
    return Console(file=file or sys.stdout, highlight=False, soft_wrap=False)


def message_console(quiet: bool = False) -> Console:
    """Console for progress and notes: stderr; silent with ``quiet``."""
    return Console(stderr=True, highlight=False, quiet=quiet)


def fit_width(console: Console, renderable: RenderableType) -> None:
    """Widen the console so that ``renderable`` needs no wrapping, nor cropping."""
    unbounded = console.options.update(max_width=1 << 20)
    console.width = max(console.width, Measurement.get(console, unbounded, renderable).maximum)


def print_data(console: Console, renderable: RenderableType) -> None:
    """Print a table-like renderable as wide as it needs; in a pipe or file, lines right-stripped."""
    fit_width(console, renderable)
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    console.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
