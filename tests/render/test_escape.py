"""visible(): every character that could act on a terminal or a CI log becomes an escape, reversibly."""

from __future__ import annotations

import re
import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from weightlens.text import visible

HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
HOSTILE = ["\x1b", "\x07", "\x00", "\r", "\n", "\b", "\t", "\x7f", "\x9b", "\x85", "\u202e", "\u2066", "\u200b",
           "\ufeff", "\u2028", "\u00a0", "\ud800", "\udcff", "\\", ":", "::", "#", "##[", "[", " ", "x", "σ", "é", "😀"]
NAMES = st.lists(st.sampled_from(HOSTILE) | st.characters(), max_size=12).map("".join)
N_EXAMPLES = 400


def unescape(text: str) -> str:
    """The inverse of visible(): read its escapes back."""
    return re.sub(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})", lambda m: "\\" if m[1] == "\\" else chr(int(m[1][1:], 16)), text)


def hidden(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat in HIDDEN_CATEGORIES or (cat == "Zs" and ch != " ")


@settings(derandomize=True, max_examples=N_EXAMPLES, deadline=None)
@given(NAMES)
def test_visible_is_reversible_and_shows_nothing_hidden(name: str) -> None:
    shown = visible(name)
    assert unescape(shown) == name
    assert not any(hidden(ch) for ch in shown)
    assert not shown.lstrip(" ").startswith("::") and "##[" not in shown
    shown.encode("utf-8")  # no lone surrogate left


@settings(derandomize=True, max_examples=N_EXAMPLES // 2, deadline=None)
@given(NAMES, NAMES)
def test_distinct_names_look_distinct(a: str, b: str) -> None:
    assert (visible(a) == visible(b)) == (a == b)


def test_every_hidden_code_point_of_this_unicode_is_escaped() -> None:
    chars = [chr(cp) for cp in range(sys.maxunicode + 1) if hidden(chr(cp))]
    assert len(chars) > 2000  # C0, C1, Cf, surrogates, ...
    missed = [f"U+{ord(c):04X}" for c in chars if visible(c) == c]
    assert not missed


def test_examples() -> None:
    assert visible("a\x1b]0;title\x07b") == "a\\x1b]0;title\\x07b"
    assert visible("w\ud800") == "w\\ud800"
    assert visible("bidi\u202egnp.exe") == "bidi\\u202egnp.exe"
    assert visible("back\\slash") == "back\\\\slash"
    assert visible("::error::x") == "\\x3a:error::x" and visible("  ::x") == "  \\x3a:x"
    assert visible("a::b") == "a::b" and visible("x##[error]y") == "x##\\x5berror]y"
    assert visible("a\\x1b", backslash=False) == "a\\x1b" and visible("a\x1b", backslash=False) == "a\\x1b"
    assert visible("model.layers.0.σ×é") == "model.layers.0.σ×é"
