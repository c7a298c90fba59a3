"""Layer depth and series from tensor names; safe, distinct file stems."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weightlens.plot.names import MAX_STEM, layer_index, safe_stems, series_key


@pytest.mark.parametrize(
    ("name", "index", "key"),
    [
        ("model.layers.12.self_attn.q_proj.weight", 12, "model.layers.*.self_attn.q_proj.weight"),
        ("transformer.h.3.attn.c_attn.weight", 3, "transformer.h.*.attn.c_attn.weight"),
        ("blocks.0.mlp.fc1.weight", 0, "blocks.*.mlp.fc1.weight"),
        ("encoder.layer.7.attention.self.query.weight", 7, "encoder.layer.*.attention.self.query.weight"),
        ("decoder.block.2.layer.1.DenseReluDense.wi.weight", 2, "decoder.block.*.layer.1.DenseReluDense.wi.weight"),
        ("lm_head.weight", None, "lm_head.weight"),
        ("model.embed_tokens.weight", None, "model.embed_tokens.weight"),
        ("highway.12.weight", None, "highway.12.weight"),
    ],
)
def test_layer_index_and_series(name: str, index: int | None, key: str) -> None:
    assert layer_index(name) == index
    assert series_key(name) == key


SAFE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


def test_stems_of_hostile_names() -> None:
    names = ["../../etc/passwd", "a/b", "a_b", "", ".hidden", "overview", "x" * 500, "ünïcode ✓", "con", "a\nb", "model.layers.0.q.weight"]
    stems = safe_stems(names, reserved=("overview",))
    assert len(set(stems.values())) == len(names)
    for stem in stems.values():
        assert SAFE.match(stem), stem
        assert len(stem) <= MAX_STEM + 11
    assert stems["model.layers.0.q.weight"] == "model.layers.0.q.weight"  # safe names are kept as they are
    assert stems["overview"] != "overview"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=12, unique=True))
def test_stems_are_safe_and_distinct(names: list[str]) -> None:
    stems = safe_stems(names)
    assert len(set(stems.values())) == len(names)
    assert all(SAFE.match(s) for s in stems.values())
