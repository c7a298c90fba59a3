"""Consoles for data (stdout or a file) and messages (stderr).

Rich already honours NO_COLOR and drops colour when the output is not a terminal; what it
does not do on its own is keep long tensor names whole — in a pipe it assumes 80 columns, on a
terminal it crops to the width (and prints nothing at all with COLUMNS=0) — nor leave out the
spaces that pad the last column. :func:`print_data` does both: a table is as wide as it needs,
and a terminal narrower than that wraps its lines rather than losing part of a name.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import IO

from rich.console import Console, RenderableType
from rich.measure import Measurement

from weightlens.text import char_escape, output_encoding

ASCII_SPELLINGS = {
    "σ": "sigma", "κ": "kappa", "α": "alpha", "λ": "lambda", "Δ": "Delta", "ᵢ": "i", "×": "x", "≤": "<=", "≥": ">=",
    "≈": "~", "→": "->", "‖": "||", "·": "*", "…": "...", "∞": "inf", "±": "+-", "²": "^2", "—": "-", "–": "-",
    "✅": "[pass]", "❌": "[fail]",
}  # fmt: skip
"""How the symbols of weightlens' tables and messages are written where the output encoding lacks them."""
ASCII_ERRORS = "weightlens-ascii"
"""The codec error handler that writes them so; any other character the encoding lacks becomes
an escape (``\\uNNNN``), as :func:`~weightlens.text.visible` writes hidden ones."""


def _spell(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(ASCII_SPELLINGS.get(ch) or char_escape(ch) for ch in text), error.end


codecs.register_error(ASCII_ERRORS, _spell)


def non_utf8_encoding(stream: IO[str]) -> str | None:
    """The stream's encoding when it is not a UTF (``PYTHONIOENCODING=latin-1``, a C locale), else None."""
    encoding = codecs.lookup(getattr(stream, "encoding", None) or "utf-8").name
    return None if encoding.startswith("utf") else encoding


@contextmanager
def ascii_fallback(stdout: IO[str], stderr: IO[str]) -> Iterator[None]:
    """Within the block, streams whose encoding is not UTF-8 write what they cannot encode as
    ASCII spellings (σ1 as sigma1, κ as kappa, ≤ as <=) instead of raising UnicodeEncodeError,
    and names are escaped for stdout's encoding (:func:`~weightlens.text.output_encoding`).
    JSON and JUnit output are pure ASCII and need neither."""
    for stream in (stdout, stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if non_utf8_encoding(stream) and reconfigure is not None:
            reconfigure(errors=ASCII_ERRORS)
    encoding = non_utf8_encoding(stdout)
    with output_encoding(encoding) if encoding else nullcontext():
        yield


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
