"""Markdown: a GFM table that a Markdown parser reads back with every name literal."""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from tests.conftest import HOSTILE_NAME
from weightlens import analyze
from weightlens.render.markdown import code, render_markdown

GFM = MarkdownIt("commonmark").enable("table")


def cells(rendered: str, tag: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", rendered, flags=re.S)
    return [re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", row, flags=re.S) for row in rows if f"<{tag}" in row]


@pytest.mark.parametrize("name", ["plain.weight", "a|b", "`tick`", "``double``", " spaced ", "*em* _u_ [l](x) <b> $m$ @you :smile:", "a\nb\tc", ""])
def test_code_span_shows_the_name_literally(name: str) -> None:
    for in_table in (False, True):
        md = code(name, in_table)
        if in_table:
            out = GFM.render(f"| h |\n| --- |\n| {md} |\n")
            (cell,) = cells(out, "td")[0]
        else:
            out = GFM.render(md)
            cell = out.strip().removeprefix("<p>").removesuffix("</p>")
        shown = re.fullmatch(r"<code>(.*)</code>", cell, flags=re.S)
        assert shown is not None, (name, out)
        expected = name.replace("\n", "\\x0a").replace("\t", "\\x09")
        assert html.unescape(shown.group(1)) == (expected or " ")


def test_table_reads_back(layered_checkpoint) -> None:  # type: ignore[no-untyped-def]
    report = analyze(layered_checkpoint)
    text = render_markdown(report)
    out = GFM.render(text)
    (header,) = cells(out, "th")
    rows = cells(out, "td")
    matrices = [r for r in report.tensors if r.matrix_shape]
    assert len(rows) == len(matrices)
    assert header[:3] == ["tensor", "shape", "dtype"] and "α" in header and header[-1] == "flags"
    assert all(len(r) == len(header) for r in rows)
    names = [html.unescape(re.fullmatch(r"<code>(.*)</code>", r[0]).group(1)) for r in rows]  # type: ignore[union-attr]
    assert names == [r.name for r in matrices]
    assert HOSTILE_NAME in names
    assert "<script>" not in out  # the hostile name stays text
    by_name = dict(zip(names, rows))
    alpha = by_name["model.layers.0.attn.weight"][header.index("α")]
    assert float(alpha.rstrip("?")) == pytest.approx(report["model.layers.0.attn.weight"]["alpha"], abs=0.005)  # the table prints α to 2 decimals: half a unit of the last digit
    assert "not analyzed" in text and "<details>" in text


def test_check_result_as_markdown(rng, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from weightlens.check import load_config, run_check
    from weightlens.render.markdown import render_check_markdown
    from weightlens.testing import geometric_spectrum, low_rank, with_spectrum, write_safetensors

    nan = with_spectrum(rng, 8, 8, np.linspace(1, 0.5, 8))
    nan[0, 0] = np.nan
    path = write_safetensors(
        tmp_path / "m.safetensors",
        {"singular": low_rank(rng, 8, 8, 2), HOSTILE_NAME: with_spectrum(rng, 8, 8, geometric_spectrum(8, 1e3)), "nan": nan, "ok": with_spectrum(rng, 8, 8, np.linspace(1, 0.5, 8))},
    )
    result = run_check(path, load_config({"max_condition": 100.0}, pyproject=False))
    text = render_check_markdown(result)
    assert text.startswith("### weightlens check ❌ 3 violations in 3 tensors")
    out = GFM.render(text)
    (header,) = cells(out, "th")
    rows = cells(out, "td")
    assert header == ["tensor", "rule", "value", "limit"]
    assert [(html.unescape(r[0]), r[1]) for r in rows] == [(f"<code>{v.tensor}</code>", v.rule) for v in result.violations]
    assert "1 checks not evaluated" in text and "<script>" not in out

    from typer.testing import CliRunner

    from weightlens.cli import app

    cli = CliRunner().invoke(app, ["check", str(path), "--max-condition", "100", "--format", "markdown"])
    assert cli.exit_code == 1
    assert cli.stdout.replace(cli.stdout.splitlines()[0], "") == text.replace(text.splitlines()[0], "")  # the heading holds the time
