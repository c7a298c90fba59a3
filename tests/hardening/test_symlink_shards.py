"""Symlinked shards, as in a Hugging Face cache snapshot (``snapshots/<rev>/x.safetensors -> ../../blobs/<sha>``).

A directory of shards whose link is dangling (the blob was never downloaded) or loops is an
incomplete checkpoint, not a bad argument: that shard is listed as unreadable, the others are
analyzed, exit 1. An index naming a dangling shard is refused like an index naming a missing
shard (exit 2), with the link and its target in the message.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import validate_report
from weightlens.checkpoint import open_checkpoint
from weightlens.cli import app
from weightlens.errors import InputError
from weightlens.testing import write_safetensors, write_sharded

runner = CliRunner()
LINKS = ("blob", "dangling absolute", "dangling relative", "loop", "loop pair", "chain to nothing")


def link(directory: Path, name: str, kind: str, blobs: Path, tensors: dict[str, np.ndarray]) -> bool:
    """Create ``directory/name`` as a symlink of ``kind``; True when it leads to a readable shard."""
    path = directory / name
    if kind == "blob":  # what a complete HF snapshot holds
        blob = write_safetensors(blobs / f"{name}.blob", tensors)
        path.symlink_to(os.path.relpath(blob, directory))
        return True
    if kind == "dangling absolute":
        path.symlink_to(blobs / f"never-downloaded-{name}")
    elif kind == "dangling relative":
        path.symlink_to(f"../blobs/never-downloaded-{name}")
    elif kind == "loop":
        path.symlink_to(name)
    elif kind == "loop pair":
        (directory / f".{name}.other").symlink_to(name)
        path.symlink_to(f".{name}.other")
    else:
        (directory / f".{name}.hop").symlink_to(blobs / "missing")
        path.symlink_to(f".{name}.hop")
    return False


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(("file", *LINKS)), min_size=1, max_size=5))
def test_broken_links_in_a_directory_of_shards_are_listed(kinds: list[str]) -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        snapshot, blobs = Path(d) / "snapshot", Path(d) / "blobs"
        snapshot.mkdir()
        blobs.mkdir()
        readable, broken = [], []
        for i, kind in enumerate(kinds):
            name = f"part{i}.safetensors"
            tensors = {f"t{i}.w": rng.standard_normal((3, 2)).astype(np.float32)}
            if kind == "file":
                write_safetensors(snapshot / name, tensors)
                readable.append(f"t{i}.w")
            elif link(snapshot, name, kind, blobs, tensors):
                readable.append(f"t{i}.w")
            else:
                broken.append((name, kind))
        links_before = {p.name: os.readlink(p) for p in snapshot.iterdir() if p.is_symlink()}
        ckpt = open_checkpoint(snapshot)
        assert sorted(t.name for t in ckpt.tensors) == sorted(readable)
        assert sorted(u.name for u in ckpt.unreadable) == sorted(name for name, _ in broken)
        for u in ckpt.unreadable:
            kind = dict(broken)[u.name]
            if kind.startswith("loop"):
                assert u.problem == "cannot read: a symlink loop", u.problem
            else:
                assert u.problem == f"cannot read: a symlink to {os.readlink(u.file)!r}, which does not exist", u.problem
        assert {p.name: os.readlink(p) for p in snapshot.iterdir() if p.is_symlink()} == links_before


def test_incomplete_snapshot_is_analyzed_with_exit_1(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    snapshot, blobs = tmp_path / "snapshot", tmp_path / "blobs"
    snapshot.mkdir()
    blobs.mkdir()
    link(snapshot, "model-00001-of-00002.safetensors", "blob", blobs, {"a.w": rng.standard_normal((6, 4)).astype(np.float32)})
    link(snapshot, "model-00002-of-00002.safetensors", "dangling relative", blobs, {})
    result = runner.invoke(app, ["analyze", str(snapshot), "-q", "-f", "json"])
    assert result.exit_code == 1, result.stderr
    doc = validate_report(result.stdout)
    assert [(t["name"], t["kind"]) for t in doc["tensors"]] == [("a.w", "matrix"), ("model-00002-of-00002.safetensors", "unreadable")]
    assert doc["tensors"][1]["error"] == "cannot read: a symlink to '../blobs/never-downloaded-model-00002-of-00002.safetensors', which does not exist"
    result = runner.invoke(app, ["analyze", str(snapshot), "-q"])
    assert result.exit_code == 1 and "unreadable: model-00002-of-00002.safetensors (cannot read: a symlink to" in result.stdout
    assert runner.invoke(app, ["inspect", str(snapshot)]).exit_code == 1


@pytest.mark.parametrize("kind", ["dangling relative", "loop"])
def test_index_naming_a_broken_link_is_refused_like_a_missing_shard(tmp_path, rng, kind) -> None:  # type: ignore[no-untyped-def]
    d = write_sharded(tmp_path / "ckpt", [{"a.w": rng.standard_normal((4, 4))}, {"b.w": rng.standard_normal((4, 4))}])
    shard = "model-00002-of-00002.safetensors"
    (d / shard).unlink()
    link(d, shard, kind, tmp_path / "blobs", {})
    what = "a symlink loop" if kind == "loop" else f"a symlink to {os.readlink(d / shard)!r}, which does not exist"
    with pytest.raises(InputError, match="^" + re.escape(f"{d / 'model.safetensors.index.json'}: names shard {shard!r}, {what}") + "$"):
        open_checkpoint(d)
    result = runner.invoke(app, ["analyze", str(d), "-q"])
    assert result.exit_code == 2 and result.stderr.startswith("weightlens: error: ") and len(result.stderr.splitlines()) == 1
