"""A checkpoint that changes under the reader: a tensor's error, never a signal death or mixed files.

Reading through a memory map died of SIGBUS (exit 135) when the file was truncated while a
tensor was copied out of the map. The reader now reads into its own buffer and checks the
file's stamp (size, mtime, inode, recorded with the header) before and after each tensor.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import weightlens.checkpoint.reader as reader
from weightlens.checkpoint import read_header, read_tensor
from weightlens.errors import InputError
from weightlens.testing import encode, write_safetensors

CHANGES = ["none", "truncate", "append", "rewrite", "touch", "rename"]
DTYPES = ["F32", "BF16", "F16", "F8_E4M3", "F64", "I64", "U8", "BOOL"]


def _encoded(dtype: str, shape: tuple[int, ...], seed: int):  # type: ignore[no-untyped-def]
    values = np.random.default_rng(seed).standard_normal(shape) * 3
    if dtype == "BOOL":
        return values > 0
    if dtype in ("I64", "U8"):
        return values.astype(np.int64).astype(np.uint8 if dtype == "U8" else np.int64)
    return encode(values, dtype)


def _change(path: Path, kind: str, cut: int) -> None:
    """Change the file the way ``kind`` says (``cut``: where a truncation ends)."""
    st = path.stat()
    if kind == "truncate":
        os.truncate(path, min(cut, st.st_size - 1))
    elif kind == "append":
        with open(path, "ab") as f:
            f.write(b"\0" * 8)
    elif kind == "rewrite":  # same size, one byte different, a new mtime
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    elif kind == "touch":
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    elif kind == "rename":  # the same bytes under the same name, as another inode
        tmp = path.with_suffix(".new")
        tmp.write_bytes(path.read_bytes())
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, path)


tensors = st.lists(st.tuples(st.sampled_from(DTYPES), st.lists(st.integers(1, 9), min_size=1, max_size=3).map(tuple)), min_size=1, max_size=3)


@settings(derandomize=True, max_examples=150, deadline=None, database=None)
@given(spec=tensors, pick=st.integers(0, 2), change=st.sampled_from(CHANGES), during=st.booleans(), chunk=st.sampled_from([1, 7, 64]), at=st.integers(1, 40), cut=st.integers(0, 4000))
def test_a_file_changed_before_or_during_a_read_is_that_tensors_error(spec, pick, change, during, chunk, at, cut) -> None:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as d:
        path = write_safetensors(Path(d) / "m.safetensors", {f"t{i}": _encoded(dt, shape, i) for i, (dt, shape) in enumerate(spec)})
        info = read_header(path).tensors[pick % len(spec)]
        expected = read_tensor(info)
        calls = 0

        class ChangingFile(io.FileIO):
            def readinto(self, buffer):  # type: ignore[no-untyped-def,override]
                nonlocal calls
                calls += 1
                if during and calls == 1 + (at - 1) % -(-info.nbytes // chunk):  # before one of the chunk reads
                    _change(path, change, cut)
                return super().readinto(buffer)

        if not during:
            _change(path, change, cut)
        with mock.patch.object(reader, "READ_CHUNK", chunk), mock.patch.object(reader, "open", lambda p, *a, **k: ChangingFile(p, "rb"), create=True):
            try:
                values = read_tensor(info)
            except InputError as e:
                assert change != "none" and not (during and change == "rename"), e
                assert e.problem.startswith(f"cannot read tensor {info.name!r}: the file ")
                assert ("while it was read" if during else "since its header was read") in e.problem
                return
        # Unchanged, or replaced by rename while the old file was open (its bytes are the ones read).
        assert change == "none" or (during and change == "rename")
        assert values.dtype == expected.dtype and np.array_equal(values, expected, equal_nan=True)


def test_a_read_returning_fewer_bytes_than_the_header_promised_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without a stamp (a hand-made TensorInfo), a file shorter than the header says is still caught."""
    path = write_safetensors(tmp_path / "m.safetensors", {"w": np.ones((4, 4), np.float32)})
    info = read_header(path).tensors[0]
    from dataclasses import replace

    os.truncate(path, info.offset + 10)
    with pytest.raises(InputError, match="short read: 10 of 64 bytes"):
        read_tensor(replace(info, stamp=None))


# Truncates the checkpoint to 0 bytes the first time a tensor is decoded, in every process that
# imports it (the CLI and its spawned workers): a tensor still in a memory map then dies of SIGBUS.
SITECUSTOMIZE = textwrap.dedent(
    """
    import os
    if os.environ.get("TRUNCATE_ON_DECODE"):
        import weightlens.checkpoint.reader as reader
        real = reader.decode
        def decode(dtype, raw):
            os.truncate(os.environ["TRUNCATE_ON_DECODE"], 0)
            return real(dtype, raw)
        reader.decode = decode
    """
)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_truncated_while_decoding_ends_in_records_not_a_signal(tmp_path, rng, jobs: str) -> None:  # type: ignore[no-untyped-def]
    path = write_safetensors(tmp_path / "m.safetensors", {f"w{i}": encode(rng.standard_normal((64, 96)), "BF16") for i in range(4)})
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "TRUNCATE_ON_DECODE": str(path)}
    cmd = [sys.executable, "-m", "weightlens", "analyze", str(path), "-j", jobs, "--passes", "health", "-f", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1, (out.returncode, out.stderr)
    records = json.loads(out.stdout)["tensors"]
    errors = [r["error"] for r in records if r.get("error")]
    # Every tensor is read after (or, decoded chunk by chunk, during) the truncation: each says so.
    assert len(errors) == len(records) == 4, errors
    assert all(e.startswith(f"cannot read tensor '{r['name']}': the file changed size") and "out of memory" not in e for r, e in zip(records, errors)), errors


def test_a_fifo_put_in_the_files_place_is_an_error_not_a_hang(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Between header and data reads, the shard became a FIFO: opening it must not wait for a writer."""
    from tests.hardening.inputs import deadline

    path = write_safetensors(tmp_path / "m.safetensors", {"w": np.ones((4, 4), np.float32)})
    info = read_header(path).tensors[0]
    path.unlink()
    os.mkfifo(path)
    with deadline(10), pytest.raises(InputError, match="since its header was read"):
        read_tensor(info)
