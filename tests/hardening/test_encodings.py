"""Output encodings other than UTF-8, names no encoder can write, file names that are not UTF-8."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from weightlens.cli import app
from weightlens.testing import write_safetensors

NAMES = ["wσ.中", "w\ud800", "café", "plain"]
COMMANDS = [
    ["analyze"], ["analyze", "-f", "markdown"], ["analyze", "-f", "json"], ["analyze", "-f", "jsonl"], ["inspect"],
    ["inspect", "-f", "json"], ["check"], ["check", "-f", "markdown"], ["check", "-f", "github"], ["check", "-f", "junit"],
    ["check", "-f", "json"],
]  # fmt: skip


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_safetensors(tmp_path_factory.mktemp("enc") / "m.safetensors", {n: np.zeros((3, 3), np.float32) for n in NAMES})


def run_with_stdout_encoding(args: list[str], encoding: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, bytes]:
    """Run the CLI in this process with a stdout that encodes strictly, like PYTHONIOENCODING=ENC."""
    buf = io.BytesIO()
    out = io.TextIOWrapper(buf, encoding=encoding, errors="strict", newline="\n")
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="strict"))
    code = app(args, prog_name="weightlens", standalone_mode=False)
    out.flush()
    return code or 0, buf.getvalue()


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_any_output_encoding(ckpt: Path, command: list[str], encoding: str, monkeypatch: pytest.MonkeyPatch) -> None:
    code, raw = run_with_stdout_encoding([*command, str(ckpt)], encoding, monkeypatch)
    assert code == (1 if command[0] == "check" else 0)
    text = raw.decode(encoding)
    if "json" in command or "jsonl" in command:
        docs = [json.loads(line) for line in text.splitlines()] if "jsonl" in command else [json.loads(text)]
        names = {t["name"] for d in docs for t in d.get("tensors", [d])} if command[0] != "check" else {v["tensor"] for v in docs[0]["violations"]}
        assert names == set(NAMES)  # lossless whatever the encoding
    elif "junit" not in command:
        assert "w\\u03c3.\\u4e2d" in text and "w\\ud800" in text  # names: escapes, never spellings
        if command == ["analyze"]:
            assert "sigma1" in text and "kappa" in text
        if command == ["check", "-f", "markdown"]:
            assert "[fail]" in text


def test_pythonioencoding_latin1_end_to_end(ckpt: Path) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    out = subprocess.run([sys.executable, "-m", "weightlens", "check", str(ckpt), "--max-condition", "10"], capture_output=True, env=env)
    assert out.returncode == 1, out.stderr
    text = out.stdout.decode("latin-1")
    assert "<= 10" in text and "café" in text and "w\\u03c3.\\u4e2d" in text and b"Traceback" not in out.stderr


BAD = os.fsdecode(b"m\xff\x1b")
"""A file name that is not UTF-8 (byte 0xff, a surrogate escape here) with an ESC in it."""


def test_file_names_that_are_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from weightlens.text import visible

    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    src = write_safetensors(tmp_path / f"{BAD}.safetensors", {"w": np.eye(3, dtype=np.float32)})
    result = runner.invoke(app, ["analyze", src.name, "-f", "json", "-o", f"{BAD}.json"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / f"{BAD}.json").read_text())["inputs"][0]["path"] == src.name  # exact
    result = runner.invoke(app, ["inspect", src.name])
    assert result.exit_code == 0 and visible(src.name, backslash=False) in result.stdout and "\x1b" not in result.stdout
    result = runner.invoke(app, ["analyze", f"missing{BAD}.safetensors"])
    assert result.exit_code == 2 and result.stderr == "weightlens: error: missingm\\udcff\\x1b.safetensors: no such file or directory\n"
    result = runner.invoke(app, ["report", src.name, "-o", f"{BAD}.html"])
    assert result.exit_code == 0 and result.stderr.startswith("wrote m\\udcff\\x1b.html (") and "\x1b" not in result.stderr
    page = (tmp_path / f"{BAD}.html").read_text(encoding="utf-8")
    assert "m\\udcff\\x1b.safetensors" in page
