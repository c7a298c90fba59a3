"""The analyze/inspect/schema commands through typer's CliRunner."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.checkpoint.corpus import MALFORMED
from tests.conftest import validate_record, validate_report
from weightlens.cli import app
from weightlens.testing import encode, low_rank, write_sharded

runner = CliRunner()


@pytest.fixture
def ckpt(make_checkpoint, rng):  # type: ignore[no-untyped-def]
    return make_checkpoint({"layers.0.w": encode(low_rank(rng, 64, 48, 6), "BF16"), "layers.0.b": np.zeros(4, np.float32), "layers.1.w": rng.standard_normal((20, 30)).astype(np.float32)})


def test_table_default(ckpt) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["analyze", str(ckpt)])
    assert result.exit_code == 0, result.output
    assert "layers.0.w" in result.stdout and "6/48" in result.stdout and "3 tensors" in result.stdout


def test_json_and_jsonl(ckpt) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["analyze", str(ckpt), "--format", "json", "--full-spectrum", "--svd-rank", "4", "--svd-rank", "0.5"])
    assert result.exit_code == 0
    doc = validate_report(result.stdout)
    w = next(t for t in doc["tensors"] if t["name"] == "layers.0.w")
    assert w["numerical_rank"] == 6 and len(w["sigma"]) == 48
    assert [e["rank"] for e in w["svd_rel_error"]] == [4, 24]
    assert doc["options"]["svd_ranks"] == [4, 0.5]
    result = runner.invoke(app, ["analyze", str(ckpt), "-f", "jsonl", "--passes", "rank,condition"])
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(validate_record(json.loads(line)) for line in lines)
    assert "sigma_max" not in json.loads(lines[1]) and "numerical_rank" in json.loads(lines[1])


def test_output_file_is_written_atomically(ckpt, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["analyze", str(ckpt), "-f", "json", "-o", str(out), "-q"])
    assert result.exit_code == 0 and result.stdout == ""
    validate_report(out.read_text())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
    result = runner.invoke(app, ["analyze", str(ckpt), "-o", str(ckpt)])
    assert result.exit_code == 2 and "refusing to write the report over an input" in result.stderr


def test_output_file_permissions_follow_the_umask_or_the_replaced_file(ckpt, tmp_path) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(0o027)
    try:
        new = tmp_path / "new.json"
        assert runner.invoke(app, ["analyze", str(ckpt), "-f", "json", "-o", str(new), "-q"]).exit_code == 0
        assert new.stat().st_mode & 0o777 == 0o640  # as open(path, "w") would make it, not mkstemp's 0o600
        kept = tmp_path / "kept.json"
        kept.write_text("{}")
        kept.chmod(0o604)
        assert runner.invoke(app, ["analyze", str(ckpt), "-f", "json", "-o", str(kept), "-q"]).exit_code == 0
        assert kept.stat().st_mode & 0o777 == 0o604 and kept.read_text() != "{}"
    finally:
        os.umask(old)


def test_output_to_a_fifo_is_written_not_replaced(ckpt, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """-o /dev/stdout, /dev/null or a FIFO: write into it; renaming a file over it would replace the device."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = runner.invoke(app, ["analyze", str(ckpt), "-f", "json", "-o", str(fifo), "-q"])
    reader.join(30)
    assert result.exit_code == 0 and stat.S_ISFIFO(fifo.stat().st_mode)
    validate_report(received[0].decode())
    assert runner.invoke(app, ["analyze", str(ckpt), "-o", str(tmp_path)]).exit_code == 2  # a directory


def test_filters(ckpt) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["analyze", str(ckpt), "-f", "json", "-i", "layers.*.w", "-e", "layers.1.*"])
    doc = validate_report(result.stdout)
    assert [t["name"] for t in doc["tensors"]] == ["layers.0.w"] and doc["summary"]["excluded"] == 2


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_bad_files_exit_2_with_one_line(tmp_path, case: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(MALFORMED[case][0])
    result = runner.invoke(app, ["analyze", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"weightlens: error: {path}:") and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--passes", "nope"], "unknown pass 'nope'"),
        (["--svd-rank", "abc"], "--svd-rank"),
        (["--svd-rank", "0"], "--svd-rank"),
        (["--near-zero-tau", "5"], "near_zero_tau"),
    ],
)
def test_bad_options_exit_2(ckpt, args, message) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["analyze", str(ckpt), *args])
    assert result.exit_code == 2 and message in result.stderr


def test_pickle_and_missing_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "model.bin").write_bytes(b"\x80\x04junk")
    result = runner.invoke(app, ["analyze", str(tmp_path / "model.bin")])
    assert result.exit_code == 2 and "save_file" in result.stderr
    result = runner.invoke(app, ["analyze", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no such file or directory" in result.stderr


def test_inspect(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    d = write_sharded(tmp_path / "m", [{"a": np.zeros((3, 4), np.float32)}, {"b": encode(np.zeros((2, 8)), "BF16")}])
    result = runner.invoke(app, ["inspect", str(d)])
    assert result.exit_code == 0
    assert "2 tensors, 28 parameters" in result.stdout and "model-00002-of-00002.safetensors" in result.stdout
    doc = validate_report(runner.invoke(app, ["inspect", str(d), "-f", "json"]).stdout, "inspect")
    assert doc["totals"] == {"tensors": 2, "parameters": 28, "nbytes": 80, "excluded": 0}


def test_inspect_reads_no_tensor_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A header declaring 1 GB of data over a sparse (hole-filled) file: listing takes only the header."""
    import struct

    header = json.dumps({"big": {"dtype": "F32", "shape": [16384, 16384], "data_offsets": [0, 1 << 30]}}).encode()
    path = tmp_path / "sparse.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + (1 << 30))
    result = runner.invoke(app, ["inspect", str(path), "-f", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["totals"]["nbytes"] == 1 << 30
    assert path.stat().st_blocks * 512 < 1 << 20  # nothing was written into the holes


def test_version_help_and_schema() -> None:
    from weightlens import __version__

    assert runner.invoke(app, ["--version"]).stdout.strip() == f"weightlens {__version__}"
    result = runner.invoke(app, ["analyze", "--help"])
    assert result.exit_code == 0 and "--format" in result.stdout
    assert json.loads(runner.invoke(app, ["schema"]).stdout)["title"] == "weightlens analysis report"
    assert runner.invoke(app, []).exit_code in (0, 2)  # no args: help


def test_python_dash_m(ckpt) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "weightlens", "analyze", str(ckpt), "-f", "json"], capture_output=True, text=True, check=True)
    validate_report(out.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "sample_weights/tiny_model"],
        ["inspect", "sample_weights/tiny_model"],
        ["diff", "sample_weights/diff/base.safetensors", "sample_weights/diff/tuned.safetensors"],
        ["check", "sample_weights/tiny_model", "--max-condition", "1e4", "--min-rank-ratio", "0.9"],
    ],
)
def test_tables_in_a_pipe_have_no_trailing_spaces(args: list[str]) -> None:
    root = Path(__file__).resolve().parents[2]
    result = runner.invoke(app, [args[0], *(str(root / a) if a.startswith("sample_weights") else a for a in args[1:])])
    assert result.exit_code in (0, 1), result.output
    lines = result.stdout.splitlines()
    assert len(lines) > 5 and not [line for line in lines if line != line.rstrip()]
