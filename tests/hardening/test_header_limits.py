"""Header values numpy cannot represent, and ``__metadata__`` that is not an object.

A zero-size tensor needs no data, so a dimension beyond int64 (``[18446744073709551617, 0]``) passes
the byte-length checks; numpy then refuses the shape. The header must reject it: one clean error
for a single file (exit 2), a listed bad tensor in a sharded checkpoint (exit 1).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from weightlens.checkpoint import read_header
from weightlens.checkpoint.header import MAX_ELEMENTS
from weightlens.cli import app
from weightlens.errors import HeaderError
from weightlens.testing import write_safetensors

runner = CliRunner()
SETTINGS = settings(derandomize=True, max_examples=40, deadline=None, database=None)


def header_file(path: Path, doc: object, data: bytes = b"") -> Path:
    raw = json.dumps(doc).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


# Shapes with a zero dimension (no bytes) whose other dimensions numpy cannot hold: one beyond
# int64, or a product of the non-zero ones beyond MAX_ELEMENTS.
huge_dim = st.integers(2**63, 2**80)
big_dim = st.integers(2**31, 2**62)
zero_size_hostile = st.one_of(
    st.tuples(huge_dim, st.just(0)),
    st.tuples(st.just(0), huge_dim),
    st.tuples(big_dim, big_dim, st.just(0)),
    st.tuples(st.just(2**62), st.just(2**62), st.just(0)),
).flatmap(lambda dims: st.permutations(list(dims)))


@SETTINGS
@given(shape=zero_size_hostile, dtype=st.sampled_from(["F32", "BF16", "F8_E4M3", "I64", "BOOL"]))
def test_zero_size_shape_beyond_numpy_is_a_clean_error(tmp_path_factory, shape, dtype) -> None:  # type: ignore[no-untyped-def]
    path = header_file(tmp_path_factory.mktemp("z") / "z.safetensors", {"t": {"dtype": dtype, "shape": shape, "data_offsets": [0, 0]}})
    with pytest.raises(HeaderError, match="numpy"):
        read_header(path)
    result = runner.invoke(app, ["analyze", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"weightlens: error: {path}: tensor 't'") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("shape", [[18446744073709551617, 0], [2**62, 2**62, 0]])
def test_issue_shapes_in_a_shard_are_listed_and_the_rest_analyzed(tmp_path, shape) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "ckpt"
    d.mkdir()
    write_safetensors(d / "a.safetensors", {"w": np.eye(3, dtype=np.float32)})
    header_file(d / "b.safetensors", {"t": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}})
    result = runner.invoke(app, ["analyze", str(d), "-f", "json"])
    assert result.exit_code == 1, result.output
    by = {t["name"]: t for t in json.loads(result.stdout)["tensors"]}
    assert by["t"]["kind"] == "unreadable" and "numpy" in by["t"]["error"] and by["w"]["numerical_rank"] == 3


def test_largest_accepted_zero_size_shape_is_analyzed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = header_file(tmp_path / "z.safetensors", {"t": {"dtype": "BF16", "shape": [MAX_ELEMENTS, 0], "data_offsets": [0, 0]}})
    result = runner.invoke(app, ["analyze", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tensors"][0]["shape"] == [MAX_ELEMENTS, 0]


not_an_object = st.one_of(
    st.just([]), st.just(False), st.just(0), st.just(""),
    st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=4), st.lists(st.text(max_size=3), max_size=3),
)  # fmt: skip


@SETTINGS
@given(metadata=not_an_object)
def test_metadata_that_is_not_an_object_is_rejected(tmp_path_factory, metadata) -> None:  # type: ignore[no-untyped-def]
    path = header_file(tmp_path_factory.mktemp("m") / "m.safetensors", {"__metadata__": metadata})
    with pytest.raises(HeaderError, match="__metadata__ must be an object of string values"):
        read_header(path)


def test_metadata_null_means_absent_as_in_the_reference_implementation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = header_file(tmp_path / "m.safetensors", {"__metadata__": None, "t": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}, b"\1\2")
    h = read_header(path)
    assert h.metadata == {} and [t.name for t in h.tensors] == ["t"]
