"""LinearPattern: re.match's answer on every regular pattern, in linear time; the rest rejected."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weightlens.checkpoint.regex import MAX_SUBJECT, LinearPattern, RegexRejected

ATOMS = ["a", "b", "A", ".", "\\.", "[ab]", "[^a]", "[a-b1]", "\\d", "\\w", "\\W", "\\s", "\\b", "\\B", "^", "$", "\\A", "\\Z", "(?i:a)", ""]
QUANTIFIERS = ["*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "{0,2}?", "{2,}"]
NOT_REGULAR = ["(a)\\1", "(?P<n>a)(?P=n)", "(?=a)", "(?!b)", "(?<=a)", "(?<!b)", "(?>a+)", "a*+", "a++", "(a)(?(1)a|b)"]
SUBJECT = st.text(alphabet="ab1A._ \n", max_size=8)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        pair.map("".join),
        pair.map(lambda t: f"(?:{t[0]}|{t[1]})"),
        pair.map(lambda t: f"({t[0]}|{t[1]})"),
        st.tuples(inner, st.sampled_from(QUANTIFIERS)).map(lambda t: f"(?:{t[0]}){t[1]}"),
        st.tuples(inner, st.sampled_from(QUANTIFIERS)).map(lambda t: f"({t[0]}){t[1]}"),
    )


PATTERN = st.recursive(st.sampled_from(ATOMS), _extend, max_leaves=8)


@settings(derandomize=True, max_examples=600, deadline=None)
@given(PATTERN, st.lists(SUBJECT, min_size=1, max_size=6), st.booleans())
def test_same_answer_as_re_match(pattern: str, subjects: list[str], peft: bool) -> None:
    """On generated regular patterns (nested repeats, alternations, anchors, classes, inline
    flags), alone and wrapped as PEFT wraps a rank_pattern key, the answer is re.match's."""
    if peft:
        pattern = rf"(.*\.)?({pattern})$"
    lp = LinearPattern(pattern)
    for s in subjects:
        assert lp.match(s) == (re.match(pattern, s) is not None), (pattern, s)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(PATTERN, st.sampled_from(NOT_REGULAR), st.booleans())
def test_constructs_that_need_backtracking_are_rejected(pattern: str, construct: str, before: bool) -> None:
    combined = construct + pattern if before else pattern + construct
    re.compile(combined)  # valid Python: the rejection is ours
    with pytest.raises(RegexRejected, match="only a backtracking matcher can run"):
        LinearPattern(rf"(.*\.)?({combined})$")


PATHOLOGICAL = st.one_of(
    st.tuples(st.sampled_from(["a", "a|a", "a|aa", "a?", ".", "\\w", "[ab]"]), st.sampled_from("*+"), st.sampled_from("*+")).map(lambda t: f"(({t[0]}){t[1]}){t[2]}b"),
    st.integers(2, 60).map(lambda k: ".*" * k + "x"),
    st.integers(2, 40).map(lambda k: "(a|a)" * k + "c"),
    st.integers(2, 30).map(lambda k: "(a*)*" * k + "[^a]"),
)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(PATHOLOGICAL, st.integers(20, MAX_SUBJECT - 10))
def test_catastrophic_patterns_finish_fast_with_re_s_answer(key: str, n: int) -> None:
    """Patterns that take re exponential (or n^60) time on a long non-matching name finish in
    well under a second here; on a short name (where re is quick) the answers agree."""
    pattern = rf"(.*\.)?({key})$"
    lp = LinearPattern(pattern)
    name = "model." + "a" * n
    start = time.perf_counter()
    assert lp.match(name) is False
    assert time.perf_counter() - start < 1.0
    for short in ("aab", "a.b", "ax", "aac", "b"):  # short enough for re, even on .* × 60
        assert lp.match(short) == (re.match(pattern, short) is not None)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("x{5000}", "repeats an item more than 2000 times"),
        ("(?:a{1000}){1000}", "exceeds 2000 states"),
        ("(" * 70 + ")" * 70, "more than 64 deep"),
        ("((((){999}){999}){999}){999}", "expand to too many items"),
        ("a" * 300, "more than 256"),
        ("(", "not a regular expression"),
    ],
)
def test_oversized_or_invalid_patterns_are_rejected(pattern: str, reason: str) -> None:
    with pytest.raises(RegexRejected, match=re.escape(reason)):
        LinearPattern(pattern)


def test_subject_length_is_capped_and_patterns_pickle() -> None:
    import pickle

    lp = pickle.loads(pickle.dumps(LinearPattern(r"(.*\.)?(q_proj)$")))
    assert lp.match("a" * (MAX_SUBJECT - 7) + ".q_proj")
    with pytest.raises(RegexRejected, match="longer than the 1024"):
        lp.match("a" * (MAX_SUBJECT + 1))
