"""Error messages about hostile files: one short line on stderr, names escaped and capped.

Whatever a header or an index names — a 1 MB tensor name, a shard name with ESC or a newline
and a workflow command — the message quotes at most QUOTE_LIMIT characters of it, escaped.
"""

from __future__ import annotations

import json
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from weightlens.cli import app
from weightlens.errors import QUOTE_LIMIT, quote
from weightlens.testing import write_sharded
from weightlens.text import visible

PIECES = ["\x1b]0;pwned\x07", "\n::error::x", "\r", "\x00", "\u202e", "\ud800", "\\", "'", "a", "σ", "::"]


def names(sizes: list[int]) -> st.SearchStrategy[str]:
    """Hostile pieces repeated to about one of these lengths."""
    pieces = st.lists(st.sampled_from(PIECES), min_size=1, max_size=5).map("".join)
    return st.tuples(pieces, st.sampled_from(sizes)).map(lambda t: t[0] * max(1, t[1] // len(t[0])))


NAMES = names([1, 30, 1 << 20])  # short, about the limit, 1 MB
N_EXAMPLES = 30
runner = CliRunner()


def unknown_dtype(d: Path, name: str) -> Path:
    header = json.dumps({name: {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (d / "m.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    return d / "m.safetensors"


def index_names_missing_tensor(d: Path, name: str) -> Path:
    ckpt = write_sharded(d / "ckpt", [{"a": np.zeros(2, np.float32)}])
    index = next(ckpt.glob("*.index.json"))
    doc = json.loads(index.read_text())
    doc["weight_map"][name] = next(iter(doc["weight_map"].values()))
    index.write_text(json.dumps(doc))
    return index


def index_names_missing_shard(d: Path, name: str) -> Path:
    ckpt = write_sharded(d / "ckpt", [{"a": np.zeros(2, np.float32)}])
    index = next(ckpt.glob("*.index.json"))
    index.write_text(json.dumps({"weight_map": {"a": name}}))
    return index


def tensor_in_two_shards(d: Path, name: str) -> Path:
    return write_sharded(d / "ckpt", [{name: np.zeros(2, np.float32), "c": np.zeros(1, np.float32)}, {name: np.zeros(2, np.float32), "b": np.zeros(1, np.float32)}])


CASES: list[Callable[[Path, str], Path]] = [unknown_dtype, index_names_missing_tensor, index_names_missing_shard, tensor_in_two_shards]


def assert_one_short_safe_line(stderr: str, path: Path) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr[:300]
    line = lines[0]
    assert line.startswith(f"weightlens: error: {visible(str(path), backslash=False)}: "), line[:200]
    assert len(line) < len(str(path)) + 300, line[:300]  # the problem + up to two quoted names
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Cs"} for c in line), line


def with_megabyte_names(test):  # type: ignore[no-untyped-def]
    """Every case also with a 1 MB name of escapes, whatever hypothesis draws."""
    for case in CASES:
        test = example(case, "\x1b]0;pwned\x07\n" * (1 << 16))(test)
    return test


@settings(derandomize=True, max_examples=N_EXAMPLES, deadline=None)
@given(st.sampled_from(CASES), NAMES)
@with_megabyte_names
def test_messages_about_hostile_names_are_one_short_line(case: Callable[[Path, str], Path], name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = case(Path(tmp), name)
        result = runner.invoke(app, ["inspect", str(path)])
        assert result.exit_code == 2, result.output[:300]
        assert_one_short_safe_line(result.stderr, path)


@settings(derandomize=True, max_examples=N_EXAMPLES * 3, deadline=None)
@given(names([1, 30, 5000]) | st.lists(names([1, 30, 5000]), max_size=3))
def test_quote_is_capped_escaped_and_exact_when_short(value: str | list[str]) -> None:
    shown = quote(value)
    assert len(shown) <= QUOTE_LIMIT
    assert visible(shown, backslash=False) == shown  # nothing left to escape
    if isinstance(value, str) and len(visible(value)) + 2 <= QUOTE_LIMIT:
        assert shown == f"'{visible(value)}'"
    elif isinstance(value, str):
        assert shown.endswith("...") and visible(value).startswith(shown[1:-4])


def test_unreadable_entry_of_a_shard_is_listed_escaped_and_capped(tmp_path: Path) -> None:
    name = "evil\x1b]0;x\x07" + "n" * 5000
    ckpt = write_sharded(tmp_path / "ckpt", [{"a": np.zeros(2, np.float32)}, {"b": np.zeros(2, np.float32)}])
    shard = sorted(ckpt.glob("*.safetensors"))[1]
    unknown_dtype(tmp_path, name).rename(shard)
    index = next(ckpt.glob("*.index.json"))
    doc = json.loads(index.read_text())
    doc["weight_map"] = {"a": doc["weight_map"]["a"], name: shard.name}
    index.write_text(json.dumps(doc))
    result = runner.invoke(app, ["inspect", str(ckpt)])
    assert result.exit_code == 1, result.output[:300]
    note = next(line for line in result.stdout.splitlines() if line.startswith("unreadable"))
    assert "\x1b" not in note and visible(name) in note  # the name whole (it is the row's subject)
    assert len(note) < len(visible(name)) + 300, note[-300:]  # the problem quotes it capped
