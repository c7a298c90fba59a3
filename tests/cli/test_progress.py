"""The progress bar on a terminal: erased when done, never on a line with data."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSI = re.compile(rb"\x1b\[[0-9;?]*([A-Za-z])")


def run_in_pty(*args: str) -> tuple[int, bytes]:
    """Run weightlens with stdout and stderr on one pseudo-terminal; everything it wrote."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "weightlens", *args], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=60), out


def screen(raw: bytes) -> list[str]:
    """What a terminal shows at the end: CR to column 0, LF down a row, ESC[nA up n rows,
    ESC[2K clears the row; other escape sequences (colours, cursor visibility) change no text."""
    rows: list[bytearray] = [bytearray()]
    row = col = 0
    pos = 0
    while pos < len(raw):
        m = CSI.match(raw, pos)
        if m:
            if m.group(1) == b"K":
                rows[row] = bytearray()
            elif m.group(1) == b"A":
                row = max(0, row - int(m.group(0)[2:-1] or b"1"))
            pos = m.end()
            continue
        b = raw[pos]
        pos += 1
        if b == 0x0D:
            col = 0
        elif b == 0x0A:
            row += 1
            col = 0
            if row == len(rows):
                rows.append(bytearray())
        else:
            line = rows[row]
            line[col : col + 1] = bytes([b])
            col += 1
    return [r.decode(errors="replace").rstrip() for r in rows if r.strip()]


@pytest.mark.parametrize(
    ("args", "label", "first"),
    [
        (["analyze", "sample_weights/tiny_model"], "analyzing", "tensor"),
        (["diff", "sample_weights/diff/base.safetensors", "sample_weights/diff/tuned.safetensors"], "comparing", "tensor"),
    ],
)
def test_progress_vanishes_and_data_starts_on_its_own_line(args: list[str], label: str, first: str) -> None:
    code, raw = run_in_pty(*args)
    assert code == 0, raw[-2000:]
    assert label.encode() in raw  # the bar was drawn
    shown = screen(raw)
    assert not [line for line in shown if label in line], shown[:3]
    assert shown[0].startswith(first), shown[:3]


def test_jsonl_to_a_terminal_draws_no_bar() -> None:
    """Records streamed to the terminal are the progress; a bar would share their lines."""
    code, raw = run_in_pty("analyze", "sample_weights/tiny_model", "-f", "jsonl", "--passes", "health")
    assert code == 0 and b"analyzing" not in raw
    assert all(line.startswith("{") for line in screen(raw))
