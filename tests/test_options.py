"""--passes: the default set, 'all', explicit lists and +/- edits of the default."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weightlens.errors import UsageError
from weightlens.passes import DEFAULT_PASSES, PASSES
from weightlens.passes.options import AnalysisOptions, parse_passes


def test_default_is_every_pass_but_nmf() -> None:
    assert parse_passes(None) == parse_passes("") == DEFAULT_PASSES == tuple(p for p in PASSES if p != "nmf")
    assert AnalysisOptions().passes == DEFAULT_PASSES


def test_all_and_edits() -> None:
    assert parse_passes("all") == tuple(PASSES)
    assert parse_passes("+nmf") == tuple(PASSES)
    assert parse_passes("-alpha") == tuple(p for p in DEFAULT_PASSES if p != "alpha")
    assert parse_passes("+nmf,-alpha,-sparsity") == tuple(p for p in PASSES if p not in ("alpha", "sparsity"))
    assert parse_passes("rank, condition") == ("rank", "condition")


@pytest.mark.parametrize("text", ["rank,+nmf", "+bogus", "bogus", "-" + ",-".join(PASSES), "all,rank"])
def test_bad_values_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_passes(text)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("+-"), st.sampled_from(list(PASSES))), min_size=1, max_size=6))
def test_edits_apply_in_order_to_the_default(edits: list[tuple[str, str]]) -> None:
    chosen = set(DEFAULT_PASSES)
    for sign, name in edits:
        (chosen.add if sign == "+" else chosen.discard)(name)
    text = ",".join(sign + name for sign, name in edits)
    if not chosen:
        with pytest.raises(UsageError):
            parse_passes(text)
    else:
        assert parse_passes(text) == tuple(p for p in PASSES if p in chosen)
