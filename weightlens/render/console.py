"""Consoles for data (stdout or a file) and messages (stderr).

Rich already honours NO_COLOR and drops colour when the output is not a terminal; what it
does not do on its own is keep long tensor names whole in a pipe, where it assumes 80
columns, nor leave out the spaces that pad the last column. :func:`print_data` does both.
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
    """In a pipe or file, widen the console so that ``renderable`` needs no wrapping."""
    if not console.is_terminal:
        unbounded = console.options.update(max_width=1 << 20)
        console.width = max(console.width, Measurement.get(console, unbounded, renderable).maximum)


def print_data(console: Console, renderable: RenderableType) -> None:
    """Print a table-like renderable; in a pipe or file as wide as it needs, lines right-stripped."""
    if console.is_terminal:
        console.print(renderable)
        return
    fit_width(console, renderable)
    with console.capture() as captured:
        console.print(renderable)
    console.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
