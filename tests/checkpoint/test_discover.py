"""Finding checkpoints: single files, sharded directories with or without an index, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from weightlens.checkpoint import natural_key, open_checkpoint
from weightlens.errors import InputError
from weightlens.testing import write_safetensors, write_sharded


def small(*names: str) -> dict[str, np.ndarray]:
    return {n: np.ones((2, 2), np.float32) for n in names}


def test_single_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = open_checkpoint(write_safetensors(tmp_path / "m.safetensors", small("a", "b")))
    assert c.layout == "file" and [t.name for t in c.tensors] == ["a", "b"] and c.parameters == 8


def test_sharded_directory_with_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = write_sharded(tmp_path / "ckpt", [small("h.10.w", "h.2.w"), small("h.1.w")])
    c = open_checkpoint(d)
    assert c.layout == "index" and len(c.files) == 2
    assert [t.name for t in c.tensors] == ["h.1.w", "h.2.w", "h.10.w"]  # natural order across shards
    assert open_checkpoint(d / "model.safetensors.index.json").tensors == c.tensors


def test_directory_without_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    write_safetensors(tmp_path / "b.safetensors", small("y"))
    write_safetensors(tmp_path / "a.safetensors", small("x"))
    c = open_checkpoint(tmp_path)
    assert c.layout == "directory" and [t.name for t in c.tensors] == ["x", "y"]


def test_index_naming_a_missing_shard(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = write_sharded(tmp_path / "ckpt", [small("a"), small("b")])
    (d / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(InputError, match="names shard 'model-00002-of-00002.safetensors', which does not exist"):
        open_checkpoint(d)


def test_index_naming_a_tensor_absent_from_its_shard(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = write_sharded(tmp_path / "ckpt", [small("a")])
    index = d / "model.safetensors.index.json"
    doc = json.loads(index.read_text())
    doc["weight_map"]["ghost"] = "model-00001-of-00001.safetensors"
    index.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="maps tensor 'ghost'"):
        open_checkpoint(d)


@pytest.mark.parametrize("content", ["not json", '{"weight_map": [1]}', '{"weight_map": {"a": "../x.safetensors"}}'])
def test_malformed_index(tmp_path, content: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "model.safetensors.index.json").write_text(content)
    with pytest.raises(InputError, match="model.safetensors.index.json"):
        open_checkpoint(tmp_path)


def test_same_tensor_in_two_shards(tmp_path) -> None:  # type: ignore[no-untyped-def]
    write_safetensors(tmp_path / "a.safetensors", small("w"))
    write_safetensors(tmp_path / "b.safetensors", small("w"))
    with pytest.raises(InputError, match="tensor 'w' is in both a.safetensors and b.safetensors"):
        open_checkpoint(tmp_path)


def test_refusals(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="no such file"):
        open_checkpoint(tmp_path / "missing")
    with pytest.raises(InputError, match="no .safetensors files in this directory"):
        open_checkpoint(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(InputError, match="only PyTorch pickles.*save_file"):
        open_checkpoint(tmp_path)
    with pytest.raises(InputError, match="never unpickles|can run code"):
        open_checkpoint(tmp_path / "pytorch_model.bin")


def test_natural_key() -> None:
    names = ["l.10.w", "l.2.w", "l.1.b", "emb", "l.1.a"]
    assert sorted(names, key=natural_key) == ["emb", "l.1.a", "l.1.b", "l.2.w", "l.10.w"]
