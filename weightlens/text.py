"""Text for a human medium (a terminal, a CI log, a Markdown or HTML page): untrusted strings
shown so that they can neither act on the medium nor pass for something else.

A tensor name comes from whoever wrote the checkpoint. Printed raw, ESC starts terminal
sequences (window titles, OSC 8 hyperlinks, cursor moves), CR and BS overwrite what was
printed, a newline starts a line GitHub Actions reads as a workflow command, and bidi overrides
reorder what the reader sees. :func:`visible` writes all of these as escapes instead.

This module imports nothing from weightlens: every layer may use it (``errors.py`` quotes names
in messages with it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_HIDDEN = re.compile(
    "["
    "\x00-\x1f\x7f-\x9f"  # C0 controls, DEL, C1 controls
    "\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"  # spaces other than U+0020: look like one
    "\u2028\u2029"  # line and paragraph separators
    # format characters (category Cf): soft hyphen, zero-width, bidi embeddings, overrides and
    # isolates, invisible operators, BOM, interlinear annotation, tags
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
    "\ud800-\udfff"  # lone surrogates (a JSON header can name one; no encoder can write it)
    "\ufffe\uffff"  # noncharacters that XML 1.0 forbids
    "]"
)
_HIDDEN_OR_BACKSLASH = re.compile(_HIDDEN.pattern[:1] + "\\\\" + _HIDDEN.pattern[1:])
_OUTPUT_ENCODING: ContextVar[str | None] = ContextVar("weightlens_output_encoding", default=None)
_LEGACY_COMMAND = re.compile(r"##\[")
"""The Actions runner also executes ``##[command]`` found anywhere in a log line."""


def char_escape(ch: str) -> str:
    """``\\\\`` for a backslash, else ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN`` (Python's spelling)."""
    cp = ord(ch)
    if ch == "\\":
        return "\\\\"
    if cp < 0x100:
        return f"\\x{cp:02x}"
    return f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def visible(text: str, backslash: bool = True) -> str:
    """``text`` with every character that could act on or spoof a terminal line written as an escape.

    Escaped: C0 controls (NUL, BS, TAB, LF, CR, ESC, ...), DEL, C1 controls (U+0080–U+009F),
    format characters (bidi overrides and isolates U+202A–U+202E, U+2066–U+2069, zero-width
    characters, BOM, ...), line/paragraph separators, spaces other than U+0020, lone
    surrogates, U+FFFE/U+FFFF (which XML cannot carry), and whatever else ``str.isprintable``
    rejects (unassigned and private-use code points, newer format characters) — as ``\\xNN``, ``\\uNNNN`` or
    ``\\UNNNNNNNN``. With ``backslash`` (for names) a backslash is written ``\\\\``, so that the escaping is unambiguous: the original is
    recovered by reading the result as a Python string literal, and two different names never
    look the same.

    The result never contains a line break, never starts (after spaces) with ``::`` — the first
    ``:`` is then written ``\\x3a`` — and never contains ``##[``, written ``##\\x5b``: a line of
    a CI log that begins with a name, or contains one, is not a GitHub Actions workflow command.

    ``backslash=False`` is for messages whose quoted names are already escaped (see
    :func:`weightlens.errors.quote`): controls still become escapes, backslashes stay.

    Within :func:`output_encoding`, characters that encoding lacks are escaped too.
    """
    out = (_HIDDEN_OR_BACKSLASH if backslash else _HIDDEN).sub(lambda m: char_escape(m.group()), text)
    if not out.isprintable():  # unassigned and private-use code points: no font shows them as what they are
        out = "".join(ch if ch.isprintable() or ch == " " else char_escape(ch) for ch in out)
    encoding = _OUTPUT_ENCODING.get()
    if encoding is not None and not out.isascii():
        out = "".join(ch if ch.isascii() or _encodable(ch, encoding) else char_escape(ch) for ch in out)
    out = _LEGACY_COMMAND.sub(r"##\\x5b", out)
    start = len(out) - len(out.lstrip(" "))
    if out.startswith("::", start):
        out = out[:start] + "\\x3a" + out[start + 1 :]
    return out


def _encodable(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@contextmanager
def output_encoding(encoding: str) -> Iterator[None]:
    """Within the block, :func:`visible` also escapes what ``encoding`` cannot write: on a
    latin-1 stdout a name keeps its é but shows σ as ``\\u03c3``, so that the ASCII spellings
    the stream gives weightlens' own symbols (σ1 as sigma1) never make two names look alike."""
    token = _OUTPUT_ENCODING.set(encoding)
    try:
        yield
    finally:
        _OUTPUT_ENCODING.reset(token)
