"""`diff -f markdown`: a GFM table that a Markdown parser reads back, rows as in the table."""

from __future__ import annotations

import html
import re

import numpy as np
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from tests.conftest import HOSTILE_NAME, SAMPLES
from weightlens import diff
from weightlens.cli import app
from weightlens.render.diff import diff_rows
from weightlens.render.markdown import render_diff_markdown
from weightlens.testing import write_safetensors

runner = CliRunner()
GFM = MarkdownIt("commonmark").enable("table")
BASE = str(SAMPLES / "diff" / "base.safetensors")
TUNED = str(SAMPLES / "diff" / "tuned.safetensors")
ADAPTER = str(SAMPLES / "adapter")


def cells(rendered: str, tag: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", rendered, flags=re.S)
    return [re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", row, flags=re.S) for row in rows if f"<{tag}" in row]


def code_text(cell: str) -> str:
    m = re.fullmatch(r"<code>(.*)</code>", cell, flags=re.S)
    assert m is not None, cell
    return html.unescape(m.group(1))


def test_cli_markdown_lists_the_table_rows_and_the_summary() -> None:
    result = runner.invoke(app, ["diff", BASE, TUNED, "-f", "markdown", "--lora-ranks", "4,8"])
    assert result.exit_code == 0, result.output
    md = result.stdout
    out = GFM.render(md)
    (header,) = cells(out, "th")
    rows = cells(out, "td")
    report = diff(BASE, TUNED)
    listed = diff_rows(report)
    assert header[:3] == ["tensor", "shape", "dtype"] and header[-1] == "notes" and "err@4" in header and "err@8" in header
    assert [code_text(r[0]) for r in rows] == [r.name for r in listed]
    assert all(len(r) == len(header) for r in rows)
    by = {code_text(r[0]): dict(zip(header, r)) for r in rows}
    q = by["model.layers.0.self_attn.q_proj.weight"]
    assert q["ΔW rank"] == "4/32" and float(q["‖ΔW‖/‖W‖"]) == float(f"{report['model.layers.0.self_attn.q_proj.weight']['rel_change']:.3g}")
    assert by["score.weight"]["notes"] == "only in tuned" and by["model.embed_tokens.weight"]["notes"] == "shape changed"
    assert by["lm_head.weight"]["dtype"] == "F32→BF16"
    assert md.startswith("### weightlens diff: 21 pairs: 5 changed, 15 identical (not listed), 1 only in base, 1 only in tuned\n")
    assert "- only in base: `model.layers.1.self_attn.rotary_emb.inv_freq`" in md
    assert "- dtype changed: `lm_head.weight` (F32→BF16)" in md


def test_adapter_markdown_and_hostile_names(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["diff", BASE, ADAPTER, "-f", "markdown"])
    assert result.exit_code == 0 and "5 adapter updates: 4 changed, 1 identical" in result.stdout
    assert len(cells(GFM.render(result.stdout), "td")) == 5  # every update is listed, the zero one too

    names = [HOSTILE_NAME, "a|b.weight", "only\nhere"]
    b = write_safetensors(tmp_path / "b.safetensors", {n: rng.standard_normal((6, 5)).astype(np.float32) for n in names[:2]})
    t = write_safetensors(tmp_path / "t.safetensors", {n: rng.standard_normal((6, 5)).astype(np.float32) for n in [names[0], names[2]]})
    md = render_diff_markdown(diff(b, t))
    out = GFM.render(md)
    shown = [code_text(r[0]) for r in cells(out, "td")]
    assert shown == ["a|b.weight", HOSTILE_NAME, "only\\x0ahere"]  # control characters shown as escapes
    assert "<script>" not in out and "<b>" not in out
    assert md.count("\n|") == 2 + len(names)  # header, alignment and one line per row: no name broke a line


def test_every_format_offered_prints_the_report() -> None:
    """`diff --format` offers analyze's Format enum: each member must produce output."""
    from weightlens.cli.analyze import Format

    for fmt in Format:
        result = runner.invoke(app, ["diff", BASE, TUNED, "-f", fmt.value])
        assert result.exit_code == 0 and "model.layers.0.self_attn.q_proj.weight" in result.stdout, fmt
