"""Hostile tensor names through every output format: nothing reaches a terminal or a CI log raw.

A name can hold ESC/OSC sequences (window title, OSC 8 hyperlinks), NUL, CR, BS, bidi
overrides, lone surrogates, or a newline followed by a GitHub Actions workflow command. Every
text format must show such characters as escapes, no line may start with ``::`` (except the
github format's own commands) nor contain ``##[``, and JSON must give the exact name back.
"""

from __future__ import annotations

import io
import json
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weightlens import analyze
from weightlens.check import load_config, run_check
from weightlens.pipeline.run import plan
from weightlens.render.check_table import render_check_table
from weightlens.render.console import data_console
from weightlens.render.github import render_github
from weightlens.render.html import render_html
from weightlens.render.inspect import inspect_dict, render_inspect
from weightlens.render.json import dumps, jsonl_line, render_json
from weightlens.render.junit import render_junit
from weightlens.render.markdown import render_check_markdown, render_markdown
from weightlens.render.table import render_table
from weightlens.testing import write_safetensors
from weightlens.text import visible

PIECES = [
    "\x1b]0;pwned\x07", "\x1b]8;;https://evil.example\x1b\\", "\x1b[2J", "\x1b[31m", "\x00", "\r", "\b", "\x7f", "\x9b",
    "\n::error title=x::y", "::warning::", "\n::add-mask::", "##[error]", "\u202e", "\u2066", "\u200b", "\ufeff",
    "\ud800", "\udcff", "\u2028", "\t", "\\", "%0A", "[red]", "<script>", "|", "`", "$", ":", " ", "σ", "model.layers.0.",
]  # fmt: skip
NAMES = st.lists(st.sampled_from(PIECES) | st.characters(exclude_categories=("Cs",)), min_size=1, max_size=6).map("".join)
N_EXAMPLES = 60
"""Each example writes a checkpoint, analyzes and checks it, and renders 12 formats (~60 ms)."""


def hidden(ch: str) -> bool:
    """A character no text output may carry raw (the newline between lines aside)."""
    cat = unicodedata.category(ch)
    return ch != "\n" and (cat in {"Cc", "Cf", "Cs", "Zl", "Zp"} or (cat == "Zs" and ch != " "))


def outputs(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(text outputs, JSON outputs) of analyze, inspect, check and report for one checkpoint."""
    report = analyze(path)
    result = run_check(path, load_config({}, pyproject=False))
    the_plan = plan([path])

    def console(render) -> str:  # type: ignore[no-untyped-def]
        buf = io.StringIO()
        render(data_console(buf))
        return buf.getvalue()

    figures = [(None, b""), *((r, b"") for r in report.tensors if r.analyzed)]
    text = {
        "analyze table": console(lambda c: render_table(report, c)),
        "analyze markdown": render_markdown(report),
        "inspect table": console(lambda c: render_inspect(the_plan, c)),
        "check table": console(lambda c: render_check_table(result, c)),
        "check github": render_github(result),
        "check junit": render_junit(result),
        "check markdown": render_check_markdown(result),
        "report html": render_html(report, figures),
    }
    machine = {
        "analyze json": render_json(report),
        "analyze jsonl": "".join(jsonl_line(r) for r in report.tensors),
        "inspect json": dumps(inspect_dict(the_plan)),
        "check json": dumps(result.to_dict()),
    }
    return text, machine


def assert_safe_text(fmt: str, out: str) -> None:
    out.encode("utf-8")  # no lone surrogate
    raw = sorted({f"U+{ord(c):04X}" for c in out if hidden(c)})
    assert not raw, f"{fmt}: raw {raw}"
    assert "##[" not in out, fmt
    for line in out.splitlines():
        if fmt == "check github":
            assert line.startswith("::error file="), line
        else:
            assert not line.lstrip().startswith("::"), f"{fmt}: {line!r}"


def json_names(fmt: str, out: str) -> set[str]:
    out.encode("utf-8")
    if fmt.endswith("jsonl"):
        return {json.loads(line)["name"] for line in out.splitlines()}
    doc = json.loads(out)
    return {t["name"] for t in doc["tensors"]} if "tensors" in doc else {v["tensor"] for v in doc["violations"]}


@settings(derandomize=True, max_examples=N_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(NAMES, min_size=1, max_size=2, unique=True).filter(lambda ns: "ok" not in ns and "__metadata__" not in ns))
def test_hostile_names_in_every_format(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_safetensors(Path(tmp) / "m.safetensors", {"ok": np.eye(3, dtype=np.float32), **{n: np.zeros((3, 3), np.float32) for n in names}})
        text, machine = outputs(path)
    for fmt, out in text.items():
        assert_safe_text(fmt, out)
    for fmt in ("analyze table", "inspect table", "check table"):
        for n in names:  # whole, escaped, in a row of its own
            assert any(line.startswith(visible(n) + " ") for line in text[fmt].splitlines()), (fmt, n)
    assert len(text["check github"].splitlines()) == len(names)  # one annotation per all-zero matrix
    ET.fromstring(text["check junit"].encode("utf-8"))
    for fmt, out in machine.items():
        assert set(names) <= json_names(fmt, out), fmt  # lossless
