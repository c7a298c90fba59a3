"""Hangs: a FIFO, a device or a directory where weightlens expects a file is refused at once.

Opening a FIFO for reading blocks until a writer comes, and reading /dev/zero never ends, so
each role a file plays — checkpoint, shard named by an index, shard of a directory, the index
itself, --config, --baseline, the saved report of the drawing commands — is tried with each
kind of non-regular file, under a deadline that interrupts a blocked open(). Each must end in
exit 2 with one stderr line, and leave the inputs unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.hardening.inputs import deadline, snapshot, workspace
from weightlens.checkpoint.safeload import load_json, load_toml, open_regular
from weightlens.cli import app
from weightlens.errors import InputError

runner = CliRunner()
SHARD = "idx/model-00002-of-00002.safetensors"
# role -> (the file that is made non-regular, the command reading it)
ROLES: dict[str, tuple[str, list[str]]] = {
    "checkpoint": ("x.safetensors", ["analyze", "x.safetensors"]),
    "indexed shard": (SHARD, ["analyze", "idx"]),
    "directory shard": ("dir/b.safetensors", ["inspect", "dir"]),
    "index": ("idx/model.safetensors.index.json", ["inspect", "idx"]),
    "adapter config": ("ad/adapter_config.json", ["analyze", "ad"]),
    "config": ("rules.toml", ["check", "one.safetensors", "--config", "rules.toml"]),
    "baseline": ("base.json", ["check", "one.safetensors", "--baseline", "base.json", "--allow-appeared"]),
    "saved report": ("base.json", ["report", "base.json", "-o", "r.html"]),
}
KINDS = ["fifo", "link to /dev/zero", "directory"]
# a directory is a checkpoint (a directory of shards) wherever a checkpoint may be given
CASES = [(r, k) for r in ROLES for k in KINDS if not (r in ("checkpoint", "saved report") and k == "directory")]


def make_nonregular(path: Path, kind: str) -> None:
    if path.exists():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize(("role", "kind"), CASES)
def test_non_regular_input_is_refused_without_blocking(template: Path, role: str, kind: str) -> None:
    relative, args = ROLES[role]
    with workspace(template) as root:
        make_nonregular(root / relative, kind)
        before = snapshot(root)
        with deadline(10):
            result = runner.invoke(app, args)
        assert result.exit_code == 2, (role, kind, result.exception, result.output)
        assert result.stderr.startswith("weightlens: error: ") and result.stderr.count("\n") == 1, result.stderr
        assert "not a regular file" in result.stderr and relative.split("/")[-1] in result.stderr, result.stderr
        assert snapshot(root) == before


@pytest.mark.parametrize("kind", KINDS)
def test_library_loaders_refuse_non_regular_files(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "f"
    make_nonregular(path, kind)
    for load in (lambda p: open_regular(p, "file").close(), lambda p: load_json(p, "file"), lambda p: load_toml(p, "file")):
        with deadline(10), pytest.raises(InputError, match="not a regular file"):
            load(path)
